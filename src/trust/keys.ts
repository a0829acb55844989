import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { FerryError, fromSystemError } from "../errors.js";
import { decodeTextFile, hasSuffix } from "../types/text-file.js";

/** A public key ferry trusts, with the id signatures name it by. */
export interface TrustedKey {
  id: string;
  key: KeyObject;
  /** Where it was read from, for messages. */
  source: string;
}

/** A key's id: the first 16 bytes of the sha256 of its public key (SPKI DER), in hex. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("hex")
    .slice(0, 32);
}

/** A new Ed25519 key pair as PEM text (private: PKCS#8, public: SPKI). */
export function generateSigningKeyPair(): { privatePem: string; publicPem: string; id: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    id: keyIdOf(publicKey),
  };
}

/** A key file's PEM text: a BOM, UTF-16 (a PowerShell `>`) and CRLF line ends are fine. */
async function readKeyFile(file: string): Promise<string> {
  try {
    return decodeTextFile(await readFile(file));
  } catch (error) {
    throw fromSystemError(error, file, "reading key");
  }
}

const KEY_KINDS = {
  private: {
    parse: createPrivateKey,
    hint: "give the private key file `ferry keygen -o NAME` wrote (NAME, not NAME.pub)",
    use: "signs with Ed25519",
    wrongTypeOptions: { hint: "make one with `ferry keygen -o NAME`" },
  },
  public: {
    parse: createPublicKey,
    hint: "give the NAME.pub file `ferry keygen -o NAME` wrote",
    use: "verifies Ed25519 signatures",
    wrongTypeOptions: {},
  },
} as const;

/** The Ed25519 key of `kind` in the PEM file `file`: EUSAGE naming the file when it is not. */
async function readEd25519Key(file: string, kind: keyof typeof KEY_KINDS): Promise<KeyObject> {
  const expected = KEY_KINDS[kind];
  const text = await readKeyFile(file);
  let key: KeyObject;
  try {
    key = expected.parse(text);
  } catch {
    throw new FerryError("EUSAGE", `${file} is not a ${kind} key (PEM)`, { hint: expected.hint });
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new FerryError(
      "EUSAGE",
      `${file} is a ${key.asymmetricKeyType} key; ferry ${expected.use}`,
      expected.wrongTypeOptions,
    );
  }
  return key;
}

export async function loadPrivateKey(file: string): Promise<{ key: KeyObject; id: string }> {
  const key = await readEd25519Key(file, "private");
  return { key, id: keyIdOf(createPublicKey(key)) };
}

export async function loadPublicKey(file: string): Promise<TrustedKey> {
  const key = await readEd25519Key(file, "public");
  return { id: keyIdOf(key), key, source: file };
}

/** Every `*.pub` in a trust folder. */
export async function loadTrustDirectory(dir: string): Promise<TrustedKey[]> {
  let names: string[];
  try {
    // Any case: `SIGNER.PUB` copied from a FAT stick or a Windows share is a key too.
    names = (await readdir(dir)).filter((name) => hasSuffix(name, ".pub")).sort();
  } catch (error) {
    throw fromSystemError(error, dir, "reading trust folder");
  }
  if (names.length === 0) {
    throw new FerryError("ETRUST", `trust folder ${dir} holds no .pub keys`, {
      hint: "copy the signer's NAME.pub into it",
    });
  }
  return Promise.all(names.map((name) => loadPublicKey(path.join(dir, name))));
}
