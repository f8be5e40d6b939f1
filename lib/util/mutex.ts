// A FIFO async mutex: a session runs one PKCS#11 call (or one multi-part operation) at a time.
// A waiter can give up through an AbortSignal; it then leaves the queue without ever holding it.

interface Waiter {
  grant: (release: () => void) => void;
  reject: (e: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** The reason an AbortSignal carries (an AbortError DOMException unless the caller gave one). */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

async function runHeld<T>(fn: () => Promise<T> | T, release: () => void): Promise<T> {
  try {
    return await fn();
  } finally {
    release();
  }
}

export class AsyncMutex {
  private held = false;
  private readonly queue: Waiter[] = [];

  /** Resolves with a release function once every earlier holder has released. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (!this.held) {
      this.held = true;
      return Promise.resolve(this.releaser());
    }
    return new Promise((grant, reject) => {
      const w: Waiter = { grant, reject, signal };
      if (signal) {
        w.onAbort = () => {
          const i = this.queue.indexOf(w);
          if (i >= 0) this.queue.splice(i, 1);
          reject(abortReason(signal));
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.queue.push(w);
    });
  }

  run<T>(fn: () => Promise<T> | T, signal?: AbortSignal): Promise<T> {
    // An idle mutex is taken at once: no promise to wait for (a measurable share of a fast call).
    if (!signal && !this.held) {
      this.held = true;
      return runHeld(fn, this.releaser());
    }
    return this.acquire(signal).then((release) => runHeld(fn, release));
  }

  /** The release function when the mutex is free now, else null (nothing is queued). */
  tryAcquire(): (() => void) | null {
    if (this.held) return null;
    this.held = true;
    return this.releaser();
  }

  /** True while someone holds the mutex. */
  get locked(): boolean {
    return this.held;
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.queue.shift();
      if (!next) {
        this.held = false;
        return;
      }
      if (next.signal && next.onAbort) next.signal.removeEventListener('abort', next.onAbort);
      next.grant(this.releaser());
    };
  }
}
