/**
 * trust/key-files.ts: a new private key is readable by its owner alone. On Linux by its mode
 * (0600 whatever the umask); on Windows through icacls, run with the current user's name, here
 * through the injected platform, runner and user (no Windows machine): the exact command, what
 * keygen says, and a failing icacls leaving no private key behind.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type KeyFileHost, writeKeyPair } from "../../src/trust/key-files.js";
import { generateSigningKeyPair } from "../../src/trust/keys.js";
import { tempDir } from "../helpers/cli.js";

function windowsHost(answer: { code: number | null; output: string }) {
  const calls: Array<[string, string[]]> = [];
  const host: KeyFileHost = {
    platform: "win32",
    run: async (command, args) => {
      calls.push([command, args]);
      return answer;
    },
    user: () => "CORP\\alice",
  };
  return { host, calls };
}

describe("writing a key pair", () => {
  const tmp = tempDir("ferry-keys-");
  afterAll(() => tmp.cleanup());

  it("on Linux: the private key 0600 and the public key 0644, whatever the umask", async () => {
    const file = path.join(tmp.dir, "linux");
    const previous = process.umask(0);
    try {
      const { protection } = await writeKeyPair(file, `${file}.pub`, generateSigningKeyPair());
      expect(protection).toBe("mode 0600");
    } finally {
      process.umask(previous);
    }
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(`${file}.pub`).mode & 0o777).toBe(0o644);
  });

  it("on Windows: icacls drops the inherited permissions and grants the current user alone", async () => {
    const file = path.join(tmp.dir, "windows");
    const { host, calls } = windowsHost({ code: 0, output: "processed file: ..." });
    const pair = generateSigningKeyPair();
    const { protection } = await writeKeyPair(file, `${file}.pub`, pair, host);
    expect(calls).toEqual([["icacls", [file, "/inheritance:r", "/grant:r", "CORP\\alice:F"]]]);
    expect(protection).toBe("readable by CORP\\alice alone (icacls)");
    expect(readFileSync(file, "utf8")).toBe(pair.privatePem);
  });

  it("on Windows, when icacls fails: EIO saying where to keep keys, and no private key left", async () => {
    const file = path.join(tmp.dir, "refused");
    const { host } = windowsHost({ code: 5, output: "Access is denied." });
    await expect(
      writeKeyPair(file, `${file}.pub`, generateSigningKeyPair(), host),
    ).rejects.toMatchObject({
      code: "EIO",
      message: expect.stringMatching(
        /could not make the private key readable by CORP\\alice alone \(icacls exited 5: Access is denied\.\); the key was removed/,
      ),
      hint: expect.stringMatching(/docs\/windows\.md, section Keys/),
    });
    expect(existsSync(file)).toBe(false);
  });

  it("refuses a device name (CON) and never overwrites a key", async () => {
    await expect(
      writeKeyPair(
        path.join(tmp.dir, "CON"),
        path.join(tmp.dir, "CON.pub"),
        generateSigningKeyPair(),
      ),
    ).rejects.toMatchObject({ code: "EUSAGE" });
    const file = path.join(tmp.dir, "twice");
    await writeKeyPair(file, `${file}.pub`, generateSigningKeyPair());
    await expect(
      writeKeyPair(file, `${file}.2.pub`, generateSigningKeyPair()),
    ).rejects.toMatchObject({
      code: "EUSAGE",
      message: expect.stringMatching(/already exists/),
    });
  });
});
