import { createHash, type Hash } from "node:crypto";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { FerryError } from "../errors.js";

/**
 * Bytes per ring slot: the pump reads, hashes and writes 1 MiB at a time. (2 MiB writes cost
 * three times the system time of 1 MiB ones on the benchmark machine, and load got slower.)
 */
export const SLOT_BYTES = 1024 * 1024;
/** Slots per ring: one being read, up to three being hashed and written behind it. */
export const RING_SLOTS = 4;
/** Blobs smaller than this are hashed on the main thread: a worker round trip costs more. */
export const WORKER_MIN_BYTES = 256 * 1024;
/** An idle worker is ended after this long (it never keeps the process alive meanwhile). */
const IDLE_MS = 10_000;

/**
 * Hashes one blob at a time over a set of reused slot buffers. `update(slot, length)` feeds
 * the first `length` bytes of `buffers[slot]`; the caller must not refill that slot before
 * the returned promise settles. Updates are hashed in the order they are given.
 */
export interface BlobHasher {
  readonly buffers: readonly Buffer[];
  update(slot: number, length: number): Promise<void> | undefined;
  /** The sha256 (hex) of everything fed since the hasher was taken. */
  digest(): Promise<string>;
  /** Give the hasher back (after every update settled). It is not used again. */
  release(): void;
}

/**
 * The worker, an ES module (whatever `--input-type` the process was started with): hashes
 * slices of its ring in message order; one reply per update or digest.
 */
export const HASH_WORKER_SOURCE = `
import { createHash } from "node:crypto";
import { parentPort, workerData } from "node:worker_threads";
const ring = Buffer.from(workerData.ring);
const slotBytes = workerData.slotBytes;
let hash = createHash("sha256");
parentPort.on("message", (m) => {
  if (m === -1) { parentPort.postMessage(hash.digest("hex")); hash = createHash("sha256"); return; }
  if (m === -2) { hash = createHash("sha256"); return; }
  const slot = m & 0xff;
  const length = Math.floor(m / 256);
  hash.update(ring.subarray(slot * slotBytes, slot * slotBytes + length));
  parentPort.postMessage(0);
});
`;

/** A module's source as a URL a Worker (or an import) can load. */
export function moduleUrl(source: string): URL {
  return new URL(`data:text/javascript,${encodeURIComponent(source)}`);
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** One worker thread with its shared ring of RING_SLOTS x SLOT_BYTES. */
class HashWorker {
  readonly buffers: Buffer[];
  private readonly worker: Worker;
  private readonly pending: Pending[] = [];
  /** Set once the worker died: every later request fails with it. */
  failure: FerryError | undefined;
  /** True once the worker replied at least once (it started and works). */
  answered = false;
  /** What the worker is hashing now, for the error message. */
  what = "a blob";
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    source: string,
    private readonly onDeath: (worker: HashWorker) => void,
    private readonly onIdle: (worker: HashWorker) => void,
  ) {
    const ring = new SharedArrayBuffer(RING_SLOTS * SLOT_BYTES);
    this.buffers = Array.from({ length: RING_SLOTS }, (_, slot) =>
      Buffer.from(ring, slot * SLOT_BYTES, SLOT_BYTES),
    );
    this.worker = new Worker(moduleUrl(source), { workerData: { ring, slotBytes: SLOT_BYTES } });
    this.worker.unref();
    this.worker.on("message", (message: unknown) => {
      this.answered = true;
      this.pending.shift()?.resolve(message);
    });
    this.worker.on("error", (error: unknown) => this.die(`failed (${String(error)})`, error));
    this.worker.on("exit", (code) => this.die(`exited (code ${code})`));
  }

  private die(how: string, cause?: unknown): void {
    if (this.failure) return;
    this.clearIdle();
    this.failure = new FerryError(
      "EINTERNAL",
      `the sha256 worker thread ${how} while hashing ${this.what}; nothing was kept`,
      {
        hint: "run the same command again; if it happens again, report it",
        ...(cause === undefined ? {} : { cause }),
      },
    );
    for (const waiter of this.pending.splice(0)) waiter.reject(this.failure);
    this.onDeath(this);
  }

  private request(message: number, replies: boolean): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    if (!replies) {
      this.worker.postMessage(message);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.worker.postMessage(message);
    });
  }

  update(slot: number, length: number): Promise<void> {
    return this.request(length * 256 + slot, true) as Promise<void>;
  }

  async digest(): Promise<string> {
    return (await this.request(-1, true)) as string;
  }

  /** Start over (after a blob that failed half-way). */
  reset(): void {
    if (!this.failure) void this.request(-2, false);
  }

  /** While leased the worker keeps the process alive (a reply is awaited); idle, it does not. */
  lease(what: string): void {
    this.clearIdle();
    this.what = what;
    this.worker.ref();
  }

  unlease(): void {
    this.what = "a blob";
    this.worker.unref();
    this.clearIdle();
    this.idleTimer = setTimeout(() => this.onIdle(this), IDLE_MS);
    this.idleTimer.unref();
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  async terminate(): Promise<void> {
    this.clearIdle();
    if (!this.failure) {
      this.failure = new FerryError(
        "EINTERNAL",
        `the sha256 worker pool was shut down while hashing ${this.what}; nothing was kept`,
      );
      for (const waiter of this.pending.splice(0)) waiter.reject(this.failure);
    }
    await this.worker.terminate();
  }
}

