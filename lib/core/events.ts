// Slot events (token inserted / removed) as an EventEmitter and an async iterator.
//
// Three sources, best first: a blocking C_WaitForSlotEvent on the libuv pool (the module wakes us;
// it holds one pool thread while it waits), C_WaitForSlotEvent with CKF_DONT_BLOCK on a timer, and
// — for modules with no slot events at all (it answers CKR_FUNCTION_NOT_SUPPORTED) — comparing
// token presence across polls. Polling modes also compare presence, since some modules answer
// CKR_NO_EVENT forever.
import { EventEmitter } from 'node:events';
import * as C from '../constants/generated';
import { CryptokiNotInitializedError, FunctionNotSupportedError } from '../errors/generated';
import type { Module } from './module';
import type { Slot } from './slot';
import type { Ulong } from '../binding/raw-types';

export type SlotEventMode = 'auto' | 'block' | 'poll';

export interface SlotEventOptions {
  /**
   * 'block': C_WaitForSlotEvent without CKF_DONT_BLOCK (falls back to 'poll' when the module
   * refuses to block); 'poll': CKF_DONT_BLOCK and presence checks every `interval` ms;
   * 'auto' (default) is 'block'.
   */
  mode?: SlotEventMode;
  /** Poll period in ms (default 1000). */
  interval?: number;
}

export interface SlotEvent {
  slot: Slot;
  /** Whether a token is in the slot now (false: removed). */
  tokenPresent: boolean;
  /** What reported it: the module's C_WaitForSlotEvent, or a change seen by polling. */
  source: 'wait' | 'poll';
}

interface SlotEventMap {
  event: [SlotEvent];
  tokenInserted: [SlotEvent];
  tokenRemoved: [SlotEvent];
  error: [Error];
  stop: [];
}

/**
 * Watches the module's slots until stop() (or the module closes). Events: 'event' for every
 * change, plus 'tokenInserted' / 'tokenRemoved'; 'error' when the source fails (watching stops).
 * Also `for await (const e of watcher)`, which ends at stop().
 */
export class SlotWatcher extends EventEmitter<SlotEventMap> implements AsyncIterable<SlotEvent> {
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly present = new Map<string, boolean>();
  private readonly wakers = new Set<() => void>();
  private failure: Error | null = null;
  private loop: Promise<void> = Promise.resolve();
  private started: Promise<void>;
  /** The source in use once started: 'block', 'poll' (DONT_BLOCK), or 'presence' (no events in the module). */
  source: 'block' | 'poll' | 'presence' | null = null;

  /** @internal use Module.watchSlots() */
  constructor(
    private readonly module: Module,
    private readonly options: SlotEventOptions = {},
  ) {
    super();
    const interval = options.interval ?? 1000;
    if (!Number.isFinite(interval) || interval <= 0) throw new RangeError("watchSlots: option 'interval' must be a positive number of ms");
    const mode = options.mode ?? 'auto';
    if (!['auto', 'block', 'poll'].includes(mode)) throw new RangeError("watchSlots: option 'mode' must be 'auto', 'block' or 'poll'");
    this.started = this.start(mode).catch((e: unknown) => {
      this.fail(e);
      throw e;
    });
  }

  /** Resolves once the watcher knows the slots' current state and its source. */
  ready(): Promise<void> {
    return this.started;
  }

