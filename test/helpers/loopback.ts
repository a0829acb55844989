/**
 * Servers a test writes itself (fake registries, token services, storage, proxies): listening
 * on a free port of 127.0.0.1 (port 0, never a guessed one), and closed with the connections
 * they still hold.
 */

import type { Server as HttpServer } from "node:http";
import type { AddressInfo, Server } from "node:net";

/** Start `server` listening on a free port of 127.0.0.1: that port. */
export async function listenOnLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/**
 * Close an HTTP(S) server (none: nothing to do) and the connections it still holds: a kept-alive
 * one would otherwise hold the close until it times out.
 */
export function closeServer(server: HttpServer | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
}
