// The session pool's options and recovery policy: their types and checks, the backoff between
// attempts to re-initialize, and which typed calls are safe to run again.
import type { Pin } from '../binding/raw-types';
import type { UserType } from '../session/session';

export interface PoolOptions {
  /** Sessions at most (default 4); capped by the token's maxSessionCount / maxRwSessionCount. */
  size?: number;
  /** Read-write sessions (default true). */
  write?: boolean;
  /**
   * Log the token in when the first session opens. The pool keeps a copy of the PIN (a Buffer of
   * its own, zeroed by close()) to log in again after the module drops the login or the token
   * comes back; `recovery: { relogin: false }` zeroes it after the first login instead.
   */
  login?: Pin | { pin: Pin; user?: Exclude<UserType, 'context'> };
  /** How long use() waits for a free session before rejecting (ms, default 30000). */
  waitTimeout?: number;
  /** A deadline for every use() (ms, default none); use()'s own `timeoutMs` overrides it. */
  timeoutMs?: number;
  /** What the pool does about failures (see RecoveryPolicy); false turns recovery off. */
  recovery?: RecoveryPolicy | false;
  /**
   * Checks idle sessions every `intervalMs` (C_GetSessionInfo) and drops dead ones, logging in
   * again when the login was lost, before a caller meets either. Off by default. The timer is
   * unref'd: it does not keep the process alive.
   */
  healthCheck?: { intervalMs: number };
}

/** Options of one use(). */
export interface UseOptions {
  /**
   * A deadline (ms) from the call of use(): waiting for a session and running `fn` together.
   * At the deadline use() rejects with PoolDeadlineError and the signal given to `fn` aborts. A
   * module call cannot be interrupted: the session stays out of the pool (quarantined, counted in
   * `opened`) until `fn` settles, and is then closed rather than reused.
   */
  timeoutMs?: number;
  /** Gives up like the deadline does, with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Run `fn` again after a recovery: true (the caller vouches that `fn` is safe to repeat), false
   * (never), or unset: only when `fn` made no call that changes the token (see RecoveryPolicy).
   */
  retry?: boolean;
}

/** What `fn` gets besides the session. */
export interface UseContext {
  /** Aborts at the deadline or with UseOptions.signal: pass it to the typed calls as `{ signal }`. */
  signal?: AbortSignal;
}

/** Counters and gauges of a pool (pool.stats()). */
export interface PoolStats {
  size: number;
  /** Sessions open or opening, including those in use, idle, checked and quarantined. */
  opened: number;
  inUse: number;
  idle: number;
  /** use() calls waiting for a session. */
  waiting: number;
  /** Sessions abandoned at a deadline whose module call has not returned yet. */
  quarantined: number;
  /** Repairs carried out: logins again, sets of dead sessions dropped, re-initializations (several callers may share one). */
  recovered: number;
  /** use() calls whose `fn` ran again after a recovery. */
  retried: number;
  /** use() calls that rejected. */
  failed: number;
  /** Sessions dropped because they were dead (by a caller's error or the health check). */
  dropped: number;
  /** Successful Module.reinitialize() calls made by this pool. */
  reinitialized: number;
  /** use() calls that hit their deadline (or their signal). */
  timedOut: number;
}

/**
 * What SessionPool does when `fn` fails (slot.pool({ recovery })). Every recovery is reported as
 * a pool event ('recovered', 'reinitialized'…); `fn` then runs once more when that is safe: when
 * every call it made on the session is one that changes nothing on the token (`RETRY_SAFE_CALLS`:
 * sign, verify, encrypt, decrypt, digest, find, getAttributes, random, info…), or UseOptions.retry
 * says so. Calls that create, change or destroy (createObject, generate*, derive, unwrap, copy,
 * setAttributes, destroy, login, setPin…) are never repeated by the pool: their error reaches the
 * caller, after the repair, so the caller's next use() works.
 */
export interface RecoveryPolicy {
  /**
   * CKR_USER_NOT_LOGGED_IN (the module dropped the login: idle timeouts, HSM restarts): log in
   * again with the pool's copy of the PIN (default true). false: the PIN is zeroed after the
   * first login and such errors go to the caller.
   */
  relogin?: boolean;
  /**
   * CKR_CRYPTOKI_NOT_INITIALIZED, or `generalErrors` CKR_GENERAL_ERROR in a row across the pool:
   * Module.reinitialize() (C_Finalize + C_Initialize), retried with `backoff` (default true).
   * Every session and object of the module, in this pool or not, then throws StaleHandleError.
   */
  reinitialize?: boolean;
  /** CKR_GENERAL_ERROR answers in a row (no success between) that call for re-initialization (default 3). */
  generalErrors?: number;
  /** Attempts at Module.reinitialize() and the delays between them. */
  backoff?: BackoffOptions;
}

export interface BackoffOptions {
  /** Attempts in all (default 5). */
  attempts?: number;
  /** Delay after the first failed attempt (ms, default 100). */
  initialMs?: number;
  /** Each delay is the previous one times this (default 2). */
  factor?: number;
  /** No delay is longer (ms, default 5000). */
  maxMs?: number;
}

