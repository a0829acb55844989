// Timing, CPU and peak-RSS measurement for the benchmark, and the machine description.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const GiB = 1024 ** 3;

export const gnuTime = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

export function commandOutput(command, args) {
  const result = spawnSync(command, args, { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

export function hasCommand(command) {
  return spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).status === 0;
}

/** Quote one word for sh. */
export const q = (word) => `'${String(word).replaceAll("'", "'\\''")}'`;

/** Flush dirty pages (untimed) so one step's writeback does not land in the next one's time. */
export function syncDisks() {
  spawnSync("sync");
}

/** Read files once (untimed) so a step finds them in the page cache. */
export function warmFiles(files) {
  for (let i = 0; i < files.length; i += 500) {
    spawnSync("sh", ["-c", 'cat "$@" > /dev/null', "sh", ...files.slice(i, i + 500)]);
  }
}

/** Busy and total CPU time of the whole machine so far (seconds), from /proc/stat. */
export function machineCpu() {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
    const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = ticks.reduce((a, b) => a + b, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return { busy: (total - idle) / 100, total: total / 100 };
  } catch {
    return undefined;
  }
}

/** user + system CPU seconds of a running process (a registry, the proxy), from /proc. */
export function processCpu(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100 || 0;
  } catch {
    return 0;
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Wait (up to `maxSeconds`) until the machine is quiet: under 15% of all CPUs busy over half
 * a second. Other work on a shared 2-core box otherwise lands in the timings. Returns the busy
 * share last seen.
 */
export async function waitForQuiet(maxSeconds) {
  const deadline = Date.now() + maxSeconds * 1000;
  let share = 0;
  for (;;) {
    const a = machineCpu();
    await sleep(500);
    const b = machineCpu();
    if (!a || !b) return 0;
    share = (b.busy - a.busy) / Math.max(1e-9, b.total - a.total);
    if (share < 0.15 || Date.now() >= deadline) return share;
  }
}

/** Peak RSS (KiB) of a running process from /proc, for when GNU time is missing. */
function pollPeak(pid, state) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /VmHWM:\s+(\d+) kB/.exec(status);
    if (match) state.peakKiB = Math.max(state.peakKiB, Number(match[1]));
    state.cpu = processCpu(pid) || state.cpu;
  } catch {
    // the process is gone
  }
}

/**
 * Run a command; return wall seconds, peak RSS (bytes), cpu seconds and its stdout. Fails on
 * non-zero exit. Wall time is measured here (hrtime around spawn..exit); peak RSS and CPU by
 * GNU time (%M: the largest RSS of the process and the descendants it waited for, so an
 * `sh -c` pipeline reports its biggest member; %U + %S: CPU of all of them), else by polling
 * VmHWM in /proc (the top process only). `servers`: pids whose CPU during the run is reported
 * as serverCpu (the registry, the proxy).
 */
export function measure(command, args, { cwd, env, servers = [] } = {}) {
  return new Promise((resolve, reject) => {
    const rssFile = path.join(os.tmpdir(), `ferry-bench-rss-${process.pid}`);
    rmSync(rssFile, { force: true });
    const [cmd, argv] = gnuTime
      ? [gnuTime, ["-f", "%M %U %S", "-o", rssFile, command, ...args]]
      : [command, args];
    const cpuBefore = machineCpu();
    const serversBefore = servers.map(processCpu);
    const started = process.hrtime.bigint();
    const child = spawn(cmd, argv, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out = [];
    const err = [];
    child.stdout.on("data", (chunk) => out.push(chunk));
    child.stderr.on("data", (chunk) => err.push(chunk));
    const poll = { peakKiB: 0, cpu: 0 };
    const timer = gnuTime ? undefined : setInterval(() => pollPeak(child.pid, poll), 10);
    child.on("error", reject);
    child.on("close", (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const cpuAfter = machineCpu();
      const serverCpu = servers
        .map((pid, i) => processCpu(pid) - serversBefore[i])
        .reduce((a, b) => a + b, 0);
      if (timer) clearInterval(timer);
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      if (code !== 0) {
        const output = `${stderr}${stdout}`.trim();
        const shown = command === "sh" ? args.at(-1) : `${command} ${args.join(" ")}`;
        reject(
          new Error(
            `${shown.slice(0, 2000)}\nexited with ${code}\n${output.slice(0, 3000)}${output.length > 3000 ? "\n..." : ""}`,
          ),
        );
        return;
      }
      let peakKiB = poll.peakKiB;
      let cpu = poll.cpu;
      if (gnuTime) {
        const text = existsSync(rssFile) ? readFileSync(rssFile, "utf8").trim() : "";
        const [rss, user, system] = (text.split("\n").pop() ?? "").split(" ").map(Number);
        peakKiB = rss ?? 0;
        cpu = (user ?? 0) + (system ?? 0);
        rmSync(rssFile, { force: true });
      }
      // CPU the rest of the machine used meanwhile (servers included), as a share of all
      // CPUs: contention.
      const others =
        cpuBefore && cpuAfter
          ? Math.max(0, cpuAfter.busy - cpuBefore.busy - cpu) /
            Math.max(1e-9, cpuAfter.total - cpuBefore.total)
          : 0;
      resolve({ seconds, rss: peakKiB * 1024, cpu, serverCpu, others, stdout, stderr });
    });
  });
}

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

export function machineInfo(work) {
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? "?";
  const flags = /^flags\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.split(/\s+/) ?? [];
  const filesystem = commandOutput("df", ["-T", work])?.split("\n")[1]?.split(/\s+/)[1];
  return {
    nproc: Number(commandOutput("nproc", [])) || os.availableParallelism(),
    cpu: model,
    shaNi: flags.includes("sha_ni"),
    memoryGiB: Math.round((os.totalmem() / GiB) * 10) / 10,
    kernel: os.release(),
    node: process.version,
    skopeo: commandOutput("skopeo", ["--version"]) ?? "missing",
    openssl: commandOutput("openssl", ["version"]) ?? "missing",
    curl:
      commandOutput("curl", ["--version"])?.split("\n")[0]?.split(" ").slice(0, 2).join(" ") ??
      "missing",
    registry:
      commandOutput("docker-registry", ["--version"])?.split(" ").slice(1).join(" ") ?? "missing",
    filesystem: filesystem ?? "?",
    rssBy: gnuTime ? "GNU time %M" : "polling /proc/PID/status VmHWM every 10 ms",
  };
}
