/**
 * Work a session started without waiting for it (publishing a download, dropping one, letting
 * a failed one go): `settled` waits for all of it, including work started meanwhile. The work
 * reports its own failures; here it only ends.
 */
export class PendingWork {
  private readonly running = new Set<Promise<void>>();

  /** Track `work`; the promise returned settles with it and never rejects. */
  track(work: Promise<unknown>): Promise<void> {
    const tracked: Promise<void> = work
      .then(
        () => {},
        () => {},
      )
      .finally(() => this.running.delete(tracked));
    this.running.add(tracked);
    return tracked;
  }

  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