export interface HashPoolOptions {
  /** Worker threads (default: one per core, at most 4; none on a single core). */
  size?: number;
  /** The worker's code (tests substitute a failing one). */
  source?: string;
}

/**
 * Worker threads that hash blobs off the main thread, one blob per worker at a time, so
 * several blobs hash on several cores while the main thread only moves buffers. Each worker
 * owns a SharedArrayBuffer ring that the main thread reads into and writes from; nothing is
 * allocated per chunk. Workers start on first use, never keep the process alive while idle,
 * and end after a while without work; a worker that dies fails its blob with a FerryError.
 */
export class HashPool {
  readonly size: number;
  private readonly source: string;
  private readonly idle: HashWorker[] = [];
  private readonly all = new Set<HashWorker>();
  private readonly waiting: Array<(worker: HashWorker | undefined) => void> = [];
  private closed = false;
  private stillborn = 0;

  constructor(options: HashPoolOptions = {}) {
    this.size = Math.max(0, options.size ?? defaultPoolSize());
    this.source = options.source ?? HASH_WORKER_SOURCE;
  }

  /** Start workers ahead of need (a thread takes tens of milliseconds to start). */
  warm(count = this.size): void {
    while (!this.closed && this.all.size < Math.min(count, this.size)) {
      const worker = this.spawn();
      if (!worker) return;
      this.idle.push(worker);
      worker.unlease();
    }
  }

  private spawn(): HashWorker | undefined {
    try {
      const worker = new HashWorker(
        this.source,
        (dead) => this.forget(dead),
        (idle) => this.retire(idle),
      );
      this.all.add(worker);
      return worker;
    } catch {
      return undefined; // no threads available: the caller hashes on the main thread
    }
  }

  private forget(worker: HashWorker): void {
    this.all.delete(worker);
    // Workers that die before their first reply cannot start here (no memory for a thread,
    // a hostile environment): after two, the pool stops offering threads.
    if (!worker.answered && ++this.stillborn >= 2) this.closed = true;
    const at = this.idle.indexOf(worker);
    if (at >= 0) this.idle.splice(at, 1);
    // Someone waiting for a worker gets a fresh one (or the main thread, if none starts).
    const next = this.waiting.shift();
    if (next) next(this.closed ? undefined : this.spawn());
    if (this.closed) for (const waiting of this.waiting.splice(0)) waiting(undefined);
  }

  private retire(worker: HashWorker): void {
    const at = this.idle.indexOf(worker);
    if (at < 0) return;
    this.idle.splice(at, 1);
    this.all.delete(worker);
    void worker.terminate().catch(() => {});
  }

