/**
 * Files that went through Windows: names Windows reserves for devices (refused for what ferry
 * writes), names in upper case (`.PARTS`, `.PUB`), and text files with a UTF-8 BOM, in UTF-16
 * (Windows PowerShell 5.1's `>`) or with CRLF line ends: have.json, `.parts`, SHA256SUMS,
 * images.yaml and keys are read all the same, while a signature is still checked over the
 * exact bytes of the file (a `.parts` re-encoded after signing is refused).
 */
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ferry, ferryJson, repoRoot, tempDir } from "../helpers/cli.js";

const samples = path.join(repoRoot, "samples", "oci");

/** The same text as a Windows tool might have written it. */
function windowsText(text: string, encoding: "utf8-bom" | "utf16le"): Buffer {
  const crlf = text.replace(/\r?\n/g, "\r\n");
  if (encoding === "utf8-bom")
    return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(crlf)]);
  return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(crlf, "utf16le")]);
}

function reencode(file: string, encoding: "utf8-bom" | "utf16le"): void {
  writeFileSync(file, windowsText(readFileSync(file, "utf8"), encoding));
}

describe("names Windows reserves for devices", () => {
  const tmp = tempDir("ferry-win-names-");
  afterAll(() => tmp.cleanup());

  it.each([
    ["save", "aux.zip", ["save", `oci:${samples}`, "-o"], "AUX"],
    ["save --split", "Con.zip", ["save", `oci:${samples}`, "--split", "fat32", "-o"], "CON"],
    ["have", "nul.json", ["have", "--store", "STORE", "-o"], "NUL"],
    ["load --docker-archive", "com1.tar", ["load", "BUNDLE", "--docker-archive"], "COM1"],
  ])("%s refuses %s as the output (EUSAGE), writing nothing", (_, name, args, device) => {
    const store = path.join(tmp.dir, "store");
    const bundle = path.join(tmp.dir, "ok.zip");
    if (!existsSync(bundle)) {
      expect(ferry(["save", `oci:${samples}`, "-o", bundle, "-q"]).code).toBe(0);
      expect(ferry(["load", bundle, "--store", store, "-q"]).code).toBe(0);
    }
    const out = path.join(tmp.dir, "out");
    mkdirSync(out, { recursive: true });
    const full = (args as string[]).map((a) =>
      a === "STORE" ? store : a === "BUNDLE" ? bundle : a,
    );
    const run = ferry([...full, path.join(out, name)]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `${name}: Windows reserves the name ${device} (with any extension) for a device, so it cannot be a file there`,
    );
    expect(run.stderr).toMatch(/hint: choose another name for the output/);
    expect(readdirSync(out)).toEqual([]);
  });
});

describe("upper-case suffixes", () => {
  const tmp = tempDir("ferry-win-case-");
  afterAll(() => tmp.cleanup());

  it("a split bundle named by NIGHTLY.ZIP.PARTS loads and verifies", () => {
    const bundle = path.join(tmp.dir, "nightly.zip");
    expect(ferry(["save", `oci:${samples}`, "-o", bundle, "--split", "4k", "-q"]).code).toBe(0);
    renameSync(`${bundle}.parts`, path.join(tmp.dir, "NIGHTLY.ZIP.PARTS"));
    const parts = path.join(tmp.dir, "NIGHTLY.ZIP.PARTS");
    expect(ferry(["verify", parts]).code).toBe(0);
    const load = ferry(["load", parts, "--store", path.join(tmp.dir, "store"), "-q"]);
    expect(load.stderr).toBe("");
    expect(load.code).toBe(0);
  });

  it("keys named SIGNER.PUB in a trust folder count, in UTF-16 with CRLF too", () => {
    const key = path.join(tmp.dir, "signer");
    expect(ferry(["keygen", "-o", key]).code).toBe(0);
    const trust = path.join(tmp.dir, "trust");
    mkdirSync(trust);
    copyFileSync(`${key}.pub`, path.join(trust, "SIGNER.PUB"));
    reencode(path.join(trust, "SIGNER.PUB"), "utf16le");
    reencode(key, "utf8-bom");
    const bundle = path.join(tmp.dir, "signed.zip");
    const save = ferry(["save", `oci:${samples}`, "-o", bundle, "--sign", key, "-q"]);
    expect(save.stderr).toBe("");
    expect(save.code).toBe(0);
    const load = ferry(["load", bundle, "--store", path.join(tmp.dir, "s2"), "--trust-dir", trust]);
    expect(load.stderr).toBe("");
    expect(load.code).toBe(0);
  });
});

