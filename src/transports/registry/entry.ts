/**
 * Registries in the transport table: `docker://REF` or a bare image reference as a source, and
 * `registry:HOST[:PORT][/PREFIX]` as a destination (images named by the mapping rule,
 * ops/name-mapping.ts).
 */

import { UsageError } from "../../errors.js";
import { parseReference } from "../../types/reference.js";
import { parseRegistryTarget, type RegistryTarget } from "../../types/registry-target.js";
import type { TransportEntry } from "../entry.js";

export interface RegistrySpec {
  transport: "registry";
  /** The image reference (no `docker://`). */
  ref: string;
}

export interface RegistryDestination extends RegistryTarget {
  transport: "registry";
}

export const registryTransport: TransportEntry<RegistrySpec, RegistryDestination> = {
  name: "registry",
  summary: "a registry speaking the distribution API (Docker Hub, MCR, Harbor, distribution...)",
  source: {
    forms: ["docker://REF", "a bare image reference"],
    prefixes: ["docker://"],
    parse(rest) {
      // A malformed reference fails here with EBADREF, naming what is wrong.
      parseReference(rest);
      return { transport: "registry", ref: rest };
    },
    recognize(text) {
      try {
        parseReference(text);
      } catch (error) {
        // A bare word (no `PREFIX:` in front) can only have meant a reference: say what is wrong.
        if (text.indexOf(":") <= 0) throw error;
        return undefined;
      }
      return { transport: "registry", ref: text };
    },
    platforms: "host",
    needs: ["registry"],
    async open(spec, context) {
      if (!context.registry) {
        throw new UsageError(`${spec.ref}: registry sources need a registry session`);
      }
      const { RegistrySource } = await import("./source.js");
      return new RegistrySource(context.registry.session, spec.ref, {
        skipForeign: context.registry.skipForeign ?? false,
      });
    },
  },
  destination: {
    forms: ["registry:HOST[:PORT][/PREFIX]"],
    help: "push into a registry (source host dropped, path kept under PREFIX)",
    parse(rest, text) {
      return { transport: "registry", ...parseRegistryTarget(rest ?? "", text) };
    },
  },
};
