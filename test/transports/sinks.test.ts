import { mkdirSync } from "node:fs";
import path from "node:path";
import { BundleReader } from "../../src/transports/bundle/reader.js";
import { BundleSink } from "../../src/transports/bundle/sink.js";
import { BundleSource } from "../../src/transports/bundle/source.js";
import { StoreSink } from "../../src/transports/layout/sink.js";
import { LayoutSource } from "../../src/transports/layout/source.js";
import { Store } from "../../src/transports/layout/store.js";
import { sinkConformance } from "./conformance.js";

sinkConformance("StoreSink (local store)", {
  async prepare(dir) {
    return (await Store.open(path.join(dir, "store"), { create: true })).dir;
  },
  async create(dir) {
    const store = await Store.open(path.join(dir, "store"), { create: true });
    return {
      sink: new StoreSink(store),
      readBack: () =>
        LayoutSource.open(store.files, { transport: "store", fallbackRepository: "localhost/x" }),
    };
  },
});

sinkConformance("BundleSink (zip bundle)", {
  async prepare(dir) {
    mkdirSync(path.join(dir, "out"), { recursive: true });
    return path.join(dir, "out");
  },
  async create(dir, attempt) {
    mkdirSync(path.join(dir, "out"), { recursive: true });
    const file = path.join(dir, "out", `bundle-${attempt}.zip`);
    return {
      sink: await BundleSink.create(file, { tool: "ferry test" }),
      readBack: async () => new BundleSource(await BundleReader.open(file)),
    };
  },
});
