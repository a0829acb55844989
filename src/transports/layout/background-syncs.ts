/**
 * The store sink's background durability work: each finished staged blob is fdatasynced,
 * closed and renamed off the copy's path, so the next blob does not wait for the disk, and
 * the commit waits for all of them before anything is published.
 */

/** Background fdatasyncs of finished staged files running at once, and waiting at most. */
const SYNCS_AT_ONCE = 2;
const SYNCS_QUEUED = 32;

/** Runs at most `limit` tasks at once, in order. */
class Limiter {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly watchers: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  /** Tasks running or waiting to run. */
  get queued(): number {
    return this.running + this.waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((go) => this.waiting.push(go));
    else this.running++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
      for (const watcher of this.watchers.splice(0)) watcher();
    }
  }

  /** Resolves when some task ends. */
  oneDone(): Promise<void> {
    return new Promise((resolve) => this.watchers.push(resolve));
  }
}

/**
 * Durability tasks run in the background: at most SYNCS_AT_ONCE at once (the rest wait here,
 * not in the libuv pool, where they would hold up reads and writes); past SYNCS_QUEUED waiting,
 * `add` waits too, so open files stay bounded.
 */
export class BackgroundSyncs {
  private readonly limiter = new Limiter(SYNCS_AT_ONCE);
  private readonly pending: Array<Promise<void>> = [];

  /** Queue `task` (waiting first while too many are queued); its failure surfaces at `settle`. */
  async add(task: () => Promise<void>): Promise<void> {
    while (this.limiter.queued >= SYNCS_QUEUED) await this.limiter.oneDone();
    const running = this.limiter.run(task);
    running.catch(() => {});
    this.pending.push(running);
  }

  /** Wait until every queued task has ended; the first failure, if any, is thrown. */
  async settle(): Promise<void> {
    const results = await Promise.allSettled(this.pending.splice(0));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** Wait until every queued task has ended, whatever became of it (an abort). */
  async drain(): Promise<void> {
    await Promise.allSettled(this.pending.splice(0));
  }
}
