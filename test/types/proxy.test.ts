import { describe, expect, it } from "vitest";
import { isFerryError } from "../../src/errors.js";
import {
  bypassesProxy,
  parseNoProxy,
  parseProxyUrl,
  proxyConfigFrom,
  proxyFor,
} from "../../src/types/proxy.js";

const bypass = (noProxy: string, url: string): boolean =>
  bypassesProxy(parseNoProxy(noProxy), new URL(url));

describe("NO_PROXY as curl and Go read it", () => {
  it.each([
    // a name: itself and every name under it, never a longer name that merely ends alike
    ["example.com", "https://example.com/v2/", true],
    ["example.com", "https://registry.example.com/v2/", true],
    ["example.com", "https://badexample.com/v2/", false],
    // .domain and *.domain: the same
    [".example.com", "https://a.b.example.com/", true],
    ["*.example.com", "https://registry.example.com/", true],
    ["*.example.com", "https://example.com/", true],
    // case, trailing dots, separators (commas and white space)
    ["EXAMPLE.com.", "https://Registry.Example.COM./", true],
    ["  foo.lan,\texample.com  bar.lan", "https://example.com/", true],
    // *: everything
    ["*", "https://anything.example/", true],
    // ports: only that port (the scheme's default when the URL names none)
    ["example.com:5000", "https://example.com:5000/", true],
    ["example.com:5000", "https://example.com/", false],
    ["example.com:443", "https://example.com/", true],
    ["example.com:80", "http://example.com/", true],
    // IP addresses and CIDR ranges match IP-literal hosts only
    ["10.1.2.3", "https://10.1.2.3:5000/", true],
    ["10.1.2.3", "https://10.1.2.4/", false],
    ["10.0.0.0/8", "https://10.200.3.4/", true],
    ["10.0.0.0/8", "https://11.0.0.1/", false],
    ["192.168.1.0/24", "http://192.168.1.77/", true],
    ["10.0.0.0/8", "https://ten.example/", false],
    ["10.1.2.3:5000", "https://10.1.2.3:5000/", true],
    ["10.1.2.3:5000", "https://10.1.2.3:6000/", false],
    // IPv6: bare, bracketed, with a port, ranges; spelled differently, still the same address
    ["::1", "https://[::1]:5000/", true],
    ["[fd00::1]:5000", "https://[fd00:0:0::1]:5000/", true],
    ["fd00::/8", "https://[fd12:3456::9]/", true],
    ["fd00::/8", "https://[fe80::1]/", false],
    // malformed entries are skipped, the rest still apply
    ["10.0.0.0/99, example.com", "https://example.com/", true],
    ["10.0.0.0/99", "https://10.0.0.1/", false],
    ["", "https://example.com/", false],
  ])("NO_PROXY=%j, %s -> %s", (noProxy, url, expected) => {
    expect(bypass(noProxy, url)).toBe(expected);
  });
});

describe("which proxy a URL goes through", () => {
  const env = {
    HTTPS_PROXY: "http://secure-proxy.corp:3128",
    HTTP_PROXY: "plain-proxy.corp:8080",
    NO_PROXY: "registry.lan",
  };

  it("HTTPS_PROXY for https, HTTP_PROXY for http (no scheme: http://); NO_PROXY exempts", () => {
    const config = proxyConfigFrom(env);
    expect(proxyFor(config, new URL("https://registry.example.com/v2/"))?.href).toBe(
      "http://secure-proxy.corp:3128/",
    );
    expect(proxyFor(config, new URL("http://download.example.com/x.wim"))?.href).toBe(
      "http://plain-proxy.corp:8080/",
    );
    expect(proxyFor(config, new URL("https://registry.lan:5000/v2/"))).toBeUndefined();
    expect(config.origin).toEqual({ https: "HTTPS_PROXY", http: "HTTP_PROXY" });
  });

  it("lower-case variables first; empty ones count as unset", () => {
    const config = proxyConfigFrom({
      https_proxy: "http://lower:1",
      HTTPS_PROXY: "http://upper:2",
      http_proxy: "",
      HTTP_PROXY: "http://upper:3",
    });
    expect(config.https?.host).toBe("lower:1");
    expect(config.origin.https).toBe("https_proxy");
    expect(config.http?.host).toBe("upper:3");
  });

  it("loopback never goes through a proxy from the environment, but does through --proxy", () => {
    const fromEnv = proxyConfigFrom({ HTTPS_PROXY: "http://p:1", HTTP_PROXY: "http://p:1" });
    const flag = proxyConfigFrom({ NO_PROXY: "example.com" }, "http://p:1");
    for (const url of [
      "http://127.0.0.1:5000/v2/",
      "https://localhost:5000/v2/",
      "https://[::1]:5000/v2/",
      "http://127.5.6.7/",
      "https://registry.localhost/",
    ]) {
      expect(proxyFor(fromEnv, new URL(url))).toBeUndefined();
      expect(proxyFor(flag, new URL(url))?.host).toBe("p:1");
    }
    // --proxy overrides the variables, NO_PROXY still applies
    expect(proxyFor(flag, new URL("https://registry.example.com/"))).toBeUndefined();
    expect(flag.origin).toEqual({ https: "--proxy", http: "--proxy" });
  });

  it('--proxy "" leaves the environment\'s proxies out', () => {
    const config = proxyConfigFrom(env, "");
    expect(proxyFor(config, new URL("https://registry.example.com/"))).toBeUndefined();
    expect(proxyFor(config, new URL("http://download.example.com/"))).toBeUndefined();
  });

  it("an unusable proxy URL: EUSAGE naming where it came from, never quoting a password", () => {
    for (const [text, origin, message] of [
      [
        "socks5://user:Sekr1t@host:1080",
        "ALL_PROXY",
        "ALL_PROXY: socks5:// proxies are not supported",
      ],
      [
        "https://user:Sekr1t@host:3129",
        "HTTPS_PROXY",
        "HTTPS_PROXY: https:// proxies are not supported",
      ],
      ["http://user:Sekr1t@[bad", "--proxy", "--proxy: not a proxy URL"],
    ] as const) {
      let caught: unknown;
      try {
        parseProxyUrl(text, origin);
      } catch (error) {
        caught = error;
      }
      expect(isFerryError(caught) && caught.code).toBe("EUSAGE");
      expect((caught as Error).message).toContain(message);
      expect(JSON.stringify((caught as { toJSON(): unknown }).toJSON())).not.toContain("Sekr1t");
    }
  });
});
