// The benchmark's one table: every row a ferry measurement against a peer (the tool a user
// would pick, or a raw limit), with targets from issues 2 and 4 where they state one.

const RSS_LIMIT = 150e6;

/** What each measured command is called in the table. */
export const LABELS = {
  "ferry-save-registry": "`save` registry, empty `--cache`",
  "ferry-save-registry-warm": "`save` registry, warm `--cache`",
  "skopeo-pull": "skopeo copy docker:// oci: (3 images, one layout)",
  "curl-openssl-4": "curl | openssl dgst -sha256, every blob, 4 at a time",
  "curl-openssl-1": "curl | openssl dgst -sha256, every blob, one at a time",
  "curl-tee-openssl-4": "curl | tee FILE | openssl dgst -sha256, 4 at a time, then sync",
  "lat-ferry-j1": "`save` registry `--jobs 1`",
  "lat-ferry-j4": "`save` registry (`--jobs 4`, default)",
  "lat-ferry-j8": "`save` registry `--jobs 8`",
  "lat-skopeo": "skopeo copy docker:// oci: (3 images)",
  "many-ferry": "`save` registry (`--jobs 4`, default), no proxy",
  "many-skopeo": "skopeo copy docker:// oci: (3 images), no proxy",
  "many-lat-ferry-j1": "`save` registry `--jobs 1`",
  "many-lat-ferry-j4": "`save` registry (`--jobs 4`, default)",
  "many-lat-ferry-j8": "`save` registry `--jobs 8`",
  "many-lat-skopeo": "skopeo copy docker:// oci: (3 images)",
  "ferry-save": "`save oci:`",
  "skopeo-copy": "skopeo copy oci: oci: (3 images)",
  "skopeo-archive-save": "skopeo copy oci: docker-archive: (3 archives, one per image)",
  "openssl-source": "openssl dgst -sha256 (source blobs)",
  "ferry-verify": "`verify`",
  "unzip-sha256sum": "unzip + sha256sum -c SHA256SUMS",
  "openssl-bundle": "openssl dgst -sha256 (bundle)",
  "ferry-load": "`load --store`",
  "skopeo-archive-load": "skopeo copy docker-archive: oci: (the 3 archives)",
  "dd-fdatasync": "dd bs=1M conv=fdatasync (bundle)",
  "ferry-load-registry": "`load --to-registry`",
  "skopeo-push": "skopeo copy oci: docker:// (3 images)",
  "curl-push": "curl POST + PUT per blob, 4 at a time, + mounts, manifests",
};

const MAX_THIRD = { text: "<= 0.333 (3x faster)", pass: (ratio) => ratio <= 1 / 3 };

/**
 * The rows, in order: [section, ferry sample, peer sample, time target, RSS target (an issue
 * states one for this ferry command), bytes moved (for GB/s in the JSON)].
 */
function rowPlan(data, delayMs) {
  const few = `+${delayMs} ms/request, ${data.blobs} blobs`;
  const many = `+${delayMs} ms/request, 60 small layers`;
  return [
    ["save, loopback registry", "ferry-save-registry", "skopeo-pull", MAX_THIRD, "issue 4"],
    [
      "save, loopback registry",
      "ferry-save-registry",
      "curl-openssl-4",
      { text: "<= 1.5", pass: (ratio) => ratio <= 1.5 },
    ],
    ["save, loopback registry", "ferry-save-registry", "curl-openssl-1"],
    ["save, loopback registry", "ferry-save-registry", "curl-tee-openssl-4"],
    ["save, loopback registry", "ferry-save-registry-warm", "skopeo-pull"],
    [`save, ${few}`, "lat-ferry-j1", "lat-skopeo"],
    [`save, ${few}`, "lat-ferry-j4", "lat-skopeo"],
    [`save, ${few}`, "lat-ferry-j8", "lat-skopeo"],
    ["save, registry, 60 small layers", "many-ferry", "many-skopeo"],
    [`save, ${many}`, "many-lat-ferry-j1", "many-lat-skopeo"],
    [`save, ${many}`, "many-lat-ferry-j4", "many-lat-skopeo"],
    [`save, ${many}`, "many-lat-ferry-j8", "many-lat-skopeo"],
    ["save, OCI dir", "ferry-save", "skopeo-copy", undefined, "issue 2"],
    ["save, OCI dir", "ferry-save", "skopeo-archive-save"],
    ["save, OCI dir", "ferry-save", "openssl-source"],
    ["verify", "ferry-verify", "unzip-sha256sum"],
    [
      "verify",
      "ferry-verify",
      "openssl-bundle",
      { text: "<= 1.25", pass: (ratio) => ratio <= 1.25 },
      "issue 2",
    ],
    ["load, store", "ferry-load", "skopeo-copy", MAX_THIRD, "issue 2"],
    ["load, store", "ferry-load", "skopeo-archive-load"],
    ["load, store", "ferry-load", "dd-fdatasync"],
    ["load, into a registry", "ferry-load-registry", "skopeo-push"],
    ["load, into a registry", "ferry-load-registry", "curl-push"],
  ];
}

