// The *Init operations and the one-shot digest of Session (rust-cryptoki's signing_macing.rs,
// encrypt.rs, digesting.rs): each starts a multi-part operation object (session/operations.ts)
// that holds the session until final() or abort(). Installed by session/index.ts; the class is a
// type here. One-shot sign/verify/encrypt/decrypt live on the key objects (objects/keys.ts).
import type { Bytes, Mechanism, PKCS11, Ulong } from '../binding/raw-types';
import { MechanismSpec } from '../mechanisms';
import { checkKeyMechanism, keyTypesFor, knownKeyType, mismatchAfterFailure, rememberKeyType, resolveFor } from '../mechanisms/key-compat';
import { keyTypeReader, type Key, type PrivateKeyCallOptions } from '../objects/keys';
import { Pkcs11Object } from '../objects/object';
import { contextLogin } from '../binding/operation-end';
import { fused } from '../binding/fused';
import { CipherOperation, describeValue, DigestOperation, type Operation, SignOperation, VerifyOperation } from './operations';
import type { CallOptions, Session } from './session';

declare module './session' {
  interface Session {
    /**
     * Starts a multi-part operation. The session is this operation's until final() or abort();
     * other calls on the session wait for it.
     */
    signInit(spec: MechanismSpec, key: Key, options?: PrivateKeyCallOptions): Promise<SignOperation>;
    verifyInit(spec: MechanismSpec, key: Key, options?: CallOptions): Promise<VerifyOperation>;
    encryptInit(spec: MechanismSpec, key: Key, options?: CallOptions): Promise<CipherOperation>;
    decryptInit(spec: MechanismSpec, key: Key, options?: PrivateKeyCallOptions): Promise<CipherOperation>;
    digestInit(spec: MechanismSpec, options?: CallOptions): Promise<DigestOperation>;
    /** One-shot digest on the token ({ name: 'SHA-256' } …). */
    digest(spec: MechanismSpec, data: Bytes, options?: CallOptions): Promise<Buffer>;
  }
}

/** What a keyed operation checks its failures against (mechanisms/key-compat.ts). */
interface KeyCheck {
  key: Key;
  mechanism: Mechanism;
  /** The public method that started it: 'session.signInit', 'session.signStream' … */
  typed: string;
}

/**
 * @internal Starts an operation on `key` (Session.startOperation plus the key check): a key whose
 * type is known and a mechanism of another family (an EC key for RSA-PSS) is refused before the
 * module is called, and the module's "not this key" answer becomes the same
 * KeyMechanismMismatchError. `what` names the operation in traces ('signInit'), `typed` the
 * public method in the error ('session.signInit', 'session.signStream').
 */
export async function startKeyOperation(
  session: Session,
  what: string,
  typed: string,
  spec: MechanismSpec,
  key: Key,
  init: (raw: PKCS11, h: Ulong, m: Mechanism) => Promise<void>,
  signal?: AbortSignal,
): Promise<{ release: () => void; check: KeyCheck }> {
  if (!(key instanceof Pkcs11Object)) throw new TypeError(`${what}: argument 'key' must be a Key, got ${describeValue(key)}`);
  let mechanism: Mechanism | undefined;
  const { release } = await session.startOperation(
    what,
    spec,
    async (raw, h, m) => {
      mechanism = m;
      // A WeakMap lookup: no module call (the mechanism is resolved, the session held).
      checkKeyMechanism(key, m, typed);
      try {
        await init(raw, h, m);
      } catch (e) {
        throw await mismatchAfterFailure(e, key, m, typed, keyTypeReader(raw, h, key));
      }
    },
    signal,
  );
  return { release, check: { key, mechanism: mechanism!, typed } };
}

// Some modules take the Init and fail a later part instead: SoftHSM starts an EC key's RSA-PSS
// signature and answers CKR_GENERAL_ERROR at the first part. A failed part ends the operation (and
// frees the session), so the key's type can then be read, once, for the same error as at Init.
// A part that succeeds costs nothing more.
function afterPart(e: unknown, c: KeyCheck): Promise<unknown> {
  return mismatchAfterFailure(e, c.key, c.mechanism, c.typed, () => c.key.getAttribute('keyType'));
}

/** The operation, with `afterPart` applied to the errors of its parts. */
function checked<T extends Operation>(op: T, check: KeyCheck): T {
  op.mapPartError = (e) => afterPart(e, check);
  return op;
}