  /**
   * A hasher for one blob: a worker's (waiting for one to be free), or undefined when the
   * pool has no threads to offer (the caller then hashes on the main thread).
   */
  async acquire(what: string): Promise<BlobHasher | undefined> {
    if (this.closed || this.size === 0) return undefined;
    let worker = this.idle.pop();
    if (!worker && this.all.size < this.size) worker = this.spawn();
    if (!worker) {
      if (this.all.size === 0) return undefined;
      worker = await new Promise<HashWorker | undefined>((resolve) => this.waiting.push(resolve));
      if (!worker) return undefined;
    }
    worker.lease(what);
    return this.hasherOf(worker);
  }

  private hasherOf(worker: HashWorker): BlobHasher {
    let dirty = false;
    let released = false;
    return {
      buffers: worker.buffers,
      update: (slot, length) => {
        dirty = true;
        return worker.update(slot, length);
      },
      digest: async () => {
        const hex = await worker.digest();
        dirty = false;
        return hex;
      },
      release: () => {
        if (released) return;
        released = true;
        if (worker.failure) return;
        if (dirty) worker.reset();
        const next = this.waiting.shift();
        if (next) {
          next(worker); // handed on still leased: the next blob's acquire names itself
        } else if (this.closed) {
          this.all.delete(worker);
          void worker.terminate().catch(() => {});
        } else {
          worker.unlease();
          this.idle.push(worker);
        }
      },
    };
  }

  /** End every worker (those hashing fail their blob); later acquires get the main thread. */
  async close(): Promise<void> {
    this.closed = true;
    for (const next of this.waiting.splice(0)) next(undefined);
    const workers = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    await Promise.all(workers.map((worker) => worker.terminate().catch(() => {})));
  }

  /** Workers started and alive (for tests and diagnostics). */
  get threads(): number {
    return this.all.size;
  }
}

function defaultPoolSize(): number {
  const cores = availableParallelism();
  return cores < 2 ? 0 : Math.min(cores, 4);
}

/** Slot buffers main-thread hashers gave back, for the next blob: at most four lanes' worth. */
const spareSlots: Buffer[] = [];
const MAX_SPARE_SLOTS = 12;
/** Smaller slots are allocated each time (cheap); larger ones come from `spareSlots`. */
const SPARE_MIN_BYTES = 64 * 1024;

/**
 * A hasher on the main thread over a few slot buffers (small blobs, and blobs read as they
 * download). Slots of 64 KiB or more are reused across blobs: a fresh 1 MiB buffer per slot
 * per blob costs its page faults on first touch, which with many small layers (60 of 1-4 MiB)
 * was a fifth of a save's CPU time.
 */
export function mainThreadHasher(size: number, slots = 3): BlobHasher {
  const length = Math.max(1, Math.min(SLOT_BYTES, size));
  const hash: Hash = createHash("sha256");
  const pooled = length >= SPARE_MIN_BYTES;
  const whole = Array.from({ length: slots }, () =>
    pooled ? (spareSlots.pop() ?? Buffer.allocUnsafe(SLOT_BYTES)) : Buffer.allocUnsafe(length),
  );
  const buffers = whole.map((buffer) => buffer.subarray(0, length));
  let released = false;
  return {
    buffers,
    update: (slot, count) => {
      hash.update((buffers[slot] as Buffer).subarray(0, count));
      return undefined;
    },
    digest: async () => hash.digest("hex"),
    release: () => {
      if (released || !pooled) return;
      released = true;
      for (const buffer of whole) if (spareSlots.length < MAX_SPARE_SLOTS) spareSlots.push(buffer);
    },
  };
}

let shared: HashPool | undefined;

/** Below this many bytes a copy does not start the workers ahead of time. */
const WARM_MIN_BYTES = 16 * 1024 * 1024;

/**
 * Start the shared pool's workers now, if `bytes` of work will follow: a command that is about
 * to check a large bundle's structure on the main thread lets the threads start meanwhile.
 */
export function warmHashPool(bytes: number): void {
  if (bytes >= WARM_MIN_BYTES) sharedHashPool().warm();
}

/** The process-wide pool every copy shares. */
export function sharedHashPool(): HashPool {
  shared ??= new HashPool();
  return shared;
}
