// A session: one PKCS#11 call at a time (an async mutex), login state shared by every session of
// the token (PKCS#11 logs in per token, not per session), closed by close(), `await using`, or —
// as a backstop — when it is garbage-collected unclosed.
import * as C from '../constants/generated';
import { SessionClosedError as CkrSessionClosedError, SessionHandleInvalidError, UserAlreadyLoggedInError, UserNotLoggedInError } from '../errors/generated';
import { ModuleClosedError, SessionNotOpenError, StaleHandleError } from '../errors/library';
import { callChannel, traceCall } from '../core/diagnostics';
import type { Module } from '../core/module';
import type { Pin, SessionInfo as RawSessionInfo, Ulong } from '../binding/raw-types';
import type { PKCS11 } from '../binding/raw-types';
import { abortReason, AsyncMutex } from '../util/mutex';
import { asyncDispose } from '../util/dispose';
import type { Slot } from '../core/slot';
import { MechanismSpec, resolveMechanism } from '../mechanisms';

export type UserType = 'user' | 'so' | 'context';

const USER_TYPES: Record<UserType, number> = { user: C.CKU_USER, so: C.CKU_SO, context: C.CKU_CONTEXT_SPECIFIC };

export type SessionState = 'roPublic' | 'roUser' | 'rwPublic' | 'rwUser' | 'rwSO';

const STATES: Record<number, SessionState> = {
  [C.CKS_RO_PUBLIC_SESSION]: 'roPublic',
  [C.CKS_RO_USER_FUNCTIONS]: 'roUser',
  [C.CKS_RW_PUBLIC_SESSION]: 'rwPublic',
  [C.CKS_RW_USER_FUNCTIONS]: 'rwUser',
  [C.CKS_RW_SO_FUNCTIONS]: 'rwSO',
};

export interface SessionInfo {
  slotID: Ulong;
  state: SessionState | Ulong;
  readWrite: boolean;
  deviceError: Ulong;
}

/** Options every slow typed call takes. */
export interface CallOptions {
  /**
   * Gives up on the call: before it starts it never runs; once the module is working the promise
   * rejects at once (the module's call still ends on its own; its result is dropped).
   */
  signal?: AbortSignal;
}

export { SessionNotOpenError };

// Closes sessions whose objects were collected without close(): a leaked session would keep the
// token's session count (and its login) alive until the module is finalized.
// Not after Module.reinitialize(): the module closed the session, and its number may be a new one's.
const backstop = new FinalizationRegistry<{ raw: PKCS11; handle: Ulong; onClosed: () => void; module: Module; generation: number }>((held) => {
  if (held.module.generation !== held.generation) return;
  try {
    held.raw.C_CloseSession(held.handle);
  } catch {
    // The module may be finalized already; nothing is left to close then.
  }
  held.onClosed();
});

export class Session {
  private readonly mutex = new AsyncMutex();
  private open = true;
  private readonly token: object = {};

  /** @internal The Module.generation the session was opened under. */
  readonly generation: number;
  /** @internal SessionPool: the names of the calls run() makes while set (retry safety). */
  callLog: string[] | null = null;

  /** @internal use Slot.openSession() */
  constructor(
    readonly slot: Slot,
    private readonly rawHandle: Ulong,
    readonly readWrite: boolean,
  ) {
    this.generation = slot.module.generation;
    const onClosed = slot.sessionClosedCallback(rawHandle);
    backstop.register(this, { raw: slot.module.raw, handle: rawHandle, onClosed, module: slot.module, generation: this.generation }, this.token);
  }

  /**
   * The session handle. Throws StaleHandleError after Module.reinitialize(): so does every call
   * that would use it, the calls of the objects reached through this session included.
   */
  get handle(): Ulong {
    if (this.generation !== this.slot.module.generation) throw new StaleHandleError('session');
    return this.rawHandle;
  }

  /** False once closed, and after Module.reinitialize(). */
  get isOpen(): boolean {
    return this.open && this.generation === this.slot.module.generation;
  }