class CheckedVerifyOperation extends VerifyOperation {
  constructor(
    session: Session,
    release: () => void,
    private readonly check: KeyCheck,
  ) {
    super(session, release);
  }
  // A module may answer a key of another family with "invalid signature" (SoftHSM: an EC key and
  // RSA PKCS#1), as privateKey.verify knows: on that path only, learn the type once and refuse.
  override async final(signature: Bytes): Promise<boolean> {
    const ok = await super.final(signature);
    const { key, mechanism, typed } = this.check;
    if (ok || knownKeyType(key) !== undefined || !keyTypesFor(mechanism.mechanism)) return ok;
    try {
      rememberKeyType(key, await key.getAttribute('keyType'));
    } catch {
      return ok; // unreadable: the verdict stands
    }
    checkKeyMechanism(key, mechanism, typed);
    return ok;
  }
}

/** An Init followed by the context-specific login a CKA_ALWAYS_AUTHENTICATE key asks for. */
function thenContextLogin(init: (raw: PKCS11, h: Ulong, m: Mechanism) => Promise<void>, pin: PrivateKeyCallOptions['contextPin'], what: 'sign' | 'decrypt') {
  return async (raw: PKCS11, h: Ulong, m: Mechanism): Promise<void> => {
    await init(raw, h, m);
    await contextLogin(raw, h, pin, what);
  };
}

/** @internal session.signInit(); `typed` names the public method (signStream uses it too). */
export async function signInit(session: Session, spec: MechanismSpec, key: Key, options: PrivateKeyCallOptions = {}, typed = 'session.signInit'): Promise<SignOperation> {
  const init = thenContextLogin((raw, h, m) => raw.C_SignInitAsync(h, m, key.handle), options.contextPin, 'sign');
  const { release, check } = await startKeyOperation(session, 'signInit', typed, spec, key, init, options.signal);
  return checked(new SignOperation(session, release), check).attachSignal(options.signal);
}

/** @internal session.verifyInit() */
export async function verifyInit(session: Session, spec: MechanismSpec, key: Key, options: CallOptions = {}, typed = 'session.verifyInit'): Promise<VerifyOperation> {
  const { release, check } = await startKeyOperation(session, 'verifyInit', typed, spec, key, (raw, h, m) => raw.C_VerifyInitAsync(h, m, key.handle), options.signal);
  return checked(new CheckedVerifyOperation(session, release, check), check).attachSignal(options.signal);
}

/** @internal session.encryptInit() */
export async function encryptInit(session: Session, spec: MechanismSpec, key: Key, options: CallOptions = {}, typed = 'session.encryptInit'): Promise<CipherOperation> {
  const { release, check } = await startKeyOperation(session, 'encryptInit', typed, spec, key, (raw, h, m) => raw.C_EncryptInitAsync(h, m, key.handle), options.signal);
  return checked(new CipherOperation(session, release, 'encrypt'), check).attachSignal(options.signal);
}

/** @internal session.decryptInit() */
export async function decryptInit(session: Session, spec: MechanismSpec, key: Key, options: PrivateKeyCallOptions = {}, typed = 'session.decryptInit'): Promise<CipherOperation> {
  const init = thenContextLogin((raw, h, m) => raw.C_DecryptInitAsync(h, m, key.handle), options.contextPin, 'decrypt');
  const { release, check } = await startKeyOperation(session, 'decryptInit', typed, spec, key, init, options.signal);
  return checked(new CipherOperation(session, release, 'decrypt'), check).attachSignal(options.signal);
}

export const cryptoMethods = {
  /**
   * Starts a multi-part operation. The session is this operation's until final() or abort();
   * other calls on the session wait for it.
   */
  signInit(this: Session, spec: MechanismSpec, key: Key, options?: PrivateKeyCallOptions): Promise<SignOperation> {
    return signInit(this, spec, key, options);
  },

  verifyInit(this: Session, spec: MechanismSpec, key: Key, options?: CallOptions): Promise<VerifyOperation> {
    return verifyInit(this, spec, key, options);
  },

  encryptInit(this: Session, spec: MechanismSpec, key: Key, options?: CallOptions): Promise<CipherOperation> {
    return encryptInit(this, spec, key, options);
  },

  decryptInit(this: Session, spec: MechanismSpec, key: Key, options?: PrivateKeyCallOptions): Promise<CipherOperation> {
    return decryptInit(this, spec, key, options);
  },

  async digestInit(this: Session, spec: MechanismSpec, options: CallOptions = {}): Promise<DigestOperation> {
    const { release } = await this.startOperation('digestInit', spec, (raw, h, m) => raw.C_DigestInitAsync(h, m), options.signal);
    return new DigestOperation(this, release).attachSignal(options.signal);
  },

  /** One-shot digest on the token ({ name: 'SHA-256' } …). */
  async digest(this: Session, spec: MechanismSpec, data: Bytes, options: CallOptions = {}): Promise<Buffer> {
    const m = resolveFor(spec, undefined, 'session.digest').mechanism;
    return this.run('digest', (raw, h) => fused(raw).digestOnceAsync(h, m, data), options.signal);
  },
};
