import type { Command } from "commander";
import { UsageError } from "../../errors.js";

export interface ServeFlags {
  store?: string;
  addr: string;
  tlsCert?: string;
  tlsKey?: string;
  maxConnections: number;
  json?: boolean;
  quiet?: boolean;
}

function connections(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) {
    throw new UsageError(`--max-connections ${value}: use a whole number from 1 to 10000`);
  }
  return n;
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description(
      "serve the store read-only over the registry API, for docker pull, ctr, skopeo and podman on one host or a small lab",
    )
    .option("--store <dir>", "the store (default: $FERRY_STORE or the per-OS default)")
    .option(
      "--addr <host:port>",
      "where to listen: HOST:PORT, [IPv6]:PORT, or a port alone (loopback); port 0 picks a free one",
      "127.0.0.1:5000",
    )
    .option("--tls-cert <file>", "serve HTTPS with this certificate (PEM; with --tls-key)")
    .option("--tls-key <file>", "the certificate's private key (PEM)")
    .option("--max-connections <n>", "connections open at once; more are refused", connections, 128)
    .option("--json", "print the start, each request and the stop as JSON lines on stdout")
    .option("-q, --quiet", "no access log (the start line and warnings are still printed)")
    .addHelpText(
      "after",
      `
Names: an image stored as docker.io/library/alpine:3.19 is pulled as HOST:PORT/library/alpine:3.19,
HOST:PORT/alpine:3.19 or HOST:PORT/docker.io/library/alpine:3.19; mcr.microsoft.com/windows/nanoserver
as HOST:PORT/mcr.microsoft.com/windows/nanoserver or HOST:PORT/windows/nanoserver (docs/serve.md).
Stops on Ctrl-C or SIGTERM, letting answers under way finish for up to 10 s.
For a fleet, load into a real registry instead: ferry load B.zip --to registry:HOST.`,
    )
    .action(async (flags: ServeFlags) => {
      const { runServe } = await import("./serve.run.js");
      await runServe(flags);
    });
}