export function compare(report) {
  const r = report.results;
  const rows = [];
  for (const [section, ferryName, peerName, target, rssIssue] of rowPlan(
    report.data,
    report.options.delayMs,
  )) {
    const ferry = r[ferryName];
    if (!ferry) continue;
    const peer = r[peerName];
    const ratio = peer ? ferry.seconds / peer.seconds : undefined;
    const targets = [];
    const verdicts = [];
    if (target) {
      targets.push(`ferry/peer ${target.text}`);
      verdicts.push(ratio === undefined ? "n/a" : target.pass(ratio) ? "PASS" : "FAIL");
    }
    if (rssIssue) {
      targets.push("RSS < 150 MB");
      verdicts.push(ferry.rss < RSS_LIMIT ? "PASS" : "FAIL");
    }
    rows.push({
      section,
      ferryName,
      ferry: LABELS[ferryName] ?? ferryName,
      ferrySeconds: ferry.seconds,
      ferryCpu: ferry.cpu,
      ferryRssMB: ferry.rss / 1e6,
      peerName,
      peer: LABELS[peerName] ?? peerName,
      peerSeconds: peer?.seconds,
      peerCpu: peer?.cpu,
      peerRssMB: peer ? peer.rss / 1e6 : undefined,
      ratio,
      bestRatio: peer ? ferry.min / peer.min : undefined,
      target: targets.length ? targets.join("; ") : "-",
      verdict: verdicts.length ? verdicts.join("; ") : "info",
    });
  }
  return { rows };
}

const fmt = (value, digits = 2) =>
  value === undefined || Number.isNaN(value) ? "-" : value.toFixed(digits);

export function markdown(report, { rows }) {
  const d = report.data;
  const GiB = 1024 ** 3;
  const lines = [];
  lines.push(
    `Data: ${d.images} images sharing a base layer, ${d.blobs} unique blobs, ${(d.bytes / GiB).toFixed(2)} GiB (${d.bytes} bytes; ${(d.imageBytes / GiB).toFixed(2)} GiB counting the shared base per image); bundle ${d.bundleBytes} bytes.` +
      (d.many
        ? ` Small-layer set: ${d.many.blobs} blobs (60 layers of 1-4 MiB), ${(d.many.bytes / 1024 ** 2).toFixed(0)} MiB.`
        : ""),
  );
  lines.push(
    `Page cache: ${report.pageCache}. Seconds are wall-clock medians of ${report.options.reps} run(s) (targets are judged on them; "best-of" divides each side's fastest run); cpu s = user + system of the command and its children (the registry's own CPU is not in it); MB = peak RSS of the largest process of the command (${report.machine.rssBy}). Every run writes to a fresh, empty target (bundle, --cache, layout, store, registry).`,
  );
  lines.push("");
  lines.push(
    "| what | ferry | s | cpu s | MB | peer | s | cpu s | MB | ferry/peer | best-of | target | result |",
  );
  lines.push("|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---|---|");
  const cell = (text) => String(text).replaceAll("|", "\\|");
  for (const row of rows) {
    lines.push(
      `| ${cell(row.section)} | ${cell(row.ferry)} | ${fmt(row.ferrySeconds)} | ${fmt(row.ferryCpu)} | ${fmt(row.ferryRssMB, 0)} | ${cell(row.peer)} | ${fmt(row.peerSeconds)} | ${fmt(row.peerCpu)} | ${fmt(row.peerRssMB, 0)} | ${fmt(row.ratio)} | ${fmt(row.bestRatio)} | ${row.target} | ${row.verdict} |`,
    );
  }
  const r = report.results;
  const seconds = (name) => fmt(r[name]?.seconds);
  if (r["lat-ferry-j1"] || r["many-lat-ferry-j1"]) {
    lines.push("");
    lines.push(
      `What concurrency buys through the +${report.options.delayMs} ms proxy, ferry --jobs 1 / 4 / 8 (skopeo): ${d.blobs} blobs ${seconds("lat-ferry-j1")} / ${seconds("lat-ferry-j4")} / ${seconds("lat-ferry-j8")} s (${seconds("lat-skopeo")} s, no proxy ferry ${seconds("ferry-save-registry")} s); 60 small layers ${seconds("many-lat-ferry-j1")} / ${seconds("many-lat-ferry-j4")} / ${seconds("many-lat-ferry-j8")} s (${seconds("many-lat-skopeo")} s, no proxy ferry ${seconds("many-ferry")} s).`,
    );
  }
  const requests = Object.entries(report.results)
    .filter(([, v]) => v?.requests !== undefined)
    .map(([name, v]) => `${name} ${v.requests}`);
  if (requests.length) {
    lines.push("");
    lines.push(`Requests through the delay proxy per run: ${requests.join(", ")}.`);
  }
  const server = Object.entries(report.results)
    .filter(([, v]) => v?.serverCpu)
    .map(([name, v]) => `${name} ${fmt(v.serverCpu)}`);
  if (server.length) {
    lines.push("");
    lines.push(
      `CPU seconds of the registry (and the proxy) during each registry run, median: ${server.join(", ")}.`,
    );
  }
  const spread = Object.entries(report.results)
    .filter(([, v]) => v)
    .map(
      ([name, v]) => `${name} ${fmt(v.min)}-${fmt(v.max)} s (others ${fmt(v.others * 100, 0)}%)`,
    );
  lines.push("");
  lines.push(
    `Spread (min-max wall over ${report.options.reps} run(s); in brackets the most CPU the rest of the machine, registry included, used during a run, as a share of all CPUs): ${spread.join(", ")}.`,
  );
  return lines.join("\n");
}
