// A session pool for servers: up to `size` sessions on one slot (capped by the token's own session
// limits), opened lazily, logged in once, handed out one caller at a time with a wait timeout, and
// kept working through what long-running servers meet (docs/api.md, "Running in production"):
// a module that drops the login, a token that errors or goes away and comes back, a module that
// must be initialized again, a network HSM that stops answering.
import { EventEmitter } from 'node:events';
import type { Pin } from '../binding/raw-types';
import type { Session, SessionState, UserType } from '../session/session';
import type { Slot } from './slot';
import {
  CryptokiNotInitializedError,
  DeviceErrorError,
  DeviceRemovedError,
  GeneralError,
  KeyHandleInvalidError,
  ObjectHandleInvalidError,
  SessionClosedError,
  SessionHandleInvalidError,
  TokenNotPresentError,
  UserNotLoggedInError,
} from '../errors/generated';
import { PoolClosedError, PoolDeadlineError, PoolTimeoutError, StaleHandleError } from '../errors/library';
import { PoolEvent, publishPoolEvent } from './diagnostics';
import { backoffDelay, checkPoolOptions, checkUseOptions, resolvePolicy, ResolvedPolicy, retrySafe } from './pool-policy';
import type { PoolOptions, PoolStats, UseContext, UseOptions } from './pool-policy';

export type { BackoffOptions, PoolOptions, PoolStats, RecoveryPolicy, UseContext, UseOptions } from './pool-policy';
export { RETRY_SAFE_CALLS } from './pool-policy';

/** Errors after which a session cannot be used again; the token's other sessions share its fate. */
function sessionIsGone(e: unknown): boolean {
  return (
    e instanceof DeviceRemovedError ||
    e instanceof TokenNotPresentError ||
    e instanceof SessionHandleInvalidError ||
    e instanceof SessionClosedError ||
    e instanceof DeviceErrorError ||
    e instanceof StaleHandleError
  );
}

/**
 * The pool's copy of a PIN, in memory that can be wiped: an ArrayBuffer over 64 bytes lives outside
 * the V8 heap, so V8 never moves it (leaving a copy behind) when the addon reads it.
 */
function ownCopy(pin: Exclude<Pin, null>): Buffer {
  const src = typeof pin === 'string' ? Buffer.from(pin, 'utf8') : ArrayBuffer.isView(pin) ? Buffer.from(pin.buffer, pin.byteOffset, pin.byteLength) : Buffer.from(pin);
  const own = Buffer.from(new ArrayBuffer(Math.max(src.length, 128)), 0, src.length);
  src.copy(own);
  if (typeof pin === 'string') src.fill(0); // our transient encoding of the caller's string
  return own;
}

const PUBLIC_STATES: ReadonlySet<SessionState | unknown> = new Set(['roPublic', 'rwPublic']);

interface Waiter {
  resolve: (s: Session) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
  signal?: AbortSignal;
  onAbort?: () => void;
}

type Counters = Pick<PoolStats, 'recovered' | 'retried' | 'failed' | 'dropped' | 'reinitialized' | 'timedOut'>;

/**
 * Emits 'recovered', 'reinitialized', 'reinitializeFailed', 'sessionDropped', 'quarantined' and
 * 'timeout' (each with a PoolEvent, also published on the `p11bridge:pool` diagnostics channel).
 * Never 'error': failures go to the use() caller.
 */
export class SessionPool extends EventEmitter {
  private readonly idle: Session[] = [];
  private readonly busy = new Set<Session>();
  private readonly quarantined = new Set<Session>();
  private readonly waiters: Waiter[] = [];
  private opening = 0;
  private closed = false;
  private drained: (() => void) | null = null;
  private draining: Promise<void> | null = null;
  private loggedIn: Promise<void> | null = null;
  /** The pool's own copy of the PIN; null when none is kept (no login, relogin off, closed). */
  private pin: Buffer | null = null;
  /** A login without a PIN (protected authentication path), kept for logins again. */
  private readonly pinless: boolean;
  private readonly user: Exclude<UserType, 'context'>;
  /** Bumped by every login again, so callers that failed before it do not log in once more. */
  private loginEpoch = 0;
  private relogging: Promise<void> | null = null;
  private recovering: Promise<void> | null = null;
  private generalErrors = 0;
  private readonly policy: ResolvedPolicy;
  private readonly counters: Counters = { recovered: 0, retried: 0, failed: 0, dropped: 0, reinitialized: 0, timedOut: 0 };
  private timer: NodeJS.Timeout | null = null;
  private checking = false;

