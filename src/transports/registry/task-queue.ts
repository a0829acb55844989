interface QueuedTask<T> {
  promise: Promise<T>;
  start: () => void;
  cancel: (reason: Error) => void;
}

/**
 * Runs keyed tasks with bounded concurrency, each key once: asking again for a key that is
 * queued or running returns the same promise. An urgent request moves a queued task to the
 * front (the copy engine is waiting for it).
 */
export class TaskQueue<T> {
  private running = 0;
  private readonly waiting: string[] = [];
  private readonly tasks = new Map<string, QueuedTask<T>>();

  constructor(private readonly limit: number) {}

  /** Schedule (or find) the task for `key`. */
  run(key: string, task: () => Promise<T>, urgent = false): Promise<T> {
    const existing = this.tasks.get(key);
    if (existing) {
      if (urgent) this.promote(key);
      return existing.promise;
    }
    let start: () => void = () => {};
    let cancel: (reason: Error) => void = () => {};
    const promise = new Promise<T>((resolve, reject) => {
      cancel = reject;
      start = () => {
        this.running++;
        // The key is free again before anyone hears the outcome: asking again starts anew.
        const done = (): void => {
          this.running--;
          this.tasks.delete(key);
          this.pump();
        };
        task().then(
          (value) => {
            done();
            resolve(value);
          },
          (error: unknown) => {
            done();
            reject(error);
          },
        );
      };
    });
    promise.catch(() => {});
    this.tasks.set(key, { promise, start, cancel });
    if (urgent) this.waiting.unshift(key);
    else this.waiting.push(key);
    this.pump();
    return promise;
  }

  /** Reject the tasks that have not started yet. */
  cancelWaiting(reason: Error): void {
    for (const key of this.waiting) {
      this.tasks.get(key)?.cancel(reason);
      this.tasks.delete(key);
    }
    this.waiting.length = 0;
  }

  /** Move a queued task to the front (nothing when it runs already or is unknown). */
  promote(key: string): void {
    const index = this.waiting.indexOf(key);
    if (index > 0) {
      this.waiting.splice(index, 1);
      this.waiting.unshift(key);
    }
  }

  private pump(): void {
    while (this.running < this.limit && this.waiting.length > 0) {
      const key = this.waiting.shift() as string;
      this.tasks.get(key)?.start();
    }
  }
}
