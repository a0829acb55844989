# Offline side, on a Windows container host: verify and load every refresh on the stick,
# then write the have-list back so the next nightly bundle is a delta.
param([Parameter(Mandatory = $true)][string]$Stick)
$ErrorActionPreference = "Stop"
$store = if ($env:FERRY_STORE) { $env:FERRY_STORE } else { "C:\ProgramData\ferry\store" }
$trust = if ($env:FERRY_TRUST_DIR) { $env:FERRY_TRUST_DIR } else { "C:\ProgramData\ferry\trust.d" }

Get-ChildItem -Path $Stick -Filter "refresh-*.zip.parts" | ForEach-Object {
  & ferry load $_.FullName --store $store --trust-dir $trust --json |
    Out-File -Encoding utf8 ($_.FullName -replace "\.zip\.parts$", ".loaded.json")
  if ($LASTEXITCODE -ne 0) { throw "loading $($_.Name) failed with exit code $LASTEXITCODE" }
}
& ferry have --store $store -o (Join-Path $Stick "have.json")
