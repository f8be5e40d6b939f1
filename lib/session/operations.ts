// Multi-part operations: Init takes the session to itself until final() or abort(), so no other
// call can interleave with the operation's parts. The parts of one operation run one at a time
// too (abort() waits for a part in flight instead of racing it on the same session).
import type { Bytes, PKCS11, Ulong } from '../binding/raw-types';
import type { Session } from './session';
import { abortReason, AsyncMutex } from '../util/mutex';
import { endOperation, OperationKind } from '../binding/operation-end';
import { OperationFinishedError } from '../errors/library';

export { OperationFinishedError };

/** Data given in chunks: an array, a generator, a Node Readable, any (async) iterable of bytes. */
export type ByteSource = Iterable<Bytes> | AsyncIterable<Bytes>;

/** Whether `v` is input bytes (a Buffer, TypedArray, DataView or ArrayBuffer). */
export function isBytes(v: unknown): v is Bytes {
  return ArrayBuffer.isView(v) || v instanceof ArrayBuffer;
}

/** @internal Throws a TypeError naming `fn`'s argument `name` unless `v` is bytes. */
export function checkBytes(v: unknown, fn: string, name: string): asserts v is Bytes {
  if (!isBytes(v)) throw new TypeError(`${fn}: argument '${name}' must be a Buffer, TypedArray, DataView or ArrayBuffer, got ${describeValue(v)}`);
}

/** @internal A short description of a wrong value for error messages (never its content). */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return `an object (${(v as object).constructor?.name ?? 'no prototype'})`;
  return typeof v;
}

/**
 * @internal The chunks of `source`, checked, empty ones skipped. A single bytes value is one
 * chunk; a string is refused (its encoding would be a guess).
 */
export async function* chunksOf(source: ByteSource | Bytes, fn: string): AsyncGenerator<Bytes, void, undefined> {
  if (isBytes(source)) {
    if (source.byteLength) yield source;
    return;
  }
  const iterable = source as Partial<Iterable<unknown> & AsyncIterable<unknown>> | null | undefined;
  if (typeof source === 'string' || iterable == null || (typeof iterable[Symbol.asyncIterator] !== 'function' && typeof iterable[Symbol.iterator] !== 'function')) {
    throw new TypeError(`${fn}: argument 'source' must be bytes or an (async) iterable of bytes chunks, got ${describeValue(source)}`);
  }
  let i = 0;
  for await (const chunk of source as AsyncIterable<unknown>) {
    if (!isBytes(chunk)) throw new TypeError(`${fn}: chunk ${i} of argument 'source' must be a Buffer, TypedArray, DataView or ArrayBuffer, got ${describeValue(chunk)}`);
    i++;
    if (chunk.byteLength) yield chunk;
  }
}

/** @internal The chunks of `source` with a flag on the last one (an empty source gives one empty last chunk). */
export async function* withLast(chunks: AsyncIterable<Bytes>): AsyncGenerator<[Bytes, boolean], void, undefined> {
  let held: Bytes | undefined;
  for await (const c of chunks) {
    if (held !== undefined) yield [held, false];
    held = c;
  }
  yield [held ?? Buffer.alloc(0), true];
}

/**
 * What a failed call does to the operation: 'abort' ends it (the module's final call, then the
 * session is released) — a failed part of a multi-part operation ends it in PKCS#11, and calling
 * the final function again also cleans up when the call never reached the module (a TypeError)
 * or the module did not end it; 'keep' leaves it going (a failed message of a message-based
 * operation does not end the operation).
 */
export type OnError = 'abort' | 'keep';

/**
 * The base of every operation handle (multi-part and message-based): `isFinished`, `abort()`.
 * Public because the handles extend it; made only by the session methods that start operations.
 */
export abstract class Operation {
  private finished = false;
  private readonly parts = new AsyncMutex();

  /** @internal */
  constructor(
    protected readonly session: Session,
    private readonly release: () => void,
  ) {
    // Module.close() ends operations left open, so calls queued behind them can finish.
    session.slot.module.operations.add(this);
  }

