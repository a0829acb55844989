# Connected side, nightly, on Windows: save what the offline store lacks onto the USB stick.
#
# Task Scheduler (every night at 01:30, as an account that can read the images and the key):
#   schtasks /Create /TN "ferry nightly refresh" /SC DAILY /ST 01:30 /RU SYSTEM `
#     /TR "powershell -NoProfile -ExecutionPolicy Bypass -File C:\ferry\samples\refresh\nightly-refresh.ps1 -Stick E:\"
#
# The signing key lives where only Administrators and SYSTEM can read it (once, as
# Administrator; docs/windows.md, section Keys):
#   New-Item -ItemType Directory -Force C:\ProgramData\ferry\keys | Out-Null
#   icacls C:\ProgramData\ferry\keys /inheritance:r /grant:r '*S-1-5-32-544:(OI)(CI)F' '*S-1-5-18:(OI)(CI)F'
#   ferry keygen -o C:\ProgramData\ferry\keys\signing.key
#   icacls C:\ProgramData\ferry\keys\signing.key /inheritance:r /grant:r '*S-1-5-32-544:F' '*S-1-5-18:F'
# This script refuses to sign with a key anyone else may read.
param([Parameter(Mandatory = $true)][string]$Stick)
$ErrorActionPreference = "Stop"
$here = Split-Path -Parent $MyInvocation.MyCommand.Path
$key = if ($env:FERRY_SIGNING_KEY) { $env:FERRY_SIGNING_KEY } else { "C:\ProgramData\ferry\keys\signing.key" }
$stamp = (Get-Date).ToUniversalTime().ToString("yyyyMMddTHHmmssZ")
$bundle = Join-Path $Stick "refresh-$stamp.zip"

# Only Administrators (S-1-5-32-544) and SYSTEM (S-1-5-18) may read the private key.
function Assert-OnlyAdministratorsRead([string]$Path) {
  $allowed = @("S-1-5-32-544", "S-1-5-18")
  foreach ($rule in (Get-Acl -LiteralPath $Path).Access) {
    if ($rule.AccessControlType -ne "Allow") { continue }
    $sid = $rule.IdentityReference.Translate([System.Security.Principal.SecurityIdentifier]).Value
    if ($allowed -notcontains $sid) {
      throw "$Path can be read by $($rule.IdentityReference): keep the signing key where only Administrators and SYSTEM read it (docs/windows.md, section Keys)"
    }
  }
}

$ferryArgs = @("save", "-f", (Join-Path $here "images.yaml"), "-o", $bundle, "--split", "fat32", "--parity", "--json")
$have = Join-Path $Stick "have.json"
if (Test-Path $have) { $ferryArgs += @("--since", $have) }
if (Test-Path $key) {
  Assert-OnlyAdministratorsRead $key
  $ferryArgs += @("--sign", $key)
}

& ferry @ferryArgs | Out-File -Encoding utf8 (Join-Path $Stick "refresh-$stamp.summary.json")
if ($LASTEXITCODE -ne 0) { throw "ferry save failed with exit code $LASTEXITCODE" }
& ferry verify "$bundle.parts" --json | Out-File -Encoding utf8 (Join-Path $Stick "refresh-$stamp.verify.json")
if ($LASTEXITCODE -ne 0) { throw "the bundle on $Stick failed verification (exit $LASTEXITCODE)" }
