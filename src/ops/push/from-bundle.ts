/**
 * `ferry load BUNDLE --to registry:HOST[:PORT][/PREFIX]`: a verified bundle straight from the
 * USB medium into a registry, with this host's anti-rollback record for that registry.
 */

import { NotFoundError } from "../../errors.js";
import type { BundleReader } from "../../transports/bundle/reader.js";
import { manifestDigest } from "../../transports/registry/push-checks.js";
import type { TrustedKey } from "../../trust/keys.js";
import { formatReference } from "../../types/reference.js";
import type { RegistryTarget } from "../../types/registry-target.js";
import type { Source } from "../../types/transport.js";
import type { CosignPolicy } from "../cosign-check.js";
import { mapToRegistry } from "../name-mapping.js";
import { claimOf, RollbackGuard } from "../rollback.js";
import { planImages, withBundle } from "../transfer.js";
import { ForeignTolerantSource } from "./foreign-tolerant-source.js";
import { type PushOptions, pushImages } from "./images.js";
import type { PushItem, PushReport } from "./report.js";
import { stripForeignUrls } from "./strip-foreign.js";

export interface BundlePushOptions extends PushOptions {
  /** Require a signature by one of these keys (checked before anything is pushed). */
  trust?: TrustedKey[];
  /** `--cosign-key`, `--require-signed`: judged on the plans before anything is pushed. */
  cosign?: CosignPolicy;
  /**
   * The registry's anti-rollback record on this host (`registryRollbackFile`): a bundle older
   * than what was pushed there before is refused (EDOWNGRADE) before anything is pushed.
   */
  rollbackFile?: string;
  /** Push an older bundle anyway (its names are reported `downgraded`). */
  allowDowngrade?: boolean;
  /** Split volumes: a folder of rebuilt volumes read instead of those in place. */
  partsFrom?: string | undefined;
}

/**
 * The bundle's structure is checked first, manifests and configs are verified while planning,
 * then every blob the bundle carries is read and hashed before the first upload (a damaged
 * bundle changes nothing on the registry); blobs are verified again as they stream, and tags
 * are pushed only after every blob and manifest is in.
 */
export function pushBundle(
  bundle: string,
  target: RegistryTarget,
  options: BundlePushOptions,
): Promise<PushReport> {
  return withBundle(
    bundle,
    { trust: options.trust ?? [], cosign: options.cosign, partsFrom: options.partsFrom },
    async ({ reader, source: inner, gate }) => {
      // Foreign layers a --skip-foreign save left out keep their URLs (unless made plain).
      const source: Source = options.stripForeignUrls ? inner : new ForeignTolerantSource(inner);
      const plans = await planImages([{ source, platforms: "all" }]);
      const cosign = await gate(plans);
      const items: PushItem[] = plans.map((plan) => ({
        plan,
        target: mapToRegistry(plan.name, target),
      }));
      if (items.length === 0) throw new NotFoundError(`${bundle} holds no images`);
      const rollback = options.rollbackFile
        ? await registryRollbackGuard(reader, bundle, items, options, options.rollbackFile)
        : undefined;
      const report = await pushImages(items, `bundle:${bundle}`, options);
      for (const image of report.images) {
        if (rollback?.downgraded.has(image.target) && image.status === "updated") {
          image.status = "downgraded";
        }
      }
      if (cosign) report.cosign = cosign;
      return report;
    },
  );
}

/**
 * Anti-rollback for a push (the registry cannot remember, so this host does): judge the
 * bundle against the registry's record and where each target tag points now, and (unless a
 * dry run) record it before anything is pushed. Refused: EDOWNGRADE, nothing pushed.
 */
async function registryRollbackGuard(
  reader: BundleReader,
  bundle: string,
  items: PushItem[],
  options: BundlePushOptions,
  file: string,
): Promise<RollbackGuard> {
  const tags = new Map<string, string>();
  const current = new Map<string, string | undefined>();
  for (const { plan, target } of items) {
    if (!target.tag) continue;
    const name = formatReference(target);
    const pushed = options.stripForeignUrls ? stripForeignUrls(plan).plan : plan;
    tags.set(name, pushed.root.digest);
    current.set(
      name,
      await manifestDigest(options.client, target.repository, target.tag, `tag ${name}`),
    );
  }
  const guard = new RollbackGuard(
    file,
    claimOf(reader, tags),
    { bundle, where: `registry ${options.client.registry} (record ${file})` },
    options.allowDowngrade === true,
  );
  if (options.dryRun) await guard.check(current);
  else await guard.commitLocked(current);
  return guard;
}