describe("text files with a BOM, in UTF-16, with CRLF", () => {
  const tmp = tempDir("ferry-win-text-");
  afterAll(() => tmp.cleanup());

  it.each(["utf8-bom", "utf16le"] as const)("have.json (%s) works as --since", (encoding) => {
    const store = path.join(tmp.dir, `store-${encoding}`);
    const base = path.join(tmp.dir, `base-${encoding}.zip`);
    expect(
      ferry(["save", `oci:${samples}:example.com/ferry/hello:1.0`, "-o", base, "-q"]).code,
    ).toBe(0);
    expect(ferry(["load", base, "--store", store, "-q"]).code).toBe(0);
    const have = path.join(tmp.dir, `have-${encoding}.json`);
    expect(ferry(["have", "--store", store, "-o", have]).code).toBe(0);
    reencode(have, encoding);
    const delta = ferryJson<{ requires: number }>([
      "save",
      `oci:${samples}`,
      "-o",
      path.join(tmp.dir, `delta-${encoding}.zip`),
      "--since",
      have,
    ]);
    expect(delta.stderr).toBe("");
    expect(delta.code).toBe(0);
    expect(delta.json.requires).toBeGreaterThan(0);
  });

  it("images.yaml in UTF-16 with CRLF (Windows PowerShell 5.1's `>`)", () => {
    const list = path.join(tmp.dir, "refresh");
    mkdirSync(list);
    const yaml = readFileSync(path.join(repoRoot, "samples", "refresh", "images.yaml"), "utf8")
      .replaceAll("../oci", samples)
      .replaceAll("../docker-save.tar", path.join(repoRoot, "samples", "docker-save.tar"));
    writeFileSync(path.join(list, "images.yaml"), windowsText(yaml, "utf16le"));
    const save = ferry([
      "save",
      "-f",
      path.join(list, "images.yaml"),
      "-o",
      path.join(tmp.dir, "r.zip"),
      "-q",
    ]);
    expect(save.stderr).toBe("");
    expect(save.code).toBe(0);
  });

  it("an unsigned .parts with a BOM and CRLF loads; a signed one re-encoded is refused", () => {
    const plain = path.join(tmp.dir, "plain.zip");
    expect(ferry(["save", `oci:${samples}`, "-o", plain, "--split", "4k", "-q"]).code).toBe(0);
    reencode(`${plain}.parts`, "utf8-bom");
    expect(
      ferry(["load", `${plain}.parts`, "--store", path.join(tmp.dir, "s-parts"), "-q"]).code,
    ).toBe(0);

    const key = path.join(tmp.dir, "k");
    expect(ferry(["keygen", "-o", key]).code).toBe(0);
    const signed = path.join(tmp.dir, "signed.zip");
    const save = ["save", `oci:${samples}`, "-o", signed, "--split", "4k", "--sign", key, "-q"];
    expect(ferry(save).code).toBe(0);
    reencode(`${signed}.parts`, "utf8-bom");
    const load = ferry([
      "load",
      `${signed}.parts`,
      "--store",
      path.join(tmp.dir, "s-signed"),
      "--trust",
      `${key}.pub`,
    ]);
    expect(load.code).toBe(6);
    expect(load.stderr).toMatch(/ETRUST/);
  });

  it("SHA256SUMS with a BOM, CRLF and upper-case hex verifies", () => {
    const bundle = path.join(tmp.dir, "sums.zip");
    expect(ferry(["save", `oci:${samples}`, "-o", bundle, "-q"]).code).toBe(0);
    const edited = path.join(tmp.dir, "sums-windows.zip");
    // Rewritten by Python's zipfile (stored entries, same order), SHA256SUMS as Notepad saves.
    const script = `
import sys, zipfile
src = zipfile.ZipFile(sys.argv[1])
with zipfile.ZipFile(sys.argv[2], "w") as dst:
    for info in src.infolist():
        data = src.read(info.filename)
        if info.filename == "SHA256SUMS":
            lines = data.decode().splitlines()
            data = ("\\ufeff" + "\\r\\n".join(l[:64].upper() + l[64:] for l in lines) + "\\r\\n").encode()
        out = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
        out.external_attr = 0o100644 << 16
        dst.writestr(out, data, compress_type=zipfile.ZIP_STORED)
`;
    const python = spawnSync("python3", ["-c", script, bundle, edited], { encoding: "utf8" });
    expect(python.status, python.stderr).toBe(0);
    const verify = ferry(["verify", edited]);
    expect(verify.stdout + verify.stderr).not.toMatch(/SHA256SUMS/);
    expect(verify.code).toBe(0);
  });
});