  /** The options without `login`: the PIN is kept in `pin` only. */
  private readonly options: Omit<PoolOptions, 'login'>;
  private readonly wantsLogin: boolean;
  /** Sessions in the order they were opened, to tell the ones older than a failure. */
  private readonly born = new WeakMap<Session, number>();
  private births = 0;
  /** `born` of the session the current login was made through (0: none). */
  private loginBorn = 0;

  /** @internal use Slot.pool() */
  constructor(
    readonly slot: Slot,
    /** The effective size after the token's limits. */
    readonly size: number,
    options: PoolOptions,
  ) {
    super();
    const { login, ...rest } = options;
    this.options = rest;
    this.wantsLogin = login !== undefined;
    this.policy = resolvePolicy(options.recovery);
    const spec = typeof login === 'object' && login !== null && 'pin' in login ? login : { pin: login as Pin | undefined, user: undefined };
    this.user = spec.user ?? 'user';
    this.pinless = login !== undefined && (spec.pin === null || spec.pin === undefined);
    if (login !== undefined && !this.pinless) this.pin = ownCopy(spec.pin as Exclude<Pin, null>);
    const every = options.healthCheck?.intervalMs;
    if (every !== undefined) {
      this.timer = setInterval(() => this.check().catch(() => undefined), every);
      this.timer.unref();
    }
  }

  /** @internal */
  static async create(slot: Slot, options: PoolOptions): Promise<SessionPool> {
    checkPoolOptions(options);
    let size = options.size ?? 4;
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
    return this.idle.length + this.busy.size + this.opening + this.quarantined.size;
  }

  stats(): PoolStats {
    return {
      size: this.size,
      opened: this.opened,
      inUse: this.busy.size,
      idle: this.idle.length,
      waiting: this.waiters.length,
      quarantined: this.quarantined.size,
      ...this.counters,
    };
  }

  /**
   * Runs `fn` with a session to itself and returns the session to the pool afterwards. Failures
   * the pool can repair (see RecoveryPolicy) are repaired first, and `fn` runs once more when
   * that is safe; every other error goes to the caller as it came.
   */
  use<T>(fn: (session: Session, context: UseContext) => Promise<T>, options: UseOptions = {}): Promise<T> {
    if (typeof fn !== 'function') return Promise.reject(new TypeError("use: argument 'fn' must be a function"));
    try {
      checkUseOptions(options);
    } catch (e) {
      return Promise.reject(e);
    }
    const ms = options.timeoutMs ?? this.options.timeoutMs;
    if (ms === undefined && !options.signal) return this.counted(this.attempt(fn, undefined, options.retry));
    const ac = new AbortController();
    const outer = options.signal;
    const timer = ms === undefined ? undefined : setTimeout(() => ac.abort(new PoolDeadlineError(ms)), ms);
    const onOuter = () => ac.abort(outer!.reason);
    if (outer?.aborted) onOuter();
    else outer?.addEventListener('abort', onOuter, { once: true });
    const inner = this.attempt(fn, ac.signal, options.retry);
    // Past the deadline nobody waits for `inner`; it still returns or quarantines its session.
    inner.catch(() => undefined);
    return this.counted(
      new Promise<T>((resolve, reject) => {
        const onAbort = () => {
          this.counters.timedOut++;
          this.note({ event: 'timeout', slot: this.slot.id, error: ac.signal.reason });
          reject(ac.signal.reason);
        };
        if (ac.signal.aborted) return onAbort();
        ac.signal.addEventListener('abort', onAbort, { once: true });
        inner.then(resolve, reject).finally(() => {
          ac.signal.removeEventListener('abort', onAbort);
          clearTimeout(timer);
          outer?.removeEventListener('abort', onOuter);
        });
      }),
    );
  }