  /**
   * @internal Resolves when a blocking wait in flight has come back (after C_Finalize), or after
   * `ms` for a module that keeps waiting.
   */
  settled(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((r) => (timer = setTimeout(r, ms)));
    return Promise.race([this.loop.catch(() => undefined), limit]).finally(() => clearTimeout(timer));
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /**
   * Stops watching. A blocking wait inside the module cannot be interrupted: it ends with the
   * module's next event or at Module.close() (C_Finalize), and its result is dropped.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.wakeAll();
    this.emit('stop');
  }

  private async start(mode: SlotEventMode): Promise<void> {
    await this.drainPending();
    await this.snapshot();
    if (this.stopped) return;
    if (mode !== 'poll' && this.module.raw.has('C_WaitForSlotEvent')) {
      this.source = 'block';
      this.loop = this.blockLoop();
    } else {
      this.source = this.module.raw.has('C_WaitForSlotEvent') ? 'poll' : 'presence';
      this.schedule();
    }
  }

  /**
   * Events the module queued before this watcher existed describe changes the first snapshot
   * already sees; take them off the queue so the first blocking wait reports new ones only.
   */
  private async drainPending(): Promise<void> {
    if (!this.module.raw.has('C_WaitForSlotEvent')) return;
    for (let i = 0; i < 256; i++) {
      try {
        const id = await this.module.call(() => this.module.raw.C_WaitForSlotEventAsync(C.CKF_DONT_BLOCK));
        if (id === null) return;
      } catch {
        return; // no DONT_BLOCK support (or no events at all): nothing queued to drain
      }
    }
  }

  /** Token presence of every slot now; emits for slots whose presence changed since last time. */
  private async snapshot(emitChanges = false): Promise<void> {
    const raw = this.module.raw;
    const ids = await this.module.call(() => raw.C_GetSlotListAsync(false));
    for (const id of ids) await this.check(id, emitChanges ? 'poll' : null);
  }

  private async check(id: Ulong, source: SlotEvent['source'] | null, always = false): Promise<void> {
    const info = await this.module.call(() => this.module.raw.C_GetSlotInfoAsync(id));
    const now = (BigInt(info.flags) & BigInt(C.CKF_TOKEN_PRESENT)) !== 0n;
    const key = String(id);
    const before = this.present.get(key);
    this.present.set(key, now);
    if (source && !this.stopped && (always || (before !== undefined && before !== now) || (before === undefined && now))) {
      this.deliver({ slot: this.module.slot(id), tokenPresent: now, source });
    }
  }

  private deliver(e: SlotEvent): void {
    if (!e.tokenPresent) e.slot.setLoginState(null);
    this.emit('event', e);
    this.emit(e.tokenPresent ? 'tokenInserted' : 'tokenRemoved', e);
  }

  private async blockLoop(): Promise<void> {
    const raw = this.module.raw;
    while (!this.stopped && !this.module.isClosed) {
      let id: Ulong | null;
      try {
        id = await this.module.call(() => raw.C_WaitForSlotEventAsync(0));
      } catch (e) {
        if (this.stopped || this.module.isClosed || e instanceof CryptokiNotInitializedError) return this.stop();
        if (e instanceof FunctionNotSupportedError) {
          // The module only answers CKF_DONT_BLOCK (or nothing): poll instead.
          this.source = 'poll';
          this.schedule();
          return;
        }
        return this.fail(e);
      }
      if (this.stopped) return;
      try {
        if (id !== null) await this.check(id, 'wait', true);
      } catch (e) {
        return this.fail(e);
      }
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.pollOnce(), this.options.interval ?? 1000);
    // A watcher alone must not keep the process alive.
    this.timer.unref();
  }

  private async pollOnce(): Promise<void> {
    this.timer = null;
    if (this.stopped || this.module.isClosed) return this.stop();
    try {
      if (this.source === 'poll') {
        for (;;) {
          let id: Ulong | null;
          try {
            // null is CKR_NO_EVENT.
            id = await this.module.call(() => this.module.raw.C_WaitForSlotEventAsync(C.CKF_DONT_BLOCK));
          } catch (e) {
            if (e instanceof FunctionNotSupportedError) {
              this.source = 'presence';
              break;
            }
            throw e;
          }
          if (id === null || this.stopped) break;
          await this.check(id, 'wait', true);
        }
      }
      if (!this.stopped) await this.snapshot(true);
    } catch (e) {
      if (this.stopped || this.module.isClosed) return this.stop();
      return this.fail(e);
    }
    this.schedule();
  }

  private fail(e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    this.failure = err;
    this.stop();
    // 'error' without a listener would throw from the emitter; iterators see it through the queue.
    if (this.listenerCount('error') > 0) this.emit('error', err);
    this.failure = err;
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const w of [...this.wakers]) w();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SlotEvent> {
    const queue: SlotEvent[] = [];
    let wake: (() => void) | null = null;
    const onEvent = (e: SlotEvent) => {
      queue.push(e);
      wake?.();
    };
    this.on('event', onEvent);
    try {
      for (;;) {
        while (queue.length > 0) yield queue.shift()!;
        if (this.failure) throw this.failure;
        if (this.stopped) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
          this.wakers.add(resolve);
        });
        if (wake) this.wakers.delete(wake);
        wake = null;
      }
    } finally {
      this.off('event', onEvent);
      if (wake) this.wakers.delete(wake);
    }
  }
}
