/**
 * containerd in the transport table, as a destination: `containerd[:SOCK]` imports images with
 * their exact digests into a namespace (`--namespace`, default `k8s.io`, the one Kubernetes
 * uses) through containerd's `ctr` client (./ctr.ts says why). SOCK: the socket, else
 * `--address`, else `CONTAINERD_ADDRESS`, else `/run/containerd/containerd.sock` (`\\.\pipe\containerd-containerd`
 * on Windows).
 */

import { UsageError } from "../../errors.js";
import { escapeControls } from "../../types/terminal-text.js";
import type { TransportEntry } from "../entry.js";

export interface ContainerdDestination {
  transport: "containerd";
  /** containerd's socket or named pipe. */
  address: string;
  namespace: string;
}

export const DEFAULT_NAMESPACE = "k8s.io";

function defaultAddress(): string {
  return (
    process.env.CONTAINERD_ADDRESS ||
    (process.platform === "win32"
      ? "\\\\.\\pipe\\containerd-containerd"
      : "/run/containerd/containerd.sock")
  );
}

/** containerd's namespace rule: letters, digits, `.`, `_` and `-`, starting with a letter or digit. */
const NAMESPACE = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;

export const containerdTransport: TransportEntry<never, ContainerdDestination> = {
  name: "containerd",
  summary: "containerd (Kubernetes nodes), through its ctr client: digests and indexes kept",
  destination: {
    forms: ["containerd[:SOCK]"],
    help: "import into containerd (SOCK: its socket, default /run/containerd/containerd.sock; --namespace, default k8s.io)",
    options: [
      {
        flags: "--address <sock>",
        key: "address",
        help: "with --to containerd: containerd's socket or pipe (same as --to containerd:SOCK; default: $CONTAINERD_ADDRESS, else /run/containerd/containerd.sock)",
      },
      {
        flags: "--namespace <ns>",
        key: "namespace",
        help: `with --to containerd: the containerd namespace (default: ${DEFAULT_NAMESPACE}, the one Kubernetes uses)`,
      },
    ],
    parse(rest, text, settings) {
      const flag = settings.address;
      if (rest && flag && rest !== flag) {
        throw new UsageError(`${escapeControls(text)} names another socket than --address`, {
          hint: "name containerd's socket once",
        });
      }
      const namespace = settings.namespace ?? DEFAULT_NAMESPACE;
      if (!NAMESPACE.test(namespace)) {
        throw new UsageError(
          `--namespace ${escapeControls(namespace)}: not a containerd namespace`,
          {
            hint: "letters, digits, '.', '_' and '-' (e.g. k8s.io, default, moby)",
          },
        );
      }
      return { transport: "containerd", address: rest || flag || defaultAddress(), namespace };
    },
    copy: {
      location: (spec) => `containerd at ${spec.address} (namespace ${spec.namespace})`,
      containerImagesOnly: true,
      nameOf: (image) => image,
      nameHeading: "CONTAINERD NAME",
      async openSink(spec, images) {
        const { ContainerdSink } = await import("./sink.js");
        return ContainerdSink.open({ address: spec.address, namespace: spec.namespace }, images);
      },
    },
  },
};
