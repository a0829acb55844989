import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateSigningKeyPair, loadPrivateKey, loadPublicKey } from "../../src/trust/keys.js";
import { tempDir } from "../helpers/cli.js";

describe("signing keys from files", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const file = (name: string, text: string): string => {
    const at = path.join(tmp.dir, name);
    writeFileSync(at, text);
    return at;
  };

  it("an Ed25519 pair loads, both halves with the same id", async () => {
    const pair = generateSigningKeyPair();
    const signer = await loadPrivateKey(file("k", pair.privatePem));
    const trusted = await loadPublicKey(file("k.pub", pair.publicPem));
    expect(signer.id).toBe(pair.id);
    expect(trusted).toMatchObject({ id: pair.id, source: path.join(tmp.dir, "k.pub") });
  });

  it("a file that is not a key of that kind: EUSAGE naming it, with what to give instead", async () => {
    const pair = generateSigningKeyPair();
    const pub = file("swapped.pub", pair.publicPem);
    await expect(loadPrivateKey(pub)).rejects.toMatchObject({
      code: "EUSAGE",
      message: `${pub} is not a private key (PEM)`,
      hint: "give the private key file `ferry keygen -o NAME` wrote (NAME, not NAME.pub)",
    });
    const junk = file("junk", "not a key");
    await expect(loadPublicKey(junk)).rejects.toMatchObject({
      code: "EUSAGE",
      message: `${junk} is not a public key (PEM)`,
      hint: "give the NAME.pub file `ferry keygen -o NAME` wrote",
    });
  });

  it("a key of another type: EUSAGE saying ferry uses Ed25519", async () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const privateFile = file(
      "rsa",
      rsa.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    );
    const publicFile = file(
      "rsa.pub",
      rsa.publicKey.export({ type: "spki", format: "pem" }) as string,
    );
    await expect(loadPrivateKey(privateFile)).rejects.toMatchObject({
      code: "EUSAGE",
      message: `${privateFile} is a rsa key; ferry signs with Ed25519`,
      hint: "make one with `ferry keygen -o NAME`",
    });
    await expect(loadPublicKey(publicFile)).rejects.toMatchObject({
      code: "EUSAGE",
      message: `${publicFile} is a rsa key; ferry verifies Ed25519 signatures`,
    });
  });
});
