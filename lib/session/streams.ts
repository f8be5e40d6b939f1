// Node streams over the multi-part operations: a Transform for encrypt/decrypt and Writables
// with a result promise for sign/verify/digest, for use in stream.pipeline(). Init runs in the
// stream's construct(), the final call in flush()/final(), and destroy — by an error, by the
// pipeline, or by the caller — aborts the operation, so the session is always released.
//
// The session is the operation's from construct() until the stream finishes or is destroyed:
// chaining two streams of the SAME session in one pipeline deadlocks (the second waits for the
// first, which waits for the pipeline to drain); use one session per stream.
import * as crypto from 'node:crypto';
import { Transform, TransformCallback, Writable } from 'node:stream';
import { resolveMechanism, MechanismSpec } from '../mechanisms';
import { checkKeyMechanism, mismatchAfterFailure } from '../mechanisms/key-compat';
import { keyTypeReader, type Key } from '../objects/keys';
import { Pkcs11Object } from '../objects/object';
import { checkBytes, CipherOperation, describeValue } from './operations';
import { decryptInit, encryptInit, signInit, verifyInit } from './crypto';
import type { Bytes, Mechanism, PKCS11, Ulong } from '../binding/raw-types';
import type { Session } from './session';

export interface OperationStreamOptions {
  /** The stream's buffering (bytes), as for any Node stream. */
  highWaterMark?: number;
  /** Destroys the stream (and aborts the operation) when aborted. */
  signal?: AbortSignal;
}

/** What a Writable feeds: a multi-part operation, or a Node hash for a token that needs the digest. */
interface Sink<R> {
  readonly isFinished: boolean;
  update(data: Bytes): Promise<unknown>;
  final(): Promise<R>;
  abort(): Promise<void>;
}

