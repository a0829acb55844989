/**
 * ferry serve at the HTTP level, against a store filled by `ferry save` + `ferry load`: the
 * endpoints of the distribution API (status codes, headers, HEAD, Range, pagination, names),
 * OCI 1.1 referrers, and every way a client is refused (writes, bad names, digests, tags).
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../helpers/cli.js";
import { NAMES, type ServedStore, servedStore } from "./fixture.js";
import { type Answer, bodyJson, errorCode, request, sha256 } from "./http-client.js";
import { type ServeProcess, startServe } from "./serve-process.js";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

describe("ferry serve: the distribution API over the store", () => {
  const tmp = tempDir("ferry-serve-http-");
  let fixture: ServedStore;
  let serve: ServeProcess;
  const get = (path: string, options: Parameters<typeof request>[2] = {}): Promise<Answer> =>
    request(serve.url, path, options);

  beforeAll(async () => {
    fixture = await servedStore(tmp.dir);
    serve = await startServe(fixture.store);
  }, 120_000);
  afterAll(async () => {
    await serve?.stop();
    tmp.cleanup();
  });

  it("answers /v2/ with 200, {} and the API version header", async () => {
    for (const path of ["/v2/", "/v2"]) {
      const answer = await get(path);
      expect(answer.status).toBe(200);
      expect(bodyJson(answer)).toEqual({});
      expect(answer.headers["docker-distribution-api-version"]).toBe("registry/2.0");
    }
  });

  it("serves a manifest by tag under every name of its repository, digest and type exact", async () => {
    const digest = fixture.digests[NAMES.alpine];
    expect(digest).toBe(fixture.alpine.digest);
    for (const name of ["library/alpine", "alpine", "docker.io/library/alpine"]) {
      const answer = await get(`/v2/${name}/manifests/3.19`);
      expect(answer.status, name).toBe(200);
      expect(answer.headers["content-type"]).toBe(OCI_MANIFEST);
      expect(answer.headers["docker-content-digest"]).toBe(digest);
      expect(sha256(answer.body)).toBe(digest);
      expect(Number(answer.headers["content-length"])).toBe(answer.body.length);
    }
  });

  it("answers HEAD on a manifest with the same headers and no body", async () => {
    const got = await get("/v2/example.com/team/app/manifests/1.0");
    const head = await get("/v2/example.com/team/app/manifests/1.0", { method: "HEAD" });
    expect(got.headers["content-type"]).toBe(OCI_INDEX);
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    for (const header of ["content-type", "docker-content-digest", "content-length", "etag"]) {
      expect(head.headers[header], header).toBe(got.headers[header]);
    }
    expect(got.headers["docker-content-digest"]).toBe(fixture.digests[NAMES.app]);
  });

  it("serves the manifests an index names by digest, only in that repository", async () => {
    for (const child of fixture.appChildren) {
      const answer = await get(`/v2/example.com/team/app/manifests/${child.digest}`);
      expect(answer.status).toBe(200);
      expect(sha256(answer.body)).toBe(child.digest);
      expect(answer.headers["content-type"]).toBe(OCI_MANIFEST);
    }
    const elsewhere = await get(`/v2/library/alpine/manifests/${fixture.appChildren[0]?.digest}`);
    expect(elsewhere.status).toBe(404);
    expect(errorCode(elsewhere)).toBe("MANIFEST_UNKNOWN");
    const unknownTag = await get("/v2/library/alpine/manifests/9.99");
    expect(unknownTag.status).toBe(404);
    expect(errorCode(unknownTag)).toBe("MANIFEST_UNKNOWN");
    expect(unknownTag.headers["content-type"]).toBe("application/json");
  });

  it("serves Docker schema 2 lists and manifests with Docker's media types", async () => {
    const list = await get("/v2/example.com/team/legacy/manifests/2");
    expect(list.status).toBe(200);
    expect(list.headers["content-type"]).toBe(
      "application/vnd.docker.distribution.manifest.list.v2+json",
    );
    expect(list.headers["docker-content-digest"]).toBe(fixture.digests[NAMES.legacy]);
    expect(sha256(list.body)).toBe(fixture.dockerList.digest);
    const child = await get(`/v2/example.com/team/legacy/manifests/${fixture.dockerChild.digest}`, {
      method: "HEAD",
    });
    expect(child.status).toBe(200);
    expect(child.headers["content-type"]).toBe(
      "application/vnd.docker.distribution.manifest.v2+json",
    );
    expect(child.headers["docker-content-digest"]).toBe(fixture.dockerChild.digest);
  });

  it("maps names: the path alone for other registries, NAME_UNKNOWN for the rest", async () => {
    const nano = await get("/v2/windows/nanoserver/manifests/ltsc2022");
    expect(nano.headers["docker-content-digest"]).toBe(fixture.digests[NAMES.nanoserver]);
    const full = await get("/v2/mcr.microsoft.com/windows/nanoserver/manifests/ltsc2022");
    expect(full.headers["docker-content-digest"]).toBe(fixture.digests[NAMES.nanoserver]);
    const tools = await get("/v2/tools/manifests/1");
    expect(tools.headers["docker-content-digest"]).toBe(fixture.digests[NAMES.tools]);
    const unknown = await get("/v2/library/busybox/manifests/latest");
    expect(unknown.status).toBe(404);
    expect(errorCode(unknown)).toBe("NAME_UNKNOWN");
  });

  it("lists the catalog, one name per stored repository, with n/last pagination", async () => {
    const all = bodyJson<{ repositories: string[] }>(await get("/v2/_catalog"));
    expect(all.repositories).toEqual([
      "docker.io/library/alpine",
      "example.com/big/blob",
      "example.com/team/app",
      "example.com/team/legacy",
      "mcr.microsoft.com/windows/nanoserver",
      "tools",
    ]);
    const first = await get("/v2/_catalog?n=2");
    expect(bodyJson<{ repositories: string[] }>(first).repositories).toEqual(
      all.repositories.slice(0, 2),
    );
    const link = /^<([^>]+)>; rel="next"$/.exec(String(first.headers.link));
    expect(link?.[1]).toBe("/v2/_catalog?last=example.com%2Fbig%2Fblob&n=2");
    const second = await get(link?.[1] as string);
    expect(bodyJson<{ repositories: string[] }>(second).repositories).toEqual(
      all.repositories.slice(2, 4),
    );
    const last = await get("/v2/_catalog?n=2&last=mcr.microsoft.com%2Fwindows%2Fnanoserver");
    expect(bodyJson<{ repositories: string[] }>(last).repositories).toEqual(["tools"]);
    expect(last.headers.link).toBeUndefined();
  });

  it("lists tags sorted, with n/last pagination and a Link to the next page", async () => {
    const all = bodyJson<{ name: string; tags: string[] }>(await get("/v2/alpine/tags/list"));
    expect(all).toEqual({ name: "alpine", tags: ["3.19", "latest", "sbom", "sbom-signature"] });
    const page = await get("/v2/alpine/tags/list?n=3");
    expect(bodyJson<{ tags: string[] }>(page).tags).toEqual(["3.19", "latest", "sbom"]);
    expect(page.headers.link).toBe('</v2/alpine/tags/list?last=sbom&n=3>; rel="next"');
    const rest = await get("/v2/alpine/tags/list?n=3&last=sbom");
    expect(bodyJson<{ tags: string[] }>(rest).tags).toEqual(["sbom-signature"]);
    expect(rest.headers.link).toBeUndefined();
    expect(bodyJson<{ tags: string[] }>(await get("/v2/alpine/tags/list?n=0")).tags).toEqual([]);
    for (const n of ["-1", "x", "1e3"]) {
      const bad = await get(`/v2/alpine/tags/list?n=${n}`);
      expect(bad.status, n).toBe(400);
      expect(errorCode(bad)).toBe("PAGINATION_NUMBER_INVALID");
    }
  });

  it("serves blobs whole, by HEAD, and by Range", async () => {
    const layer = fixture.bigLayer;
    const path = `/v2/example.com/big/blob/blobs/${layer}`;
    const whole = await get(path);
    expect(whole.status).toBe(200);
    expect(sha256(whole.body)).toBe(layer);
    expect(whole.headers["docker-content-digest"]).toBe(layer);
    expect(whole.headers["accept-ranges"]).toBe("bytes");
    expect(whole.headers["content-type"]).toBe("application/octet-stream");
    const size = whole.body.length;

    const head = await get(path, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(Number(head.headers["content-length"])).toBe(size);
    expect(head.body.length).toBe(0);

    const cases: Array<[string, number, number]> = [
      ["bytes=0-9", 0, 9],
      ["bytes=1000-", 1000, size - 1],
      ["bytes=-5", size - 5, size - 1],
      [`bytes=${size - 3}-${size + 100}`, size - 3, size - 1],
    ];
    for (const [range, start, end] of cases) {
      const part = await get(path, { headers: { Range: range } });
      expect(part.status, range).toBe(206);
      expect(part.headers["content-range"]).toBe(`bytes ${start}-${end}/${size}`);
      expect(part.body.equals(whole.body.subarray(start, end + 1)), range).toBe(true);
    }
    for (const range of [`bytes=${size}-`, "bytes=5-2", "bytes=-0", "bytes=x-y"]) {
      const refused = await get(path, { headers: { Range: range } });
      expect(refused.status, range).toBe(416);
      expect(refused.headers["content-range"]).toBe(`bytes */${size}`);
      expect(errorCode(refused)).toBe("RANGE_INVALID");
    }
    // Several ranges, another unit, or an If-Range that is not the blob's: the whole blob.
    const wholeAnyway: Array<Record<string, string>> = [
      { Range: "bytes=0-1,5-6" },
      { Range: "items=0-1" },
      { Range: "bytes=0-1", "If-Range": '"sha256:0000"' },
    ];
    for (const headers of wholeAnyway) {
      const answer = await get(path, { headers });
      expect(answer.status).toBe(200);
      expect(answer.body.length).toBe(size);
    }
    const matching = await get(path, { headers: { Range: "bytes=0-1", "If-Range": `"${layer}"` } });
    expect(matching.status).toBe(206);
  });

  it("answers BLOB_UNKNOWN and NAME_UNKNOWN for blobs it does not hold", async () => {
    const unknown = await get(`/v2/alpine/blobs/sha256:${"0".repeat(64)}`);
    expect(unknown.status).toBe(404);
    expect(errorCode(unknown)).toBe("BLOB_UNKNOWN");
    expect(unknown.headers["content-type"]).toBe("application/json");
    expect(bodyJson(unknown)).toEqual({
      errors: [
        {
          code: "BLOB_UNKNOWN",
          message: "blob unknown to registry",
          detail: { digest: `sha256:${"0".repeat(64)}` },
        },
      ],
    });
    const head = await get(`/v2/alpine/blobs/sha256:${"0".repeat(64)}`, { method: "HEAD" });
    expect(head.status).toBe(404);
    expect(head.body.length).toBe(0);
    const headManifest = await get("/v2/alpine/manifests/9.99", { method: "HEAD" });
    expect(headManifest.status).toBe(404);
    expect(headManifest.body.length).toBe(0);
    const otherName = await get(`/v2/nobody/blobs/${fixture.alpine.blobs[0]}`);
    expect(otherName.status).toBe(404);
    expect(errorCode(otherName)).toBe("NAME_UNKNOWN");
  });

  it("serves OCI 1.1 referrers built from the manifests with a subject", async () => {
    const answer = await get(`/v2/library/alpine/referrers/${fixture.alpine.digest}`);
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toBe(OCI_INDEX);
    const index = bodyJson<{ mediaType: string; manifests: Array<Record<string, unknown>> }>(
      answer,
    );
    expect(index.mediaType).toBe(OCI_INDEX);
    expect(index.manifests).toEqual([
      {
        mediaType: OCI_MANIFEST,
        digest: fixture.sbom.digest,
        size: fixture.sbom.size,
        artifactType: "application/spdx+json",
        annotations: { "org.opencontainers.image.created": "2026-01-01T00:00:00Z" },
      },
    ]);
    // A signature on the SBOM is the SBOM's referrer, fetched by digest from the same name.
    const ofSbom = bodyJson<{ manifests: Array<{ digest: string }> }>(
      await get(`/v2/library/alpine/referrers/${fixture.sbom.digest}`),
    );
    expect(ofSbom.manifests.map((m) => m.digest)).toEqual([fixture.signature.digest]);
    const signature = await get(`/v2/library/alpine/manifests/${fixture.signature.digest}`);
    expect(sha256(signature.body)).toBe(fixture.signature.digest);

    const filtered = await get(
      `/v2/library/alpine/referrers/${fixture.alpine.digest}?artifactType=${encodeURIComponent("application/vnd.example")}`,
    );
    expect(filtered.headers["oci-filters-applied"]).toBe("artifactType");
    expect(bodyJson<{ manifests: unknown[] }>(filtered).manifests).toEqual([]);
    const none = await get(`/v2/example.com/team/app/referrers/${fixture.appIndex.digest}`);
    expect(none.status).toBe(200);
    expect(bodyJson<{ manifests: unknown[] }>(none).manifests).toEqual([]);
  });

  it("refuses every write with 405 UNSUPPORTED", async () => {
    const writes: Array<[string, string]> = [
      ["PUT", "/v2/alpine/manifests/evil"],
      ["DELETE", `/v2/alpine/manifests/${fixture.alpine.digest}`],
      ["POST", "/v2/alpine/blobs/uploads/"],
      ["PATCH", "/v2/alpine/blobs/uploads/1234"],
      ["GET", "/v2/alpine/blobs/uploads/1234"],
      ["DELETE", `/v2/alpine/blobs/${fixture.alpine.blobs[0]}`],
      ["OPTIONS", "/v2/"],
    ];
    for (const [method, path] of writes) {
      const answer = await get(path, { method });
      expect(answer.status, `${method} ${path}`).toBe(405);
      expect(answer.headers.allow).toBe("GET, HEAD");
      expect(errorCode(answer)).toBe("UNSUPPORTED");
    }
    const after = await get("/v2/alpine/tags/list");
    expect(bodyJson<{ tags: string[] }>(after).tags).not.toContain("evil");
  });

  it("checks every path part: no traversal, names, digests and tags by their grammar", async () => {
    const cases: Array<[string, number, string]> = [
      ["/v2/../../etc/passwd", 404, "NOT_FOUND"],
      ["/etc/passwd", 404, "NOT_FOUND"],
      ["/v2/alpine/../../../index.json/manifests/3.19", 400, "NAME_INVALID"],
      ["/v2/alpine%2f..%2f..%2findex.json/manifests/3.19", 400, "NAME_INVALID"],
      ["/v2/Library/Alpine/manifests/3.19", 400, "NAME_INVALID"],
      [`/v2/${"a".repeat(256)}/manifests/1`, 400, "NAME_INVALID"],
      ["/v2/alpine/manifests/-bad", 400, "TAG_INVALID"],
      ["/v2/alpine/manifests/a%2f..%2f..", 400, "TAG_INVALID"],
      ["/v2/alpine/blobs/sha256:..%2f..%2findex.json", 400, "DIGEST_INVALID"],
      ["/v2/alpine/blobs/sha256:ABC", 400, "DIGEST_INVALID"],
      [`/v2/alpine/blobs/sha512:${"a".repeat(128)}`, 400, "DIGEST_INVALID"],
      ["/v2/alpine/referrers/latest", 400, "DIGEST_INVALID"],
      ["/v2/alpine/tags/other", 404, "NOT_FOUND"],
    ];
    for (const [path, status, code] of cases) {
      const answer = await get(path);
      expect(answer.status, path).toBe(status);
      expect(errorCode(answer), path).toBe(code);
    }
  });

  it("logs every request as a JSON line, the path as sent", async () => {
    await get("/v2/alpine/manifests/3.19?probe=%1b");
    await get("/v2/alpine/manifests/evil", { method: "PUT" });
    const logged = await serve.waitForEvent(
      (e) => e.path === "/v2/alpine/manifests/3.19?probe=%1b",
    );
    expect(logged).toMatchObject({ event: "request", method: "GET", status: 200 });
    expect(logged.remote).toBe("127.0.0.1");
    const refused = await serve.waitForEvent((e) => e.method === "PUT");
    expect(refused).toMatchObject({ status: 405, error: "UNSUPPORTED" });
  });
});
