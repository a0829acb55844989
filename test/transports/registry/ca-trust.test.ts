/**
 * Where ferry finds the CAs it trusts beyond Node's defaults: --ca-cert and NODE_EXTRA_CA_CERTS
 * (added to the defaults, never replacing them) and docker's certs.d folders per OS, all of them
 * read (the user's `~/.docker/certs.d` and the system's).
 */

import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isFerryError } from "../../../src/errors.js";
import {
  clientOptionsFromFlags,
  readNodeExtraCaCertificates,
} from "../../../src/ops/registry-options.js";
import { trustedCas } from "../../../src/transports/registry/ca-bundle.js";
import {
  certsDirNames,
  defaultCertsDirs,
  tlsSettingsFor,
} from "../../../src/transports/registry/endpoint.js";
import { makeCertificate, skopeoCopy } from "../../helpers/registry.js";
import { removeTempDirs, tempDir, withTlsRegistry } from "./fixtures.js";

describe("certs.d folders per OS", () => {
  it("Linux and macOS: ~/.docker/certs.d, then /etc/docker/certs.d", () => {
    expect(defaultCertsDirs({ HOME: "/home/ana" }, "linux")).toEqual([
      "/home/ana/.docker/certs.d",
      "/etc/docker/certs.d",
    ]);
    expect(defaultCertsDirs({ HOME: "/Users/ana" }, "darwin")[0]).toBe(
      "/Users/ana/.docker/certs.d",
    );
  });

  it("Windows: %USERPROFILE%\\.docker\\certs.d, then %ProgramData%\\docker\\certs.d", () => {
    expect(
      defaultCertsDirs({ USERPROFILE: "C:\\Users\\ana", ProgramData: "D:\\ProgramData" }, "win32"),
    ).toEqual(["C:\\Users\\ana\\.docker\\certs.d", "D:\\ProgramData\\docker\\certs.d"]);
  });

  it("a host:port folder is `host:port`, on Windows docker's `hostport` (and `host_port`)", () => {
    expect(certsDirNames("reg.lan:5000", "linux")).toEqual(["reg.lan:5000"]);
    expect(certsDirNames("reg.lan:5000", "win32")).toEqual(["reg.lan5000", "reg.lan_5000"]);
    expect(certsDirNames("reg.lan", "win32")).toEqual(["reg.lan"]);
  });
});

describe("extra CAs are added to Node's defaults", () => {
  it("trustedCas: the defaults plus the extra ones; nothing extra: Node's store untouched", () => {
    expect(trustedCas([])).toBeUndefined();
    expect(trustedCas(undefined)).toBeUndefined();
    const list = trustedCas(["EXTRA-PEM"]) ?? [];
    expect(list.at(-1)).toBe("EXTRA-PEM");
    expect(list.slice(0, rootCertificates.length)).toEqual([...rootCertificates]);
  });

  describe("files", () => {
    let dir: string;
    let pem: string;
    beforeAll(async () => {
      dir = await tempDir();
      pem = await readFile((await makeCertificate(dir, "corp")).certificate, "utf8");
    });
    afterAll(removeTempDirs);

    it("NODE_EXTRA_CA_CERTS is read; a missing file or a non-PEM one is skipped", async () => {
      await writeFile(join(dir, "junk.txt"), "not a certificate\n");
      expect(
        await readNodeExtraCaCertificates({ NODE_EXTRA_CA_CERTS: join(dir, "corp.crt") }),
      ).toEqual([pem]);
      expect(await readNodeExtraCaCertificates({ NODE_EXTRA_CA_CERTS: join(dir, "none") })).toEqual(
        [],
      );
      expect(
        await readNodeExtraCaCertificates({ NODE_EXTRA_CA_CERTS: join(dir, "junk.txt") }),
      ).toEqual([]);
      expect(await readNodeExtraCaCertificates({})).toEqual([]);
    });

    it("the flags' CA list: NODE_EXTRA_CA_CERTS's, then --ca-cert's; an unreadable --ca-cert is named", async () => {
      await copyFile(join(dir, "corp.crt"), join(dir, "flag.crt"));
      const options = await clientOptionsFromFlags(
        { caCert: [join(dir, "flag.crt")], authfile: join(dir, "auth.json") },
        { env: { NODE_EXTRA_CA_CERTS: join(dir, "corp.crt"), HOME: dir } },
      );
      expect(options.caCertificates).toEqual([pem, pem]);
      const error = await clientOptionsFromFlags(
        { caCert: [join(dir, "missing.crt")], authfile: join(dir, "auth.json") },
        { env: { HOME: dir } },
      ).catch((e: unknown) => e);
      expect(isFerryError(error) && error.message).toContain("missing.crt");
    });
  });
});

describe("certs.d: every folder is read", () => {
  const tls = withTlsRegistry();

  it("CAs from the user's and the system's folder; the client certificate of the first one", async () => {
    const user = join(tls.dir, "user-certs.d");
    const system = join(tls.dir, "system-certs.d");
    for (const [root, name] of [
      [user, "user"],
      [system, "system"],
    ] as const) {
      await mkdir(join(root, "reg.lan:5000"), { recursive: true });
      await writeFile(join(root, "reg.lan:5000", `${name}-ca.crt`), `${name} CA`);
      await writeFile(join(root, "reg.lan:5000", "client.cert"), `${name} cert`);
      await writeFile(join(root, "reg.lan:5000", "client.key"), `${name} key`);
    }
    const settings = await tlsSettingsFor("reg.lan:5000", {
      insecureRegistries: [],
      caCertificates: ["flag CA"],
      certsDirs: [user, join(tls.dir, "missing"), system],
    });
    expect(settings.ca).toEqual(["flag CA", "user CA", "system CA"]);
    expect(settings.cert).toBe("user cert");
    expect(settings.key).toBe("user key");
    expect(settings.verify).toBe(true);
  });

  it("a registry whose CA is only in the second folder is trusted (a real TLS handshake)", async () => {
    const { testSession, saveRefs } = await import("./fixtures.js");
    await skopeoCopy(
      "oci:samples/oci:example.com/ferry/hello:1.0",
      `docker://${tls.registry.host}/hello:1.0`,
    );
    const system = join(tls.dir, "second");
    await mkdir(join(system, tls.registry.host), { recursive: true });
    await copyFile(tls.caFile, join(system, tls.registry.host, "ca.crt"));
    const work = await tempDir();
    const session = await testSession(join(work, "cache"), {
      certsDirs: [join(work, "empty-user-certs.d"), system],
    });
    try {
      const { report } = await saveRefs(session, {
        refs: [`${tls.registry.host}/hello:1.0`],
        output: join(work, "out.zip"),
      });
      expect(report.images).toHaveLength(1);
    } finally {
      await session.close();
    }
  });
});
