import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { readErrorBody } from "../../../src/transports/registry/error-body.js";
import type { HttpResponse } from "../../../src/transports/registry/http.js";

function response(body: string | Buffer): HttpResponse {
  return {
    status: 400,
    headers: {},
    body: Readable.from([Buffer.from(body)]),
    url: new URL("http://127.0.0.1:1/v2/x/blobs/uploads/1"),
  };
}

describe("a registry's error document", () => {
  it("is read with its codes, messages and details", async () => {
    const body = await readErrorBody(
      response('{"errors":[{"code":"DIGEST_INVALID","message":"no match","detail":{"a":1}}]}'),
    );
    expect(body).toEqual({
      errors: [{ code: "DIGEST_INVALID", message: "no match", detail: { a: 1 } }],
    });
  });

  it("of the wrong shape keeps only what has the right one (a hostile registry cannot crash ferry)", async () => {
    expect(await readErrorBody(response('{"errors":5}'))).toEqual({ errors: [] });
    expect(await readErrorBody(response('{"errors":"DENIED"}'))).toEqual({ errors: [] });
    expect(
      await readErrorBody(response('{"errors":[null,7,{"code":9,"message":["x"]},{"code":"A"}]}')),
    ).toEqual({ errors: [{}, { code: "A" }] });
  });

  it("is undefined when the body is not a JSON object or is too large", async () => {
    expect(await readErrorBody(response("<html>bad gateway</html>"))).toBeUndefined();
    expect(await readErrorBody(response("null"))).toBeUndefined();
    expect(await readErrorBody(response(Buffer.alloc(65 * 1024, 0x20)))).toBeUndefined();
  });
});
