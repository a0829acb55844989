import { copyFile, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isFerryError } from "../../../src/errors.js";
import type { RegistrySessionOptions } from "../../../src/transports/registry/session.js";
import {
  makeCertificate,
  type RunningRegistry,
  skopeoCopy,
  startRegistry,
} from "../../helpers/registry.js";
import { attemptSave, blobBodiesOver, removeTempDirs, tempDir } from "./fixtures.js";

const SAMPLE = "oci:samples/oci:example.com/ferry/hello:1.0";
const SAMPLE_DIGEST = "sha256:42a722d200bdae5597edbd47736f4c16843f72f7d580e62a0433ac56fb8d5717";

describe.each(["raw", "node"] as const)("registries over TLS (blob bodies over %s)", (blobHttp) => {
  blobBodiesOver(blobHttp);
  let registry: RunningRegistry;
  let dir: string;
  let ca: string;

  beforeAll(async () => {
    dir = await tempDir();
    const cert = await makeCertificate(dir, "registry");
    ca = cert.certificate;
    registry = await startRegistry({ tls: cert });
    // skopeo populates it: interoperability with the reference tooling.
    await skopeoCopy(SAMPLE, `docker://${registry.host}/hello:1.0`);
  });

  afterAll(async () => {
    await registry?.stop();
    await removeTempDirs();
  });

  async function attempt(options: Partial<RegistrySessionOptions>) {
    return attemptSave([`${registry.host}/hello:1.0`], options);
  }

  it("an unknown CA fails with ETRUST and says how to trust it", async () => {
    const { error } = await attempt({});
    expect(isFerryError(error) && error.code).toBe("ETRUST");
    expect((error as Error).message).toContain(registry.host);
    expect(isFerryError(error) && error.hint).toMatch(/--ca-cert FILE.*certs\.d/);
  });

  it("trusts a CA given as a flag", async () => {
    const { report, error } = await attempt({ caCertificates: [await readFile(ca, "utf8")] });
    expect(error).toBeUndefined();
    expect(report?.images[0]?.digest).toBe(SAMPLE_DIGEST);
  });

  it("trusts a CA from certs.d/HOST/ca.crt", async () => {
    const certsDir = join(await tempDir(), "certs.d");
    await mkdir(join(certsDir, registry.host), { recursive: true });
    await copyFile(ca, join(certsDir, registry.host, "ca.crt"));
    const { error } = await attempt({ certsDir });
    expect(error).toBeUndefined();
  });

  it("--insecure-registry skips verification", async () => {
    const { error } = await attempt({ insecureRegistries: [registry.host] });
    expect(error).toBeUndefined();
  });
});