  /**
   * Maps the error of a failed part before it is thrown (session/crypto.ts: the key-type check
   * after a part, for modules that take the Init and fail later). Unset: the error as it is.
   * @internal
   */
  mapPartError?: (e: unknown) => Promise<unknown>;

  /** @internal */
  belongsTo(session: object): boolean {
    return this.session === session;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  /**
   * Takes the operation to itself (after earlier parts) and calls the raw layer through
   * `direct()` until the returned function is called. Rejects once the operation is finished.
   */
  protected async lock(what: string): Promise<() => void> {
    const unlock = await this.parts.acquire();
    if (this.finished) {
      unlock();
      throw this.abortedBy ? abortReason(this.abortedBy) : new OperationFinishedError(what);
    }
    return unlock;
  }

  /** One raw call with the caller's stack and vendor error names; only while holding lock(). */
  protected direct<T>(fn: (raw: PKCS11, h: Ulong) => Promise<T>, what?: string): Promise<T> {
    const m = this.session.slot.module;
    const h = this.session.handle;
    return m.call(() => fn(m.raw, h), what === undefined ? undefined : { fn: what, slot: this.session.slot.id, session: h });
  }

  /** One part: lock, call, and on failure apply `onError`; `last` ends the operation in any case. */
  protected async step<T>(what: string, fn: (raw: PKCS11, h: Ulong) => Promise<T>, options: { last?: boolean; onError?: OnError } = {}): Promise<T> {
    const unlock = await this.lock(what);
    try {
      const v = await this.direct(fn, what);
      if (options.last) this.finish();
      return v;
    } catch (e) {
      if (options.last || (options.onError ?? 'abort') === 'abort') await this.endQuietly();
      throw this.mapPartError ? await this.mapPartError(e) : e;
    } finally {
      unlock();
    }
  }

  /** Ends the operation without a result (the module's final call, output discarded). */
  async abort(): Promise<void> {
    const unlock = await this.parts.acquire();
    try {
      if (!this.finished) await this.endQuietly();
    } finally {
      unlock();
    }
  }

  /** @internal The module's final call, whatever it answers, then the session is released. */
  protected async endQuietly(): Promise<void> {
    const kind = this.kind();
    try {
      await this.direct((raw, h) => (kind ? endOperation(raw, h, kind) : this.finalForAbort(raw, h)));
    } catch {
      // Ended either way: the module already ended it, or the session/module is gone.
    } finally {
      this.finish();
    }
  }

  /**
   * A message in parts (PKCS#11 3.0 Begin, Next … Next(last)) over `source`, yielding what each
   * Next returns. The operation is this message's until the last part; stopping before it (an
   * error, a break) ends the whole operation, since PKCS#11 cannot drop a single message. A
   * failed Begin leaves the operation as it was.
   */
  protected async *sequence<T>(
    fn: string,
    source: ByteSource,
    begin: (raw: PKCS11, h: Ulong) => Promise<void>,
    next: (raw: PKCS11, h: Ulong, part: Bytes, last: boolean) => Promise<T>,
  ): AsyncGenerator<T, void, undefined> {
    const unlock = await this.lock(fn);
    let begun = false;
    let done = false;
    try {
      // Begin before reading the source: a module without these functions answers at once.
      await this.direct(begin, fn);
      begun = true;
      for await (const [part, last] of withLast(chunksOf(source, fn))) {
        const out = await this.direct((raw, h) => next(raw, h, part, last), fn);
        done = last;
        yield out;
      }
    } finally {
      if (begun && !done) await this.endQuietly();
      unlock();
    }
  }

  /** The call that ends a message-based operation (multi-part ones use endOperation). */
  protected finalForAbort(_raw: PKCS11, _h: Ulong): Promise<unknown> {
    return Promise.resolve();
  }

  /** Which multi-part operation this is (null: message-based; finalForAbort ends it). */
  protected kind(): OperationKind | null {
    return null;
  }

  /**
   * @internal Aborts the operation when `signal` fires while it is active; later parts then
   * reject with the signal's reason.
   */
  attachSignal(signal: AbortSignal | undefined): this {
    if (!signal || this.finished) return this;
    const onAbort = () => {
      this.abortedBy = signal;
      void this.abort();
    };
    if (signal.aborted) {
      onAbort();
      return this;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    this.detach = () => signal.removeEventListener('abort', onAbort);
    return this;
  }

  private abortedBy: AbortSignal | null = null;
  private detach: (() => void) | null = null;

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.detach?.();
    this.session.slot.module.operations.delete(this);
    this.release();
  }
}

/** Sign, verify and digest: parts in, one result out. */
abstract class UpdateOperation extends Operation {
  abstract update(data: Bytes): Promise<void>;

