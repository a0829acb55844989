import { copyFile, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isFerryError } from "../../../src/errors.js";
import type { RegistrySessionOptions } from "../../../src/transports/registry/session.js";
import { skopeoCopy } from "../../helpers/registry.js";
import { attemptSave, blobBodiesOver, tempDir, withTlsRegistry } from "./fixtures.js";

const SAMPLE = "oci:samples/oci:example.com/ferry/hello:1.0";
const SAMPLE_DIGEST = "sha256:42a722d200bdae5597edbd47736f4c16843f72f7d580e62a0433ac56fb8d5717";

describe.each(["raw", "node"] as const)("registries over TLS (blob bodies over %s)", (blobHttp) => {
  blobBodiesOver(blobHttp);
  // skopeo populates it: interoperability with the reference tooling.
  const tls = withTlsRegistry((registry) =>
    skopeoCopy(SAMPLE, `docker://${registry.host}/hello:1.0`),
  );

  async function attempt(options: Partial<RegistrySessionOptions>) {
    return attemptSave([`${tls.registry.host}/hello:1.0`], options);
  }

  it("an unknown CA fails with ETRUST and says how to trust it", async () => {
    const { error } = await attempt({});
    expect(isFerryError(error) && error.code).toBe("ETRUST");
    expect((error as Error).message).toContain(tls.registry.host);
    expect(isFerryError(error) && error.hint).toMatch(/--ca-cert FILE.*certs\.d/);
  });

  it("trusts a CA given as a flag", async () => {
    const { report, error } = await attempt({
      caCertificates: [await readFile(tls.caFile, "utf8")],
    });
    expect(error).toBeUndefined();
    expect(report?.images[0]?.digest).toBe(SAMPLE_DIGEST);
  });

  it("trusts a CA from certs.d/HOST/ca.crt", async () => {
    const certsDir = join(await tempDir(), "certs.d");
    await mkdir(join(certsDir, tls.registry.host), { recursive: true });
    await copyFile(tls.caFile, join(certsDir, tls.registry.host, "ca.crt"));
    const { error } = await attempt({ certsDir });
    expect(error).toBeUndefined();
  });

  it("--insecure-registry skips verification", async () => {
    const { error } = await attempt({ insecureRegistries: [tls.registry.host] });
    expect(error).toBeUndefined();
  });
});
