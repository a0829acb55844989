/**
 * WIM files in the transport table: `wim:PATH|URL`, or a path (or http(s) URL) ending in `.wim`
 * (`.swm` too, so that a split set's missing parts are named). Each is one Windows base OS image.
 */

import { UsageError } from "../../errors.js";
import { escapeControls } from "../../types/terminal-text.js";
import { isHttpUrl, redactUrl } from "../../types/url.js";
import type { TransportEntry } from "../entry.js";
import { resolveAgainst } from "../spec-path.js";

export interface WimSpec {
  transport: "wim";
  /** A path or an http(s) URL. */
  location: string;
  /** The sha256 the file must have (`--sha256`, an image list's `sha256:`). */
  sha256?: string;
}

export const wimTransport: TransportEntry<WimSpec, never> = {
  name: "wim",
  summary: "a Windows base OS image file (.wim), local or at an http(s) URL, hashed on the way",
  source: {
    forms: ["FILE.wim", "wim:FILE|URL", "https://.../FILE.wim"],
    prefixes: ["wim:"],
    parse(rest, text) {
      if (!rest)
        throw new UsageError(`${escapeControls(text)}: the wim source needs a path or URL`);
      return { transport: "wim", location: rest };
    },
    recognize(text) {
      if (isHttpUrl(text)) {
        let pathname = "";
        try {
          pathname = new URL(text).pathname;
        } catch {
          throw new UsageError(`${text}: not a valid URL`);
        }
        return /\.wim$/i.test(pathname) ? { transport: "wim", location: text } : undefined;
      }
      return /\.(wim|swm)$/i.test(text) ? { transport: "wim", location: text } : undefined;
    },
    resolve(spec, baseDir, paths) {
      if (isHttpUrl(spec.location)) return spec;
      return { ...spec, location: resolveAgainst(paths, baseDir, spec.location) };
    },
    // A .wim named on the command line is always wanted, whatever --platform says.
    platforms: "all",
    needs: ["network"],
    pinnable: true,
    async open(spec, context) {
      context.onNote?.(
        isHttpUrl(spec.location)
          ? `downloading ${redactUrl(spec.location)} (hashed on the way: its manifest names its sha256)`
          : `reading ${spec.location} once to compute its sha256 (its manifest names it)`,
      );
      const { WimSource } = await import("./source.js");
      return WimSource.open(spec.location, {
        ...(spec.sha256 ? { sha256: spec.sha256 } : {}),
        ...(context.tempDir ? { tempDir: context.tempDir } : {}),
        ...(context.downloadLimits ? { limits: context.downloadLimits } : {}),
        ...(context.downloadNetwork ? { network: context.downloadNetwork } : {}),
      });
    },
  },
};