  /**
   * Feeds every chunk of `source` (an array, generator, Node Readable …) to update(). Call
   * final() afterwards. When the source throws, the operation is aborted and the error rethrown.
   */
  async updateAll(source: ByteSource): Promise<void> {
    try {
      for await (const chunk of chunksOf(source, 'updateAll')) await this.update(chunk);
    } catch (e) {
      await this.abort();
      throw e;
    }
  }
}

export class SignOperation extends UpdateOperation {
  update(data: Bytes): Promise<void> {
    return this.step('update', (raw, h) => raw.C_SignUpdateAsync(h, data));
  }
  final(): Promise<Buffer> {
    return this.step('final', (raw, h) => raw.C_SignFinalAsync(h), { last: true });
  }
  protected override kind(): OperationKind {
    return 'sign';
  }
}

export class VerifyOperation extends UpdateOperation {
  update(data: Bytes): Promise<void> {
    return this.step('update', (raw, h) => raw.C_VerifyUpdateAsync(h, data));
  }
  /** true, or false for an invalid signature (also one of the wrong length). */
  async final(signature: Bytes): Promise<boolean> {
    try {
      return await this.step('final', (raw, h) => raw.C_VerifyFinalAsync(h, signature), { last: true });
    } catch (e) {
      if ((e as { rvName?: string }).rvName === 'CKR_SIGNATURE_LEN_RANGE') return false;
      throw e;
    }
  }
  protected override kind(): OperationKind {
    return 'verify';
  }
}

export class DigestOperation extends UpdateOperation {
  update(data: Bytes): Promise<void> {
    return this.step('update', (raw, h) => raw.C_DigestUpdateAsync(h, data));
  }
  final(): Promise<Buffer> {
    return this.step('final', (raw, h) => raw.C_DigestFinalAsync(h), { last: true });
  }
  protected override kind(): OperationKind {
    return 'digest';
  }
}

export class CipherOperation extends Operation {
  /** @internal */
  constructor(
    session: Session,
    release: () => void,
    private readonly direction: 'encrypt' | 'decrypt',
  ) {
    super(session, release);
  }
  update(data: Bytes): Promise<Buffer> {
    return this.step('update', (raw, h) => (this.direction === 'encrypt' ? raw.C_EncryptUpdateAsync(h, data) : raw.C_DecryptUpdateAsync(h, data)));
  }
  final(): Promise<Buffer> {
    return this.step('final', (raw, h) => (this.direction === 'encrypt' ? raw.C_EncryptFinalAsync(h) : raw.C_DecryptFinalAsync(h)), { last: true });
  }

  /**
   * Runs the whole operation over `source`: yields each non-empty update() output, then the
   * final block. Breaking out of the loop, or an error from the source or the module, aborts the
   * operation (the session is released). Nothing is read until iteration starts, and the
   * session stays held until it ends: iterate it to the end or break out of it.
   */
  async *process(source: ByteSource): AsyncGenerator<Buffer, void, undefined> {
    let ended = false;
    try {
      for await (const chunk of chunksOf(source, 'process')) {
        const out = await this.update(chunk);
        if (out.length) yield out;
      }
      const last = await this.final();
      ended = true;
      if (last.length) yield last;
    } finally {
      if (!ended) await this.abort();
    }
  }

  protected override kind(): OperationKind {
    return this.direction;
  }
}
