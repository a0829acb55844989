# Connected side, nightly, on Windows: save what the offline store lacks onto the USB stick.
#
# Task Scheduler (every night at 01:30, as an account that can read the images and the key):
#   schtasks /Create /TN "ferry nightly refresh" /SC DAILY /ST 01:30 /RU SYSTEM `
#     /TR "powershell -NoProfile -ExecutionPolicy Bypass -File C:\ferry\samples\refresh\nightly-refresh.ps1 -Stick E:\"
param([Parameter(Mandatory = $true)][string]$Stick)
$ErrorActionPreference = "Stop"
$here = Split-Path -Parent $MyInvocation.MyCommand.Path
$key = if ($env:FERRY_SIGNING_KEY) { $env:FERRY_SIGNING_KEY } else { "C:\ProgramData\ferry\signing.key" }
$stamp = (Get-Date).ToUniversalTime().ToString("yyyyMMddTHHmmssZ")
$bundle = Join-Path $Stick "refresh-$stamp.zip"

$ferryArgs = @("save", "-f", (Join-Path $here "images.yaml"), "-o", $bundle, "--split", "fat32", "--parity", "--json")
$have = Join-Path $Stick "have.json"
if (Test-Path $have) { $ferryArgs += @("--since", $have) }
if (Test-Path $key) { $ferryArgs += @("--sign", $key) }

& ferry @ferryArgs | Out-File -Encoding utf8 (Join-Path $Stick "refresh-$stamp.summary.json")
if ($LASTEXITCODE -ne 0) { throw "ferry save failed with exit code $LASTEXITCODE" }
& ferry verify "$bundle.parts" --json | Out-File -Encoding utf8 (Join-Path $Stick "refresh-$stamp.verify.json")
if ($LASTEXITCODE -ne 0) { throw "the bundle on $Stick failed verification (exit $LASTEXITCODE)" }