function prematureClose(): Error {
  return Object.assign(new Error('the stream was destroyed before it finished'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

function checkKey(key: unknown, fn: string, name = 'key'): asserts key is Key {
  if (!(key instanceof Pkcs11Object)) throw new TypeError(`${fn}: argument '${name}' must be a Key, got ${describeValue(key)}`);
}

function checkSpec(spec: unknown, fn: string): asserts spec is MechanismSpec {
  if (spec === null || typeof spec !== 'object') throw new TypeError(`${fn}: argument 'spec' must be a mechanism spec object, got ${describeValue(spec)}`);
}

function view(b: Bytes): Uint8Array {
  return b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * A Transform that encrypts or decrypts what is written to it. The operation starts when the
 * stream is constructed; its errors (typed Pkcs11Error classes) are the stream's errors.
 */
export class CipherStream extends Transform {
  private op: CipherOperation | null = null;

  /** @internal use session.encryptStream() / decryptStream() */
  constructor(
    private readonly open: () => Promise<CipherOperation>,
    options: OperationStreamOptions = {},
  ) {
    super({ highWaterMark: options.highWaterMark, signal: options.signal });
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.open().then(
      (op) => {
        this.op = op;
        callback();
      },
      (e: Error) => callback(e),
    );
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!chunk.length) return callback();
    this.op!.update(chunk).then(
      (out) => callback(null, out.length ? out : undefined),
      (e: Error) => callback(e),
    );
  }

  override _flush(callback: TransformCallback): void {
    this.op!.final().then(
      (out) => callback(null, out.length ? out : undefined),
      (e: Error) => callback(e),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const op = this.op;
    if (!op || op.isFinished) return callback(error);
    // abort() waits for a part in flight, then ends the operation and releases the session.
    void op.abort().then(() => callback(error));
  }
}

/**
 * A Writable that feeds a sign, verify or digest operation; `result` settles when the stream
 * finishes (resolves) or fails / is destroyed first (rejects with the stream's error).
 */
export class OperationWritable<R> extends Writable {
  /** The signature, verdict or digest, once the stream has finished. */
  readonly result: Promise<R>;
  private sink: Sink<R> | null = null;
  private settle!: { resolve: (r: R) => void; reject: (e: Error) => void };

  /** @internal use session.signStream() / verifyStream() / digestStream() */
  constructor(
    private readonly open: () => Promise<Sink<R>>,
    options: OperationStreamOptions = {},
  ) {
    super({ highWaterMark: options.highWaterMark, signal: options.signal });
    this.result = new Promise<R>((resolve, reject) => (this.settle = { resolve, reject }));
    // The error reaches the caller through the stream (pipeline, 'error'); an unread result must
    // not also crash the process as an unhandled rejection.
    this.result.catch(() => undefined);
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.open().then(
      (sink) => {
        this.sink = sink;
        callback();
      },
      (e: Error) => callback(e),
    );
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!chunk.length) return callback();
    this.sink!.update(chunk).then(
      () => callback(),
      (e: Error) => callback(e),
    );
  }

  // Chunks buffered while a part was in flight go to the module as one part: fewer C calls.
  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    const all = Buffer.concat(chunks.map((c) => c.chunk));
    if (!all.length) return callback();
    this.sink!.update(all).then(
      () => callback(),
      (e: Error) => callback(e),
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.sink!.final().then(
      (r) => {
        this.settle.resolve(r);
        callback();
      },
      (e: Error) => callback(e),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.settle.reject(error ?? prematureClose());
    const sink = this.sink;
    if (!sink || sink.isFinished) return callback(error);
    void sink.abort().then(() => callback(error));
  }
}

/** session.encryptStream(): a Transform from plaintext to ciphertext. */
export function encryptStream(session: Session, spec: MechanismSpec, key: Key, options?: OperationStreamOptions): CipherStream {
  checkSpec(spec, 'encryptStream');
  checkKey(key, 'encryptStream');
  return new CipherStream(() => encryptInit(session, spec, key, {}, 'session.encryptStream'), options);
}

/** session.decryptStream(): a Transform from ciphertext to plaintext. */
export function decryptStream(session: Session, spec: MechanismSpec, key: Key, options?: OperationStreamOptions): CipherStream {
  checkSpec(spec, 'decryptStream');
  checkKey(key, 'decryptStream');
  return new CipherStream(() => decryptInit(session, spec, key, {}, 'session.decryptStream'), options);
}

/** session.digestStream(): `result` is the digest. */
export function digestStream(session: Session, spec: MechanismSpec, options?: OperationStreamOptions): OperationWritable<Buffer> {
  checkSpec(spec, 'digestStream');
  return new OperationWritable<Buffer>(() => session.digestInit(spec), options);
}

// A mechanism the token can only run over a digest (ECDSA with a hash on SoftHSM): hash in Node
// while the data flows (the session stays free), then one C_SignInit/C_Sign or C_Verify call.
// The key check (mechanisms/key-compat.ts) runs before any data flows, as the Init of the
// multi-part path does; `typed` names the stream method in its error.
async function prehashSink<R>(
  session: Session,
  spec: MechanismSpec,
  key: Key,
  typed: string,
  fallback: () => Promise<Sink<R>>,
  last: (digest: Buffer, m: Mechanism) => Promise<R>,
): Promise<Sink<R>> {
  const supported = await session.slot.mechanismSet();
  const r = resolveMechanism(spec, (t) => supported.has(String(t)));
  if (!r.prehash) return fallback();
  checkKeyMechanism(key, r.mechanism, typed);
  const hash = crypto.createHash(r.prehash);
  let finished = false;
  return {
    get isFinished() {
      return finished;
    },
    update: async (data) => {
      hash.update(view(data));
    },
    final: () => {
      finished = true;
      return last(hash.digest(), r.mechanism);
    },
    abort: async () => {
      finished = true;
    },
  };
}

// The one call over the digest of a prehashed stream; a "not this key" answer becomes
// KeyMechanismMismatchError as at any Init.
function overDigest<R>(session: Session, what: string, key: Key, m: Mechanism, call: (raw: PKCS11, h: Ulong) => Promise<R>): Promise<R> {
  return session.run(what, async (raw, h) => {
    try {
      return await call(raw, h);
    } catch (e) {
      throw await mismatchAfterFailure(e, key, m, `session.${what}`, keyTypeReader(raw, h, key));
    }
  });
}

/** session.signStream(): `result` is the signature (ECDSA: raw r||s). */
export function signStream(session: Session, spec: MechanismSpec, key: Key, options?: OperationStreamOptions): OperationWritable<Buffer> {
  checkSpec(spec, 'signStream');
  checkKey(key, 'signStream');
  return new OperationWritable<Buffer>(
    () =>
      prehashSink(
        session,
        spec,
        key,
        'session.signStream',
        () => signInit(session, spec, key, {}, 'session.signStream'),
        (digest, m) =>
          overDigest(session, 'signStream', key, m, async (raw, h) => {
            await raw.C_SignInitAsync(h, m, key.handle);
            return raw.C_SignAsync(h, digest);
          }),
      ),
    options,
  );
}

/** session.verifyStream(): `result` is true, or false for an invalid signature. */
export function verifyStream(session: Session, spec: MechanismSpec, key: Key, signature: Bytes, options?: OperationStreamOptions): OperationWritable<boolean> {
  checkSpec(spec, 'verifyStream');
  checkKey(key, 'verifyStream');
  checkBytes(signature, 'verifyStream', 'signature');
  return new OperationWritable<boolean>(
    () =>
      prehashSink(
        session,
        spec,
        key,
        'session.verifyStream',
        async () => {
          const op = await verifyInit(session, spec, key, {}, 'session.verifyStream');
          // The signature goes to final(); otherwise the handle is the sink as it is.
          return {
            get isFinished() {
              return op.isFinished;
            },
            update: (d: Bytes) => op.update(d),
            final: () => op.final(signature),
            abort: () => op.abort(),
          };
        },
        (digest, m) =>
          overDigest(session, 'verifyStream', key, m, async (raw, h) => {
            await raw.C_VerifyInitAsync(h, m, key.handle);
            try {
              return await raw.C_VerifyAsync(h, digest, signature);
            } catch (e) {
              if ((e as { rvName?: string }).rvName === 'CKR_SIGNATURE_LEN_RANGE') return false;
              throw e;
            }
          }),
      ),
    options,
  );
}

// session.encryptStream() & co., added here (streams build on the objects layer's key checks).
declare module './session' {
  interface Session {
    /** A Transform encrypting what is written to it (the session is the stream's until it ends or is destroyed). */
    encryptStream(spec: MechanismSpec, key: Key, options?: OperationStreamOptions): CipherStream;
    /** A Transform decrypting what is written to it. */
    decryptStream(spec: MechanismSpec, key: Key, options?: OperationStreamOptions): CipherStream;
    /** A Writable digesting what is written to it; `result` is the digest. */
    digestStream(spec: MechanismSpec, options?: OperationStreamOptions): OperationWritable<Buffer>;
    /** A Writable signing what is written to it; `result` is the signature. */
    signStream(spec: MechanismSpec, key: Key, options?: OperationStreamOptions): OperationWritable<Buffer>;
    /** A Writable verifying `signature` over what is written to it; `result` is the verdict. */
    verifyStream(spec: MechanismSpec, key: Key, signature: Bytes, options?: OperationStreamOptions): OperationWritable<boolean>;
  }
}

/** Installed on Session by session/index.ts. */
export const streamMethods = {
  encryptStream(this: Session, spec: MechanismSpec, key: Key, options?: OperationStreamOptions) {
    return encryptStream(this, spec, key, options);
  },
  decryptStream(this: Session, spec: MechanismSpec, key: Key, options?: OperationStreamOptions) {
    return decryptStream(this, spec, key, options);
  },
  digestStream(this: Session, spec: MechanismSpec, options?: OperationStreamOptions) {
    return digestStream(this, spec, options);
  },
  signStream(this: Session, spec: MechanismSpec, key: Key, options?: OperationStreamOptions) {
    return signStream(this, spec, key, options);
  },
  verifyStream(this: Session, spec: MechanismSpec, key: Key, signature: Bytes, options?: OperationStreamOptions) {
    return verifyStream(this, spec, key, signature, options);
  },
};
