/** `--addr` of ferry serve (src/serve/address.ts). */

import { describe, expect, it } from "vitest";
import { isFerryError } from "../../src/errors.js";
import { isLoopback, parseListenAddress } from "../../src/serve/address.js";

describe("serve --addr", () => {
  it("reads HOST:PORT, [IPv6]:PORT and a port alone (loopback)", () => {
    expect(parseListenAddress("127.0.0.1:5000")).toEqual({ host: "127.0.0.1", port: 5000 });
    expect(parseListenAddress("[::1]:0")).toEqual({ host: "::1", port: 0 });
    expect(parseListenAddress("0.0.0.0:65535")).toEqual({ host: "0.0.0.0", port: 65535 });
    expect(parseListenAddress("serve.lan:8080")).toEqual({ host: "serve.lan", port: 8080 });
    expect(parseListenAddress("5001")).toEqual({ host: "127.0.0.1", port: 5001 });
  });

  it("refuses what is not an address, as a usage error", () => {
    for (const text of [
      "",
      "127.0.0.1",
      ":5000",
      "::1:5000",
      "[nope]:1",
      "h:65536",
      "h:-1",
      "bad host:1",
      "h\u001b:1",
    ]) {
      let thrown: unknown;
      try {
        parseListenAddress(text);
      } catch (error) {
        thrown = error;
      }
      expect(isFerryError(thrown) && thrown.code, JSON.stringify(text)).toBe("EUSAGE");
    }
  });

  it("knows which addresses are this machine only", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "localhost", "::ffff:127.0.0.1"]) {
      expect(isLoopback(host), host).toBe(true);
    }
    for (const host of ["0.0.0.0", "::", "10.0.0.1", "serve.lan", "::ffff:10.0.0.1"]) {
      expect(isLoopback(host), host).toBe(false);
    }
  });
});