  /** Runs `fn` with this session to itself: calls on one session never interleave. */
  run<T>(what: string, fn: (raw: PKCS11, handle: Ulong) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const m = this.slot.module;
    if (!this.open || m.isClosed) return Promise.reject(new SessionNotOpenError(what));
    this.callLog?.push(what);
    // Issued before close(): close() lets it finish.
    return m.admit(() =>
      signal
        ? this.runAbortable(what, fn, signal)
        : this.mutex.run(() => {
            if (!this.open || m.finalizing) throw new SessionNotOpenError(what);
            return m.call(callChannel.hasSubscribers ? () => traceCall(what, this.slot.id, this.rawHandle, () => fn(m.raw, this.handle)) : () => fn(m.raw, this.handle));
          }),
    );
  }

  /**
   * @internal Takes the session at once for a hot path, or null when that would mean waiting
   * (another call holds it) or failing (closed): the caller then takes the ordinary run().
   */
  tryHold(): (() => void) | null {
    if (!this.open || this.slot.module.isClosed) return null;
    return this.mutex.tryAcquire();
  }

  /**
   * run() with an AbortSignal. Aborted while waiting for the session: the call never starts.
   * Aborted while the module works: the promise rejects at once with the signal's reason; a C
   * call cannot be interrupted, so the session stays busy until the module returns, and the
   * result is dropped.
   */
  private async runAbortable<T>(what: string, fn: (raw: PKCS11, handle: Ulong) => Promise<T>, signal: AbortSignal): Promise<T> {
    const release = await this.mutex.acquire(signal);
    let work: Promise<T>;
    try {
      if (signal.aborted) throw abortReason(signal);
      if (!this.open || this.slot.module.finalizing) throw new SessionNotOpenError(what);
      const m = this.slot.module;
      work = m.call(callChannel.hasSubscribers ? () => traceCall(what, this.slot.id, this.rawHandle, () => fn(m.raw, this.handle)) : () => fn(m.raw, this.handle));
    } catch (e) {
      release();
      throw e;
    }
    const done = work.finally(release);
    if (signal.aborted) {
      done.catch(() => undefined);
      throw abortReason(signal);
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        done.catch(() => undefined);
        reject(abortReason(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      done.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  /**
   * Logs in as the user (default), the SO, or context-specific (for a CKA_ALWAYS_AUTHENTICATE
   * key's next operation). Login is per token: when another session already logged the same user
   * in, this is a no-op. `pin` null or omitted uses the protected authentication path.
   */
  async login(pin?: Pin | null, options: { user?: UserType; signal?: AbortSignal } = {}): Promise<void> {
    const user = options.user ?? 'user';
    if (!Object.prototype.hasOwnProperty.call(USER_TYPES, user)) throw new TypeError("login: option 'user' must be 'user', 'so' or 'context'");
    const tokenState = this.slot.loginState;
    if (user !== 'context' && tokenState === user) return;
    if (pin === undefined || pin === null) {
      // Without a PIN the module must collect it itself (PIN pad, biometrics); on any other token
      // a NULL PIN is a caller's mistake the module would answer with a vague CKR_ARGUMENTS_BAD.
      const info = await this.slot.tokenInfo();
      if (!info.flags.protectedAuthenticationPath) {
        throw new TypeError("login: argument 'pin' is required (the token has no protected authentication path)");
      }
    }
    await this.run(
      'login',
      async (raw, h) => {
        try {
          await raw.C_LoginAsync(h, USER_TYPES[user], pin ?? null);
        } catch (e) {
          // Logged in outside this library (another process' session, or a raw call): same result.
          if (!(e instanceof UserAlreadyLoggedInError)) throw e;
        }
      },
      options.signal,
    );
    if (user !== 'context') this.slot.setLoginState(user);
  }

  async logout(): Promise<void> {
    await this.run('logout', async (raw, h) => {
      try {
        await raw.C_LogoutAsync(h);
      } catch (e) {
        if (!(e instanceof UserNotLoggedInError)) throw e;
      }
    });
    this.slot.setLoginState(null);
  }

  async info(): Promise<SessionInfo> {
    const r: RawSessionInfo = await this.run('info', (raw, h) => raw.C_GetSessionInfoAsync(h));
    const state = typeof r.state === 'number' ? (STATES[r.state] ?? r.state) : r.state;
    return {
      slotID: r.slotID,
      state,
      readWrite: (BigInt(r.flags) & BigInt(C.CKF_RW_SESSION)) !== 0n,
      deviceError: r.deviceError,
    };
  }

  /** @internal Resolves `spec`, takes the session and runs `init`: the start of every *Init method. */
  startOperation(
    what: string,
    spec: MechanismSpec,
    init: (raw: PKCS11, h: Ulong, m: import('../binding/raw-types').Mechanism) => Promise<void>,
    signal?: AbortSignal,
  ): Promise<{ release: () => void }> {
    const m = this.slot.module;
    if (!this.open || m.isClosed) return Promise.reject(new SessionNotOpenError(what));
    return m.admit(() => this.initOperation(what, spec, init, signal));
  }

  private async initOperation(
    what: string,
    spec: MechanismSpec,
    init: (raw: PKCS11, h: Ulong, m: import('../binding/raw-types').Mechanism) => Promise<void>,
    signal: AbortSignal | undefined,
  ): Promise<{ release: () => void }> {
    const supported = await this.slot.mechanismSet();
    const r = resolveMechanism(spec, (t) => supported.has(String(t)), what);
    if (r.prehash) throw new RangeError(`${what}: this token needs ECDSA hashed in Node; use sign()/verify() or { name: 'ECDSA' } over a digest`);
    const release = await this.mutex.acquire(signal);
    try {
      if (signal?.aborted) throw abortReason(signal);
      if (!this.open || this.slot.module.finalizing) throw new SessionNotOpenError(what);
      await this.slot.module.call(() => init(this.slot.module.raw, this.handle, r.mechanism), { fn: what, slot: this.slot.id, session: this.rawHandle });
    } catch (e) {
      release();
      throw e;
    }
    return { release };
  }

  // The operation groups live in their own files, each a method table that session/index.ts
  // installs here (this file imports none of them): crypto.ts (*Init, digest), random.ts,
  // admin.ts (PINs), objects.ts (create, find), key-generation.ts, streams.ts, messages.ts,
  // kem.ts; importKey/importCertificate come from interop/.

  /** @internal Runs `init` and holds the session until the returned release (lib/messages.ts). */
  async holdSession(what: string, spec: MechanismSpec, init: (raw: PKCS11, h: Ulong, m: import('../binding/raw-types').Mechanism) => Promise<void>): Promise<() => void> {
    return (await this.startOperation(what, spec, init)).release;
  }

  /** Waits for the call in progress, then closes. Closing twice is a no-op. */
  async close(): Promise<void> {
    // An operation left open holds the session: end it, or close() would wait forever.
    await Promise.all([...this.slot.module.operations].filter((op) => op.belongsTo(this)).map((op) => op.abort()));
    const release = await this.mutexAcquire();
    try {
      if (!this.open) return;
      this.open = false;
      backstop.unregister(this.token);
      try {
        // Stale (Module.reinitialize() ran): the module closed it; the number may be another's now.
        if (this.generation === this.slot.module.generation)
          await this.slot.module.call(() => this.slot.module.raw.C_CloseSessionAsync(this.handle), { fn: 'close', slot: this.slot.id, session: this.rawHandle });
      } catch (e) {
        // Already gone in the module (token removed, C_CloseAllSessions, finalized): closed is closed.
        if (!(e instanceof SessionHandleInvalidError || e instanceof CkrSessionClosedError || e instanceof ModuleClosedError || e instanceof StaleHandleError)) throw e;
      }
    } finally {
      if (this.generation === this.slot.module.generation) this.slot.sessionClosedCallback(this.rawHandle)();
      release();
    }
  }

  async [asyncDispose](): Promise<void> {
    await this.close();
  }

  private mutexAcquire(): Promise<() => void> {
    return this.mutex.acquire();
  }
}
