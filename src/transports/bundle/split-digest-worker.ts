import { parentPort, workerData } from "node:worker_threads";
import { isFerryError } from "../../errors.js";
import { type DigesterOptions, PartDigester } from "./split-digest.js";

/**
 * The worker thread behind `createDigestRunner("worker")`: runs a PartDigester on messages
 * from the split writer, one at a time, in order.
 */
const port = parentPort;
if (port) {
  const options = workerData as DigesterOptions;
  const digester = new PartDigester(options.partSize, options.parityPath, options.parityInMemory);
  let chain: Promise<void> = Promise.resolve();
  let failed = false;
  const fail = (error: unknown) => {
    if (failed) return;
    failed = true;
    port.postMessage({
      type: "error",
      code: isFerryError(error) ? error.code : "EIO",
      message: error instanceof Error ? error.message : String(error),
      ...(isFerryError(error) && error.hint ? { hint: error.hint } : {}),
    });
  };
  port.on(
    "message",
    (message: {
      type: string;
      index?: number;
      path?: string;
      position?: number;
      size?: number;
    }) => {
      chain = chain.then(async () => {
        if (message.type === "abort") {
          await digester.close();
          port.postMessage({ type: "closed" });
          return;
        }
        if (failed) return;
        try {
          if (message.type === "part")
            digester.addPart(message.index as number, message.path as string);
          else if (message.type === "advance") await digester.advance(message.position as number);
          else if (message.type === "finish") {
            port.postMessage({
              type: "done",
              result: await digester.finish(message.size as number),
            });
          }
        } catch (error) {
          fail(error);
        }
      });
    },
  );
}
