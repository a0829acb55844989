import https from "node:https";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type { ProxyConfig } from "../../types/proxy.js";
import { openTunnel, routeFor, targetAuthority } from "./proxy-tunnel.js";

/**
 * An https connection pool that reaches hosts through the proxy their URL calls for (see
 * `routeFor`): a CONNECT tunnel, then TLS inside it with the pool's own TLS options (CA list,
 * client certificate, verification). Hosts that need no proxy (NO_PROXY, loopback) connect
 * directly, as a plain https.Agent does. Tunnelled connections are kept alive and reused like
 * any other.
 */
export class TunnellingAgent extends https.Agent {
  constructor(
    options: https.AgentOptions,
    private readonly proxy: ProxyConfig,
    private readonly tunnelTimeoutMs: number,
  ) {
    super(options);
  }

  override createConnection(
    options: https.RequestOptions,
    callback?: (error: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const host = String(options.hostname ?? options.host ?? "localhost").replace(/^\[|\]$/g, "");
    const port = Number(options.port ?? 443);
    const route = routeFor(this.proxy, new URL(`https://${targetAuthority(host, port)}/`));
    if (!route || !callback) return super.createConnection(options, callback);
    openTunnel(route, host, port, { timeoutMs: this.tunnelTimeoutMs }).then(
      (socket) => {
        let secure: tls.TLSSocket;
        try {
          secure = tls.connect({ ...(options as tls.ConnectionOptions), host, socket });
        } catch (error) {
          socket.destroy();
          callback(error as Error, undefined as unknown as Duplex);
          return;
        }
        callback(null, secure);
      },
      (error: Error) => callback(error, undefined as unknown as Duplex),
    );
    return undefined;
  }
}