  private async counted<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (e) {
      this.counters.failed++;
      throw e;
    }
  }

  /**
   * fn on a session, with at most one repair and one run again. A failure to get a session (a
   * token gone, a module needing C_Initialize) is repaired the same way.
   */
  private async attempt<T>(fn: (session: Session, context: UseContext) => Promise<T>, signal: AbortSignal | undefined, retry: boolean | undefined): Promise<T> {
    let s: Session | null = null; // kept across a login again, replaced after other repairs
    for (let again = false; ; again = true) {
      const log: string[] = [];
      const epoch = this.loginEpoch;
      let generation = this.slot.module.generation;
      let failure: unknown;
      try {
        s ??= await this.acquire(signal);
        generation = s.generation;
        const value = await this.runFn(fn, s, log, signal);
        this.generalErrors = 0;
        this.release(s);
        return value;
      } catch (e) {
        failure = e;
      }
      if (s && this.quarantined.has(s)) throw failure;
      if (failure instanceof UserNotLoggedInError) {
        // The module says the login is gone, whatever the slot believed: repaired or not, the next
        // login must reach the module.
        this.slot.setLoginState(null);
        this.loggedIn = null;
      }
      let action = this.policy.enabled && !this.closed && !signal?.aborted ? this.recoveryFor(failure) : null;
      if (action === 'relogin' && !s) action = null;
      if (action === null && s && this.policy.enabled && (failure instanceof ObjectHandleInvalidError || failure instanceof KeyHandleInvalidError)) {
        if (await this.loginLost(s, epoch)) action = 'relogin';
      }
      if (!action) {
        if (s) this.release(s);
        throw failure;
      }
      const safe = retry ?? retrySafe(log);
      if (action === 'relogin') {
        try {
          await this.relogin(s!, epoch);
        } catch (e) {
          // Logging in failed too (a PIN changed meanwhile): that is the error to act on.
          this.release(s!);
          throw e;
        }
      } else {
        // The session is dead or of a module about to be re-initialized; so are the idle ones.
        this.discardAll(s, failure, action === 'reopen', action === 'reinitialize');
        s = null;
        if (action === 'reinitialize') await this.reinitialize(generation); // its last error, when it gives up
      }
      const retried = safe && !again && !signal?.aborted && !this.closed;
      this.note({ event: 'recovered', slot: this.slot.id, reason: action, retried, error: failure });
      if (!retried) {
        if (s) this.release(s);
        throw failure;
      }
      this.counters.retried++;
    }
  }

  /** Runs fn on s, recording its calls; at the deadline s leaves the pool's hands until fn settles. */
  private async runFn<T>(fn: (session: Session, context: UseContext) => Promise<T>, s: Session, log: string[], signal: AbortSignal | undefined): Promise<T> {
    let work: Promise<T>;
    s.callLog = log;
    try {
      work = Promise.resolve(fn(s, { signal }));
    } catch (e) {
      work = Promise.reject(e);
    }
    const abandon = () => this.quarantine(s, work);
    signal?.addEventListener('abort', abandon, { once: true });
    try {
      return await work;
    } finally {
      signal?.removeEventListener('abort', abandon);
      s.callLog = null;
    }
  }

  /**
   * Whether the login was lost while fn ran: a module that drops the login drops its handles of
   * private objects with it, so a call with a key found before fails with an invalid handle
   * instead of CKR_USER_NOT_LOGGED_IN (SoftHSM does).
   */
  private async loginLost(s: Session, epoch: number): Promise<boolean> {
    if (!this.policy.relogin || (this.pin === null && !this.pinless) || this.closed) return false;
    if (this.loginEpoch !== epoch || this.relogging) return true;
    const info = await s.info().catch(() => null);
    return info !== null && PUBLIC_STATES.has(info.state);
  }

  /** What repairs this failure, if the policy allows it. */
  private recoveryFor(e: unknown): 'relogin' | 'reopen' | 'reinitialize' | null {
    const p = this.policy;
    if (e instanceof UserNotLoggedInError) return p.relogin && (this.pin !== null || this.pinless) ? 'relogin' : null;
    if (e instanceof CryptokiNotInitializedError) return p.reinitialize ? 'reinitialize' : null;
    if (e instanceof GeneralError) {
      this.generalErrors++;
      return p.reinitialize && this.generalErrors >= p.generalErrors ? 'reinitialize' : null;
    }
    return sessionIsGone(e) ? 'reopen' : null;
  }

  private note(e: PoolEvent): void {
    publishPoolEvent(e);
    this.emit(e.event, e);
  }

  /** Logs the token in again through `s`, once for all the callers that failed meanwhile. */
  private relogin(s: Session, epoch: number): Promise<void> {
    if (this.loginEpoch !== epoch) return Promise.resolve(); // someone logged in again since fn started
    if (!this.relogging) {
      this.relogging = (async () => {
        try {
          // The module forgot the login; so must the slot, or login() would think it a no-op.
          this.slot.setLoginState(null);
          await s.login(this.pinless ? null : this.pin, { user: this.user });
          this.loginEpoch++;
          this.counters.recovered++;
        } finally {
          this.relogging = null;
        }
      })();
    }
    return this.relogging;
  }

  /** Module.reinitialize() with the policy's backoff, unless it ran since `generation`. */
  private reinitialize(generation: number): Promise<void> {
    const m = this.slot.module;
    if (m.generation !== generation) return Promise.resolve();
    if (!this.recovering) {
      this.recovering = (async () => {
        try {
          for (let attempt = 1; ; attempt++) {
            try {
              await m.reinitialize();
              this.counters.reinitialized++;
              this.counters.recovered++;
              this.note({ event: 'reinitialized', slot: this.slot.id, attempt });
              return;
            } catch (e) {
              this.note({ event: 'reinitializeFailed', slot: this.slot.id, attempt, error: e });
              if (attempt >= this.policy.backoff.attempts || this.closed || m.isClosed) throw e;
              await new Promise((r) => setTimeout(r, backoffDelay(this.policy.backoff, attempt)));
            }
          }
        } finally {
          this.recovering = null;
        }
      })();
    }
    return this.recovering;
  }

  private quarantine<T>(s: Session, work: Promise<T>): void {
    if (!this.busy.delete(s)) return;
    this.quarantined.add(s);
    this.note({ event: 'quarantined', slot: this.slot.id });
    const done = () => {
      // Its call is back; what state the session is in is unknown, so it is closed, not reused.
      s.close()
        .catch(() => undefined)
        .finally(() => {
          this.quarantined.delete(s);
          this.serveWaiters();
          this.checkDrained();
        });
    };
    work.then(done, done);
  }

  private drop(s: Session, why: unknown): void {
    this.busy.delete(s);
    this.counters.dropped++;
    const named = why as { code?: string; rvName?: string } | null;
    this.note({ event: 'sessionDropped', slot: this.slot.id, reason: named?.rvName ?? named?.code ?? 'unknown', error: why });
    s.close().catch(() => undefined);
  }

  /**
   * Drops `failed` and the idle sessions opened before it (they share the token's fate; those
   * opened after it, once the token was back, do not), and logs in afresh unless the login was
   * made after it too.
   */
  private discardAll(failed: Session | null, why: unknown, repair: boolean, all = false): void {
    const cutoff = failed && !all ? (this.born.get(failed) ?? Infinity) : Infinity;
    if (this.loginBorn <= cutoff) {
      this.loggedIn = null;
      this.slot.setLoginState(null);
    }
    if (repair) this.counters.recovered++;
    const older = this.idle.filter((s) => (this.born.get(s) ?? 0) <= cutoff);
    this.idle.splice(0, this.idle.length, ...this.idle.filter((s) => !older.includes(s)));
    if (failed) this.drop(failed, why);
    for (const s of older) this.drop(s, why);
    // Waiters can now get a freshly opened session.
    this.serveWaiters();
    this.checkDrained();
  }

  private serveWaiters(): void {
    while (this.waiters.length > 0 && this.opened < this.size && !this.closed) {
      const w = this.takeWaiter()!;
      this.openOne().then(w.resolve, w.reject);
    }
  }

  private takeWaiter(): Waiter | undefined {
    const w = this.waiters.shift();
    if (w) {
      clearTimeout(w.timer);
      if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
    }
    return w;
  }

  private async acquire(signal?: AbortSignal): Promise<Session> {
    if (this.closed) throw new PoolClosedError();
    if (signal?.aborted) throw signal.reason;
    for (let idle = this.idle.pop(); idle; idle = this.idle.pop()) {
      if (idle.isOpen) {
        this.busy.add(idle);
        return idle;
      }
      // Left over from before Module.reinitialize() (by another pool or the application).
      this.drop(idle, { code: 'ERR_P11_STALE_HANDLE' });
    }
    if (this.opened < this.size) return this.openOne();
    const ms = this.options.waitTimeout ?? 30000;
    return new Promise<Session>((resolve, reject) => {
      const leave = (e: unknown) => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        clearTimeout(waiter.timer);
        if (waiter.onAbort) signal!.removeEventListener('abort', waiter.onAbort);
        reject(e);
      };
      const waiter: Waiter = { resolve, reject, signal, timer: setTimeout(() => leave(new PoolTimeoutError(ms)), ms) };
      if (signal) {
        waiter.onAbort = () => leave(signal.reason);
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiters.push(waiter);
    });
  }

  private async openOne(): Promise<Session> {
    this.opening++;
    try {
      const s = await this.slot.openSession({ write: this.options.write !== false });
      this.born.set(s, ++this.births);
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
    if (!this.wantsLogin) return Promise.resolve();
    if (!this.loggedIn) {
      this.loginBorn = this.born.get(s) ?? 0;
      if (this.pin === null && !this.pinless) {
        // relogin: false and the first login happened (or the pool closed): nothing to log in with.
        this.loggedIn = Promise.resolve();
      } else {
        // Whatever the slot believes (a login made before, since dropped by the module): C_Login
        // runs, and an answer of CKR_USER_ALREADY_LOGGED_IN is as good.
        this.slot.setLoginState(null);
        this.loggedIn = s.login(this.pinless ? null : this.pin, { user: this.user }).then(() => {
          if (!this.policy.relogin) this.forgetPin();
        });
        this.loggedIn.catch(() => (this.loggedIn = null));
      }
    }
    return this.loggedIn;
  }

  private forgetPin(): void {
    this.pin?.fill(0);
    this.pin = null;
  }

  private release(s: Session): void {
    if (this.quarantined.has(s)) return; // closed by quarantine() once its call is back
    this.busy.delete(s);
    if (!s.isOpen) {
      // Closed by fn, or left over from before Module.reinitialize().
      s.close().catch(() => undefined);
      this.serveWaiters();
      return this.checkDrained();
    }
    const w = this.closed ? undefined : this.takeWaiter();
    if (w) {
      this.busy.add(s);
      w.resolve(s);
      return;
    }
    this.idle.push(s);
    this.checkDrained();
  }

  /** The health check: C_GetSessionInfo on each idle session; dead ones go, a lost login comes back. */
  private async check(): Promise<void> {
    if (this.checking || this.closed) return;
    this.checking = true;
    const sessions = this.idle.splice(0);
    for (const s of sessions) this.busy.add(s);
    const loggedOut: Session[] = [];
    try {
      await Promise.all(
        sessions.map(async (s) => {
          try {
            const info = await s.info();
            if (this.wantsLogin && PUBLIC_STATES.has(info.state)) loggedOut.push(s);
          } catch (e) {
            if (sessionIsGone(e)) {
              this.drop(s, e);
              this.loggedIn = null;
            }
          }
        }),
      );
      if (loggedOut.length > 0 && this.policy.enabled && this.policy.relogin && (this.pin !== null || this.pinless)) {
        try {
          await this.relogin(loggedOut[0], this.loginEpoch);
          this.note({ event: 'recovered', slot: this.slot.id, reason: 'relogin', retried: false });
        } catch {
          // The next use() meets the failure and reports it.
        }
      }
    } finally {
      this.checking = false;
      for (const s of sessions) if (this.busy.has(s)) this.release(s);
    }
  }

  private checkDrained(): void {
    if (this.closed && this.busy.size === 0 && this.drained) this.drained();
  }

  /**
   * Stops handing out sessions, waits for those in use to come back, then closes them all and
   * zeroes the pool's copy of the PIN. Quarantined sessions close when their call returns.
   */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
        w.reject(new PoolClosedError());
      }
    }
    // Every close() caller waits for the same drain (a second call must not replace the first's).
    if (this.busy.size > 0) await (this.draining ??= new Promise<void>((r) => (this.drained = r)));
    this.forgetPin();
    await Promise.all(this.idle.splice(0).map((s) => s.close()));
  }
}

export { PoolTimeoutError, PoolClosedError, PoolDeadlineError, StaleHandleError };
