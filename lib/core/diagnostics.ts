// node:diagnostics_channel publishing: a TracingChannel for typed module calls and a channel for
// the session pool's recoveries. APM tools (OpenTelemetry, Datadog…) subscribe by name, so the
// library needs to know none of them. What is published is chosen to be safe to log: the
// operation's name, slot and session IDs, the CKR code and the duration — never an argument, a
// result (a decrypted plaintext, random bytes) or a PIN.
import * as dc from 'node:diagnostics_channel';
import type { Ulong } from '../binding/raw-types';

/** The context object of one traced call, the same object through start/end/asyncStart/asyncEnd/error. */
export interface CallTraceContext {
  /**
   * The typed operation: 'sign', 'find', 'login', 'random', 'getAttributes', 'signInit', a
   * multi-part step ('update', 'final' …), 'slot.tokenInfo', 'module.slots'… (one or more C_* calls).
   */
  function: string;
  /** The slot ID, as the module numbers it (absent for module-wide calls: module.info, module.slots…). */
  slot?: Ulong;
  /** The session handle the call ran on (absent for module and slot calls). */
  session?: Ulong;
  /** Set when the call settles: 0 (CKR_OK), the CKR code of a Pkcs11Error, or null for another error. */
  rv?: number | null;
  /** Set when the call settles: nanoseconds from the call's start (the session already held). */
  durationNs?: number;
  /** Set on failure (the error channel): the error the caller gets. PINs never appear in errors. */
  error?: unknown;
}

/** The name of the TracingChannel of typed calls (`tracing:p11bridge:call:start` and so on). */
export const CALL_CHANNEL = 'p11bridge:call';
/** The name of the channel of session pool events. */
export const POOL_CHANNEL = 'p11bridge:pool';

/** @internal */
export const callChannel = dc.tracingChannel<unknown, CallTraceContext>(CALL_CHANNEL);
/** @internal */
export const poolChannel = dc.channel(POOL_CHANNEL);

/** A pool event as published on `p11bridge:pool` (and emitted by the pool under `event`'s name). */
export interface PoolEvent {
  event: 'recovered' | 'reinitialized' | 'reinitializeFailed' | 'sessionDropped' | 'quarantined' | 'timeout';
  /** The slot ID of the pool. */
  slot: Ulong;
  /** What happened: 'relogin', 'reopen', 'reinitialize', or the dropped session's error code. */
  reason?: string;
  /** 'reinitialized' / 'reinitializeFailed': the attempt number (1 = first). */
  attempt?: number;
  /** 'recovered': whether the failed use() was run again. */
  retried?: boolean;
  /** The error behind the event, when there is one (never holds a PIN). */
  error?: unknown;
}

function rvOf(e: unknown): number | null {
  const rv = (e as { rv?: unknown } | null)?.rv;
  return typeof rv === 'number' ? rv : typeof rv === 'bigint' ? Number(rv) : null;
}

/**
 * @internal Runs a typed call under the call TracingChannel. Only called when
 * `callChannel.hasSubscribers` (the caller checks, so an untraced call costs one property read).
 * The channels are published by hand rather than through tracePromise(), which would put the
 * call's result (plaintext, random bytes) in the context for every subscriber to see.
 */
export function traceCall<T>(fn: string, slot: Ulong | undefined, session: Ulong | undefined, run: () => Promise<T>): Promise<T> {
  const ctx: CallTraceContext = { function: fn };
  if (slot !== undefined) ctx.slot = slot;
  if (session !== undefined) ctx.session = session;
  const { end, asyncStart, asyncEnd, error } = callChannel;
  const t0 = process.hrtime.bigint();
  const failed = (e: unknown): void => {
    ctx.durationNs = Number(process.hrtime.bigint() - t0);
    ctx.rv = rvOf(e);
    ctx.error = e;
    error.publish(ctx);
  };
  // As tracePromise does: asyncStart/asyncEnd once the promise settles, error before them.
  const settle = (e?: unknown): void => {
    if (e === undefined) {
      ctx.durationNs = Number(process.hrtime.bigint() - t0);
      ctx.rv = 0;
    } else {
      failed(e);
    }
    asyncStart.publish(ctx);
    asyncEnd.publish(ctx);
  };
  // runStores: subscribers that bound an AsyncLocalStorage to `start` (OpenTelemetry's context)
  // see their store inside the call and in its continuations.
  return callChannel.start.runStores(ctx, () => {
    let p: Promise<T>;
    try {
      p = run();
    } catch (e) {
      failed(e);
      throw e;
    } finally {
      end.publish(ctx);
    }
    return p.then(
      (v) => {
        settle();
        return v;
      },
      (e: unknown) => {
        settle(e ?? new Error('rejected without a reason'));
        throw e;
      },
    );
  });
}

/** @internal Publishes a pool event when someone listens. */
export function publishPoolEvent(e: PoolEvent): void {
  if (poolChannel.hasSubscribers) poolChannel.publish(e);
}
