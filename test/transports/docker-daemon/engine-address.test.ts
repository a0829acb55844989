/**
 * Where the Docker engine is, as the docker CLI reads it: the flag, else DOCKER_HOST, else the
 * platform's default; unix sockets, Windows named pipes in docker's spelling, tcp with TLS
 * from DOCKER_TLS_VERIFY / DOCKER_CERT_PATH. Every form on every OS (the function is pure).
 */

import { describe, expect, it } from "vitest";
import {
  engineAddress,
  namedPipePath,
} from "../../../src/transports/docker-daemon/engine-address.js";

describe("engineAddress", () => {
  it("defaults to the platform's socket or pipe, and DOCKER_HOST overrides it; the flag both", () => {
    expect(engineAddress(undefined, {}, "linux")).toEqual({
      kind: "unix",
      path: "/var/run/docker.sock",
      url: "unix:///var/run/docker.sock",
    });
    expect(engineAddress(undefined, {}, "win32")).toMatchObject({
      kind: "npipe",
      path: "\\\\.\\pipe\\docker_engine",
    });
    expect(
      engineAddress(undefined, { DOCKER_HOST: "unix:///run/user/1000/docker.sock" }, "linux"),
    ).toMatchObject({ kind: "unix", path: "/run/user/1000/docker.sock" });
    expect(
      engineAddress("unix:///tmp/d.sock", { DOCKER_HOST: "unix:///run/other.sock" }, "linux"),
    ).toMatchObject({ path: "/tmp/d.sock" });
  });

  it("reads named pipes in docker's spellings", () => {
    expect(namedPipePath("npipe:////./pipe/docker_engine")).toBe("\\\\.\\pipe\\docker_engine");
    expect(namedPipePath("npipe://./pipe/dockerDesktopLinuxEngine")).toBe(
      "\\\\.\\pipe\\dockerDesktopLinuxEngine",
    );
    expect(() => namedPipePath("npipe:////./nopipe")).toThrow(/not a named pipe address/);
  });

  it("takes tcp:// plain on 2375, or TLS on 2376 with the certificates of DOCKER_CERT_PATH", () => {
    expect(engineAddress("tcp://10.0.0.5", {}, "linux", "/root")).toEqual({
      kind: "tcp",
      host: "10.0.0.5",
      port: 2375,
      url: "tcp://10.0.0.5:2375",
    });
    expect(engineAddress("tcp://engine.lan", { DOCKER_TLS_VERIFY: "1" }, "linux", "/root")).toEqual(
      {
        kind: "tcp",
        host: "engine.lan",
        port: 2376,
        tls: { certPath: "/root/.docker" },
        url: "tcp://engine.lan:2376",
      },
    );
    expect(
      engineAddress(
        "tcp://[::1]:9999",
        { DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "C:\\certs" },
        "win32",
        "C:\\Users\\me",
      ),
    ).toMatchObject({ host: "::1", port: 9999, tls: { certPath: "C:\\certs" } });
  });

  it("refuses what it cannot reach as a usage error naming the address", () => {
    expect(() => engineAddress("ssh://me@host", {}, "linux")).toThrow(/ssh:\/\/ .*not supported/);
    expect(() => engineAddress("fd://", {}, "linux")).toThrow(
      /fd:\/\/: not a Docker engine address/,
    );
    expect(() => engineAddress("unix://", {}, "linux")).toThrow(/socket path is missing/);
    expect(() => engineAddress("tcp://h:1/path", {}, "linux")).toThrow(/tcp:\/\/HOST\[:PORT\]/);
  });
});
