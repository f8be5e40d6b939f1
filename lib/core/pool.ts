// A session pool for servers: up to `size` sessions on one slot (capped by the token's own session
// limits), opened lazily, logged in once, handed out one caller at a time with a wait timeout.
import type { Pin } from '../binding/raw-types';
import type { Session, UserType } from '../session/session';
import type { Slot } from './slot';
import { DeviceRemovedError, SessionClosedError, SessionHandleInvalidError, TokenNotPresentError } from '../errors/generated';
import { PoolClosedError, PoolTimeoutError } from '../errors/library';

/** Errors after which a session cannot be used again. */
function sessionIsGone(e: unknown): boolean {
  return (
    e instanceof DeviceRemovedError ||
    e instanceof TokenNotPresentError ||
    e instanceof SessionHandleInvalidError ||
    e instanceof SessionClosedError
  );
}

export interface PoolOptions {
  /** Sessions at most (default 4); capped by the token's maxSessionCount / maxRwSessionCount. */
  size?: number;
  /** Read-write sessions (default true). */
  write?: boolean;
  /** Log the token in when the first session opens. */
  login?: Pin | { pin: Pin; user?: Exclude<UserType, 'context'> };
  /** How long use() waits for a free session before rejecting (ms, default 30000). */
  waitTimeout?: number;
}

export { PoolTimeoutError, PoolClosedError };

interface Waiter {
  resolve: (s: Session) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class SessionPool {
  private readonly idle: Session[] = [];
  private readonly busy = new Set<Session>();
  private readonly waiters: Waiter[] = [];
  private opening = 0;
  private closed = false;
  private drained: (() => void) | null = null;
  private draining: Promise<void> | null = null;
  private loggedIn: Promise<void> | null = null;

  /** @internal use Slot.pool() */
  constructor(
    readonly slot: Slot,
    /** The effective size after the token's limits. */
    readonly size: number,
    private readonly options: PoolOptions,
  ) {}

  /** @internal */
  static async create(slot: Slot, options: PoolOptions): Promise<SessionPool> {
    let size = options.size ?? 4;
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError("pool: option 'size' must be a positive integer");
    const info = await slot.tokenInfo();
    for (const limit of [info.maxSessionCount, options.write === false ? 'infinite' : info.maxRwSessionCount]) {
      if (typeof limit === 'number' && limit > 0) size = Math.min(size, limit);
    }
    return new SessionPool(slot, size, options);
  }

  get inUse(): number {
    return this.busy.size;
  }

  get opened(): number {
    return this.idle.length + this.busy.size + this.opening;
  }

  /** Runs `fn` with a session to itself and returns the session to the pool afterwards. */
  async use<T>(fn: (session: Session) => Promise<T>): Promise<T> {
    const s = await this.acquire();
    let gone = false;
    try {
      return await fn(s);
    } catch (e) {
      // The token was pulled or the session died under us: the error goes to the caller, and the
      // pool drops this session and the idle ones (they share the token's fate) and logs in
      // afresh, so the next use() works once the token is back.
      gone = sessionIsGone(e);
      if (gone) this.discardAll(s);
      throw e;
    } finally {
      if (!gone) this.release(s);
      else this.checkDrained();
    }
  }

  private discardAll(failed: Session): void {
    this.loggedIn = null;
    this.slot.setLoginState(null);
    for (const s of [failed, ...this.idle.splice(0)]) {
      this.busy.delete(s);
      s.close().catch(() => undefined);
    }
    // Waiters can now get a freshly opened session.
    this.serveWaiters();
  }

  private serveWaiters(): void {
    while (this.waiters.length > 0 && this.opened < this.size && !this.closed) {
      const w = this.waiters.shift()!;
      clearTimeout(w.timer);
      this.openOne().then(w.resolve, w.reject);
    }
  }

  private async acquire(): Promise<Session> {
    if (this.closed) throw new PoolClosedError();
    const idle = this.idle.pop();
    if (idle) {
      this.busy.add(idle);
      return idle;
    }
    if (this.opened < this.size) return this.openOne();
    const ms = this.options.waitTimeout ?? 30000;
    return new Promise<Session>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(new PoolTimeoutError(ms));
        }, ms),
      };
      this.waiters.push(waiter);
    });
  }

  private async openOne(): Promise<Session> {
    this.opening++;
    try {
      const s = await this.slot.openSession({ write: this.options.write !== false });
      try {
        await this.ensureLogin(s);
      } catch (e) {
        await s.close().catch(() => undefined);
        throw e;
      }
      this.busy.add(s);
      return s;
    } finally {
      this.opening--;
    }
  }

  private ensureLogin(s: Session): Promise<void> {
    const login = this.options.login;
    if (login === undefined) return Promise.resolve();
    if (!this.loggedIn) {
      const { pin, user } = typeof login === 'object' && login !== null && 'pin' in login ? login : { pin: login as Pin, user: undefined };
      this.loggedIn = s.login(pin, { user: user ?? 'user' });
      this.loggedIn.catch(() => (this.loggedIn = null));
    }
    return this.loggedIn;
  }

  private release(s: Session): void {
    this.busy.delete(s);
    if (!s.isOpen) {
      this.serveWaiters();
      return this.checkDrained();
    }
    const w = this.waiters.shift();
    if (w && !this.closed) {
      clearTimeout(w.timer);
      this.busy.add(s);
      w.resolve(s);
      return;
    }
    this.idle.push(s);
    this.checkDrained();
  }

  private checkDrained(): void {
    if (this.closed && this.busy.size === 0 && this.drained) this.drained();
  }

  /** Stops handing out sessions, waits for those in use to come back, then closes them all. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new PoolClosedError());
      }
    }
    // Every close() caller waits for the same drain (a second call must not replace the first's).
    if (this.busy.size > 0) await (this.draining ??= new Promise<void>((r) => (this.drained = r)));
    await Promise.all(this.idle.splice(0).map((s) => s.close()));
  }
}