/** @internal */
export interface ResolvedPolicy {
  enabled: boolean;
  relogin: boolean;
  reinitialize: boolean;
  generalErrors: number;
  backoff: Required<BackoffOptions>;
}

/**
 * Typed calls (Session.run names; the fast one-shot path never records) that read or compute and
 * change nothing on the token: running a use() again after only these is safe. Multi-part
 * operations started inside `fn` (signInit…) start over when `fn` runs again.
 */
export const RETRY_SAFE_CALLS: ReadonlySet<string> = new Set([
  'random',
  'info',
  'object',
  'getAttributes',
  'size',
  'find',
  'sign',
  'verify',
  'encrypt',
  'decrypt',
  'digest',
  'wrap',
  'signStream',
  'verifyStream',
]);

/** @internal */
export function retrySafe(calls: readonly string[]): boolean {
  return calls.every((c) => RETRY_SAFE_CALLS.has(c));
}

function positiveInteger(v: unknown, name: string): void {
  if (v !== undefined && (!Number.isSafeInteger(v) || (v as number) < 1)) throw new RangeError(`pool: option '${name}' must be a positive integer`);
}

function positiveMs(v: unknown, name: string): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 2 ** 31 - 1)) {
    throw new RangeError(`${name} must be a positive number of milliseconds (at most 2147483647)`);
  }
}

function checkBool(v: unknown, name: string): void {
  if (v !== undefined && typeof v !== 'boolean') throw new TypeError(`pool: option '${name}' must be a boolean`);
}

/** @internal */
export function resolvePolicy(p: RecoveryPolicy | false | undefined): ResolvedPolicy {
  const o = p === false ? {} : (p ?? {});
  const b = o.backoff ?? {};
  return {
    enabled: p !== false,
    relogin: p !== false && o.relogin !== false,
    reinitialize: p !== false && o.reinitialize !== false,
    generalErrors: o.generalErrors ?? 3,
    backoff: { attempts: b.attempts ?? 5, initialMs: b.initialMs ?? 100, factor: b.factor ?? 2, maxMs: b.maxMs ?? 5000 },
  };
}

/** @internal The delay after failed attempt `attempt` (1-based). */
export function backoffDelay(b: Required<BackoffOptions>, attempt: number): number {
  return Math.min(b.maxMs, b.initialMs * b.factor ** (attempt - 1));
}

/** @internal Option checks of slot.pool(): TypeError / RangeError naming the option. */
export function checkPoolOptions(o: { size?: unknown; waitTimeout?: unknown; timeoutMs?: unknown; recovery?: unknown; healthCheck?: unknown }): void {
  if (o === null || typeof o !== 'object') throw new TypeError("pool: argument 'options' must be an object");
  const size = o.size ?? 4;
  if (!Number.isSafeInteger(size) || (size as number) < 1) throw new RangeError("pool: option 'size' must be a positive integer");
  positiveMs(o.waitTimeout, "pool: option 'waitTimeout'");
  positiveMs(o.timeoutMs, "pool: option 'timeoutMs'");
  const h = o.healthCheck;
  if (h !== undefined) {
    if (h === null || typeof h !== 'object') throw new TypeError("pool: option 'healthCheck' must be { intervalMs }");
    const ms = (h as { intervalMs?: unknown }).intervalMs;
    if (ms === undefined) throw new TypeError("pool: option 'healthCheck.intervalMs' is required");
    positiveMs(ms, "pool: option 'healthCheck.intervalMs'");
  }
  const r = o.recovery;
  if (r === undefined || r === false) return;
  if (r === null || typeof r !== 'object') throw new TypeError("pool: option 'recovery' must be an object or false");
  const p = r as RecoveryPolicy;
  checkBool(p.relogin, 'recovery.relogin');
  checkBool(p.reinitialize, 'recovery.reinitialize');
  positiveInteger(p.generalErrors, 'recovery.generalErrors');
  const b = p.backoff;
  if (b === undefined) return;
  if (b === null || typeof b !== 'object') throw new TypeError("pool: option 'recovery.backoff' must be an object");
  positiveInteger(b.attempts, 'recovery.backoff.attempts');
  if (b.initialMs !== undefined) positiveMs(b.initialMs, "pool: option 'recovery.backoff.initialMs'");
  if (b.maxMs !== undefined) positiveMs(b.maxMs, "pool: option 'recovery.backoff.maxMs'");
  if (b.factor !== undefined && (typeof b.factor !== 'number' || !Number.isFinite(b.factor) || b.factor < 1)) {
    throw new RangeError("pool: option 'recovery.backoff.factor' must be a number >= 1");
  }
}

/** @internal Option checks of pool.use(). */
export function checkUseOptions(o: { timeoutMs?: unknown; signal?: unknown; retry?: unknown }): void {
  if (o === null || typeof o !== 'object') throw new TypeError("use: argument 'options' must be an object");
  positiveMs(o.timeoutMs, "use: option 'timeoutMs'");
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new TypeError("use: option 'signal' must be an AbortSignal");
  if (o.retry !== undefined && typeof o.retry !== 'boolean') throw new TypeError("use: option 'retry' must be a boolean");
}
