/**
 * `ferry serve`: the store opened for reading and served over the distribution API
 * (serve/server.ts) until the caller stops the server. Ops build transports; the CLI prints.
 */

import { type RunningServer, type ServerOptions, startServer } from "../serve/server.js";
import { StoreReader } from "../serve/store-reader.js";
import { Store } from "../transports/layout/store.js";

export interface ServeStoreOptions extends Omit<ServerOptions, "reader"> {
  storeDir: string;
}

/** Open the store at `storeDir` (it must exist) and start serving it. */
export async function serveStore(
  options: ServeStoreOptions,
): Promise<{ server: RunningServer; storeDir: string }> {
  const { storeDir, ...serverOptions } = options;
  const store = await Store.open(storeDir);
  const server = await startServer({ ...serverOptions, reader: new StoreReader(store) });
  return { server, storeDir: store.dir };
}
