// Keys with their operations. Each operation holds the session from Init to the final call, so
// nothing can interleave on the session between them. Key management (wrap, unwrap, derive)
// hands back the new key typed by its class.
import * as crypto from 'node:crypto';
import * as C from '../constants/generated';
import type { MechanismSpec } from '../mechanisms';
import { deriveMechanism, DeriveInputs, DeriveSpec, isBytes, needsPeerPoint, PrivateKeyDeriveSpec, resolveWrapMechanism, SecretKeyDeriveSpec, WrapSpec } from '../mechanisms/kdf';
import { rawEcPoint } from '../encoding/ec';
import type { Bytes, Mechanism, PKCS11 as RawModule, Pin, Ulong } from '../binding/raw-types';
import { classNumber, encodeTemplate, KEY_TYPES, TemplateObject } from '../template/attributes';
import type { CallOptions, Session } from '../session/session';
import { Pkcs11Object } from './object';
import { contextLogin, endOperation, OperationKind } from '../binding/operation-end';
import { failedInInit, fused } from '../binding/fused';
import { callChannel } from '../core/diagnostics';
import { checkKeyMechanism, keyTypesFor, knownKeyType, mismatchAfterFailure, rememberKeyType, resolveFor } from '../mechanisms/key-compat';
import { ulong } from '../template/codecs';

async function resolved(key: Pkcs11Object, spec: MechanismSpec, what: string) {
  const slot = key.session.slot;
  // Once the token's list is known, no await: this runs on every sign/encrypt.
  const supported = slot.knownMechanisms ?? (await slot.mechanismSet());
  const r = resolveFor(spec, (t) => supported.has(String(t)), what);
  checkKeyMechanism(key, r.mechanism, what);
  return r;
}

/** The typed method for messages: `privateKey.sign`, `secretKey.encrypt` …. */
// Made once per class and kind: the one-shot methods are a hot path.
const typedNames = new Map<unknown, Map<string, string>>();
function typedName(key: Key, kind: string): string {
  let byKind = typedNames.get(key.constructor);
  if (!byKind) typedNames.set(key.constructor, (byKind = new Map()));
  let name = byKind.get(kind);
  if (name === undefined) {
    const c = key.constructor.name;
    byKind.set(kind, (name = `${c.charAt(0).toLowerCase()}${c.slice(1)}.${kind}`));
  }
  return name;
}

/**
 * @internal The key's CKA_KEY_TYPE, read on a session this operation holds (only after a failed
 * call: mismatchAfterFailure in mechanisms/key-compat.ts).
 */
export function keyTypeReader(raw: RawModule, h: Ulong, key: Pkcs11Object): () => Promise<unknown> {
  return async () => {
    const [a] = await raw.C_GetAttributeValueAsync(h, key.handle, [C.CKA_KEY_TYPE]);
    return a.status === 'ok' && Buffer.isBuffer(a.value) ? ulong.decode(a.value) : undefined;
  };
}

function prehashed(data: Bytes, hash: string | undefined): Bytes {
  if (!hash) return data;
  const view = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return crypto.createHash(hash).update(view).digest();
}

export class Key extends Pkcs11Object {}

// Each call takes its place on the session at once (so close() and the caller's stack see it),
// and resolves the mechanism inside, where the token's mechanism list is at hand. Without a
// context PIN, Init and the call go to the module in one trip (`once`, lib/fused.ts); with one, the
// context login goes between them.
function oneShot<T>(
  key: Key,
  kind: OperationKind,
  spec: MechanismSpec,
  options: PrivateKeyCallOptions,
  init: (raw: RawModule, h: Ulong, m: Mechanism) => Promise<void>,
  call: (raw: RawModule, h: Ulong, prehash: string | undefined) => Promise<T>,
  once: (raw: RawModule, h: Ulong, m: Mechanism, prehash: string | undefined) => Promise<T>,
): Promise<T> {
  // The common case — an idle session, the mechanism list known, no signal, no context PIN —
  // runs as one async function: the general path's layers (admit, mutex, call) cost about 10%
  // of an ECDSA signature on SoftHSM (bench/typed).
  const set = key.session.slot.knownMechanisms;
  if (set && !options.signal && options.contextPin === undefined && !callChannel.hasSubscribers) {
    const release = key.session.tryHold();
    if (release) return fastOneShot(key, kind, spec, set, once, release);
  }
  const what = typedName(key, kind);
  return key.session.run(
    kind,
    async (raw, h) => {
      const r = await resolved(key, spec, what);
      try {
        if (options.contextPin === undefined) return await runOnce(raw, h, kind, () => once(raw, h, r.mechanism, r.prehash));
        await init(raw, h, r.mechanism);
        await contextLogin(raw, h, options.contextPin, kind);
        try {
          return await call(raw, h, r.prehash);
        } catch (e) {
          // The spec ends the operation on failure, but some modules keep it (tpm2-pkcs11 after a
          // failed C_Decrypt); make sure the session's next Init works.
          await endOperation(raw, h, kind);
          throw e;
        }
      } catch (e) {
        throw await mismatchAfterFailure(e, key, r.mechanism, what, keyTypeReader(raw, h, key));
      }
    },
    options.signal,
  );
}

// A fused Init + call; a failure after Init ends the operation, as above.
async function runOnce<T>(raw: RawModule, h: Ulong, kind: OperationKind, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (!failedInInit(e)) await endOperation(raw, h, kind);
    throw e;
  }
}

async function fastOneShot<T>(
  key: Key,
  kind: OperationKind,
  spec: MechanismSpec,
  supported: Set<string>,
  once: (raw: RawModule, h: Ulong, m: Mechanism, prehash: string | undefined) => Promise<T>,
  release: () => void,
): Promise<T> {
  const m = key.session.slot.module;
  m.enter();
  const what = typedName(key, kind);
  let mechanism: Mechanism | undefined;
  try {
    const r = resolveFor(spec, (t) => supported.has(String(t)), what);
    mechanism = r.mechanism;
    checkKeyMechanism(key, mechanism, what);
    const raw = m.raw;
    const h = key.session.handle;
    // runOnce() inlined: one async frame less per call (a promise and a microtask on the JS
    // thread, the hot path's scarcest resource: bench/raw).
    try {
      return await once(raw, h, r.mechanism, r.prehash);
    } catch (e) {
      if (!failedInInit(e)) await endOperation(raw, h, kind);
      throw e;
    }
  } catch (e) {
    throw m.nameError(await mismatchAfterFailure(e, key, mechanism, what, keyTypeReader(m.raw, key.session.handle, key)), fastOneShot);
  } finally {
    release();
    m.leave();
  }
}

function sign(key: Key, spec: MechanismSpec, data: Bytes, options: PrivateKeyCallOptions): Promise<Buffer> {
  return oneShot(
    key,
    'sign',
    spec,
    options,
    (raw, h, m) => raw.C_SignInitAsync(h, m, key.handle),
    (raw, h, prehash) => raw.C_SignAsync(h, prehashed(data, prehash)),
    (raw, h, m, prehash) => fused(raw).signOnceAsync(h, m, key.handle, prehashed(data, prehash)),
  );
}

/** Options of private-key operations. */
export interface PrivateKeyCallOptions extends CallOptions {
  /**
   * The PIN for a context-specific login right after Init, for keys with CKA_ALWAYS_AUTHENTICATE
   * (the token asks for the PIN again before each use of such a key).
   */
  contextPin?: Pin;
}

// CKR_SIGNATURE_INVALID is false (the raw layer already maps it); a wrong length is false too.
async function verdict(p: Promise<boolean>): Promise<boolean> {
  try {
    return await p;
  } catch (e) {
    if ((e as { rvName?: string }).rvName === 'CKR_SIGNATURE_LEN_RANGE') return false;
    throw e;
  }
}

async function verify(key: Key, spec: MechanismSpec, data: Bytes, signature: Bytes, options: CallOptions): Promise<boolean> {
  const ok = await oneShot(
    key,
    'verify',
    spec,
    { signal: options.signal },
    (raw, h, m) => raw.C_VerifyInitAsync(h, m, key.handle),
    (raw, h, prehash) => verdict(raw.C_VerifyAsync(h, prehashed(data, prehash), signature)),
    (raw, h, m, prehash) => verdict(fused(raw).verifyOnceAsync(h, m, key.handle, prehashed(data, prehash), signature)),
  );
  if (!ok) await mismatchAfterInvalid(key, spec);
  return ok;
}

// Some modules answer a key of another family with "invalid signature" (SoftHSM: an EC key and
// RSA PKCS#1): on that path only (never on a valid one), learn the key's type once and throw
// KeyMechanismMismatchError when the pair cannot fit.
async function mismatchAfterInvalid(key: Key, spec: MechanismSpec): Promise<void> {
  const set = key.session.slot.knownMechanisms;
  if (knownKeyType(key) !== undefined || !set) return;
  const what = typedName(key, 'verify');
  const r = resolveFor(spec, (t) => set.has(String(t)), what);
  if (!keyTypesFor(r.mechanism.mechanism)) return;
  rememberKeyType(key, await key.getAttribute('keyType'));
  checkKeyMechanism(key, r.mechanism, what);
}

function encrypt(key: Key, spec: MechanismSpec, data: Bytes, options: CallOptions): Promise<Buffer> {
  return oneShot(
    key,
    'encrypt',
    spec,
    { signal: options.signal },
    (raw, h, m) => raw.C_EncryptInitAsync(h, m, key.handle),
    (raw, h) => raw.C_EncryptAsync(h, data),
    (raw, h, m) => fused(raw).encryptOnceAsync(h, m, key.handle, data),
  );
}

function decrypt(key: Key, spec: MechanismSpec, data: Bytes, options: PrivateKeyCallOptions): Promise<Buffer> {
  return oneShot(
    key,
    'decrypt',
    spec,
    options,
    (raw, h, m) => raw.C_DecryptInitAsync(h, m, key.handle),
    (raw, h) => raw.C_DecryptAsync(h, data),
    (raw, h, m) => fused(raw).decryptOnceAsync(h, m, key.handle, data),
  );
}

// --- key management: wrap, unwrap, derive ---

/** The key classes unwrap and derive make. */
export type KeyClassName = 'secretKey' | 'privateKey' | 'publicKey';

/** The JS class for a CKA_CLASS name (Key for numbers and vendor classes). */
export type KeyOfClass<K> = K extends 'secretKey' ? SecretKey : K extends 'privateKey' ? PrivateKey : K extends 'publicKey' ? PublicKey : Key;

/** A template for unwrap: it must say the new key's class and key type. */
export type UnwrapTemplate = TemplateObject & { class: KeyClassName | Ulong; keyType: string | Ulong };

/** What unwrap returns for a template: typed by its `class` (Key for a wide TemplateObject). */
export type UnwrappedKey<T> = string extends keyof T ? Key : T extends { readonly class: infer K } ? KeyOfClass<K> : Key;

/** What derive returns for a template: a SecretKey unless `class` says otherwise (Key for a wide TemplateObject). */
export type DerivedKey<T> = string extends keyof T ? Key : T extends { readonly class: infer K } ? KeyOfClass<K> : SecretKey;

const ENCRYPT = { encrypt: true, decrypt: true };
// Usage flags a new key gets unless the caller's template sets them (undefined drops one).
const USAGE: Record<number, Record<string, TemplateObject>> = {
  [C.CKO_SECRET_KEY]: {
    aes: ENCRYPT,
    des3: ENCRYPT,
    des2: ENCRYPT,
    chacha20: ENCRYPT,
    camellia: ENCRYPT,
    aria: ENCRYPT,
    genericSecret: { sign: true, verify: true, derive: true },
  },
  [C.CKO_PRIVATE_KEY]: { rsa: { sign: true, decrypt: true }, ec: { sign: true }, ecEdwards: { sign: true }, ecMontgomery: { derive: true }, dsa: { sign: true } },
  [C.CKO_PUBLIC_KEY]: { rsa: { verify: true, encrypt: true }, ec: { verify: true }, ecEdwards: { verify: true }, dsa: { verify: true } },
};

// CKK value → its first camelCase name (the one reads decode to: 'ec', not 'ecdsa').
const KEY_TYPE_NAMES = new Map<number, string>();
for (const [k, v] of Object.entries(KEY_TYPES)) if (!KEY_TYPE_NAMES.has(v)) KEY_TYPE_NAMES.set(v, k);

/** Defaults merged under the caller's template: session object, private keys private, secrets and private keys sensitive, usage by key type. */
function defaultsFor(cls: number, keyType: unknown): TemplateObject {
  const n = typeof keyType === 'string' ? KEY_TYPES[keyType] : keyType;
  const kt = typeof n === 'number' ? KEY_TYPE_NAMES.get(n) : undefined;
  const usage = (kt !== undefined && USAGE[cls]?.[kt]) || {};
  if (cls === C.CKO_PRIVATE_KEY) return { token: false, private: true, sensitive: true, ...usage };
  if (cls === C.CKO_SECRET_KEY) return { token: false, sensitive: true, ...usage };
  return { token: false, ...usage };
}

// The class map of ./factory for the key classes; importing factory here would make a cycle
// (factory builds its table from these classes when it loads).
function keyFor(session: Session, handle: Ulong, cls: number): Key {
  if (cls === C.CKO_SECRET_KEY) return new SecretKey(session, handle);
  if (cls === C.CKO_PRIVATE_KEY) return new PrivateKey(session, handle);
  if (cls === C.CKO_PUBLIC_KEY) return new PublicKey(session, handle);
  return new Key(session, handle);
}

function templateObject(what: string, t: unknown): TemplateObject {
  if (t === null || typeof t !== 'object' || Array.isArray(t)) throw new TypeError(`${what}: argument 'template' must be an object of attribute values`);
  return t as TemplateObject;
}

function keyClass(what: string, cls: unknown): number {
  const n = classNumber(cls);
  const isKey = n === C.CKO_SECRET_KEY || n === C.CKO_PRIVATE_KEY || n === C.CKO_PUBLIC_KEY || (n !== undefined && n >= C.CKO_VENDOR_DEFINED);
  if (n === undefined || !isKey) throw new RangeError(`${what}: 'template.class' must be 'secretKey', 'privateKey', 'publicKey' or a vendor class (got ${String(cls)})`);
  return n;
}

function otherKey(what: string, self: Key, key: unknown): Pkcs11Object {
  if (!(key instanceof Pkcs11Object)) throw new TypeError(`${what}: argument 'key' must be a key object (SecretKey, PrivateKey …)`);
  if (key.session.slot.module !== self.session.slot.module) throw new RangeError(`${what}: argument 'key' belongs to another module`);
  return key;
}

// Key management on `key` with mechanism `m`, on the session: a mechanism of another key family
// (AES-KW with an RSA key …) is refused before the call when the key's type is known, and the
// module's "not this key" answer becomes the same error (see mechanisms/key-compat.ts).
function keyed<T>(key: Key, kind: string, m: Mechanism, call: (raw: RawModule, h: Ulong) => Promise<T>, signal?: AbortSignal): Promise<T> {
  const what = typedName(key, kind);
  checkKeyMechanism(key, m, what);
  return key.session.run(
    kind,
    async (raw, h) => {
      try {
        return await call(raw, h);
      } catch (e) {
        throw await mismatchAfterFailure(e, key, m, what, keyTypeReader(raw, h, key));
      }
    },
    signal,
  );
}

async function wrap(wrapping: Key, spec: WrapSpec, key: Key, signal?: AbortSignal): Promise<Buffer> {
  const m = resolveWrapMechanism(spec, 'wrap');
  const k = otherKey('wrap', wrapping, key);
  return keyed(wrapping, 'wrap', m, (raw, h) => raw.C_WrapKeyAsync(h, m, wrapping.handle, k.handle), signal);
}

async function unwrap(unwrapping: Key, spec: WrapSpec, wrapped: Bytes, template: UnwrapTemplate, signal?: AbortSignal): Promise<Key> {
  const m = resolveWrapMechanism(spec, 'unwrap');
  if (!isBytes(wrapped)) throw new TypeError("unwrap: argument 'wrapped' must be bytes (a Buffer, TypedArray or ArrayBuffer)");
  const t = templateObject('unwrap', template);
  if (t.class === undefined) throw new TypeError("unwrap: argument 'template' must say the new key's class (class: 'secretKey' | 'privateKey' | 'publicKey')");
  if (t.keyType === undefined) throw new TypeError("unwrap: argument 'template' must say the new key's type (keyType: 'aes', 'ec', 'rsa' …)");
  const cls = keyClass('unwrap', t.class);
  const raw = encodeTemplate({ ...defaultsFor(cls, t.keyType), ...t });
  const h = await keyed(unwrapping, 'unwrap', m, (mod, s) => mod.C_UnwrapKeyAsync(s, m, unwrapping.handle, wrapped, raw), signal);
  const k = keyFor(unwrapping.session, h, cls);
  rememberKeyType(k, t.keyType);
  return k;
}

/**
 * The raw mechanism for a derive spec. `base` says which key class derives ('privateKey' for
 * ECDH, 'secretKey' for the others), so a spec on the wrong kind of key is a RangeError here
 * rather than a module error. Async because a PublicKey peer's CKA_EC_POINT is read first (through
 * its own session); the spec is then translated by mechanisms/kdf, which makes no token calls.
 */
export async function resolveDeriveMechanism(spec: DeriveSpec, base: 'privateKey' | 'secretKey', what = 'derive'): Promise<Mechanism> {
  const inputs: DeriveInputs = {};
  if (needsPeerPoint(spec, base, (v) => v instanceof Pkcs11Object)) {
    const peer = (spec as { publicKey: Pkcs11Object }).publicKey;
    const a = await peer.getAttributes(['ecPoint', 'ecParams', 'keyType']);
    if (!(a.ecPoint instanceof Buffer)) throw new TypeError(`${what}: 'spec.publicKey' has no readable CKA_EC_POINT`);
    inputs.peerPoint = rawEcPoint(a.ecPoint, a.ecParams instanceof Buffer ? a.ecParams : undefined, a.keyType);
  }
  const salt = spec !== null && typeof spec === 'object' ? (spec as { salt?: unknown }).salt : undefined;
  if (salt instanceof Pkcs11Object) inputs.saltKey = salt.handle;
  return deriveMechanism(spec, base, what, inputs);
}

async function derive(base: Key, kind: 'privateKey' | 'secretKey', spec: PrivateKeyDeriveSpec | SecretKeyDeriveSpec, template: TemplateObject, signal?: AbortSignal): Promise<Key> {
  const t = templateObject('derive', template);
  const cls = keyClass('derive', t.class ?? 'secretKey');
  const keyType = t.keyType ?? (cls === C.CKO_SECRET_KEY ? 'genericSecret' : undefined);
  const raw = encodeTemplate({ class: 'secretKey', keyType, ...defaultsFor(cls, keyType), ...t });
  // Before taking the session: an ECDH peer given as a PublicKey is read through its own session.
  const m = await resolveDeriveMechanism(spec, kind, 'derive');
  const h = await keyed(base, 'derive', m, (mod, s) => mod.C_DeriveKeyAsync(s, m, base.handle, raw), signal);
  const k = keyFor(base.session, h, cls);
  if (keyType !== undefined) rememberKeyType(k, keyType);
  return k;
}

export class PrivateKey extends Key {
  /**
   * Signs `data`; ECDSA signatures are raw r||s (node: dsaEncoding 'ieee-p1363').
   * `options.contextPin` for keys with CKA_ALWAYS_AUTHENTICATE.
   */
  sign(spec: MechanismSpec, data: Bytes, options: PrivateKeyCallOptions = {}): Promise<Buffer> {
    return sign(this, spec, data, options);
  }
  decrypt(spec: MechanismSpec, data: Bytes, options: PrivateKeyCallOptions = {}): Promise<Buffer> {
    return decrypt(this, spec, data, options);
  }
  /**
   * Unwraps (decrypts) a key wrapped for this private key, e.g. RSA-OAEP. The template must give
   * `class` and `keyType`; defaults (session object, sensitive, usage by key type) go under it.
   */
  unwrap<const T extends UnwrapTemplate>(spec: WrapSpec, wrapped: Bytes, template: T, options: CallOptions = {}): Promise<UnwrappedKey<T>> {
    return unwrap(this, spec, wrapped, template, options.signal) as Promise<UnwrappedKey<T>>;
  }
  /**
   * Derives a key with ECDH ({ name: 'ECDH', publicKey, kdf }). Default template: a session
   * generic secret (sensitive; sign, verify, derive); the caller's template wins, and CKA_VALUE_LEN
   * (`valueLen`) is usually needed.
   */
  derive<const T extends TemplateObject = Record<never, never>>(spec: PrivateKeyDeriveSpec, template?: T, options: CallOptions = {}): Promise<DerivedKey<T>> {
    return derive(this, 'privateKey', spec, template ?? {}, options.signal) as Promise<DerivedKey<T>>;
  }
}

// toKeyObject(), toSpki() and toJwk() are added by interop/keyobject.ts, the layer above, which
// needs this class (it makes keys) and so cannot be imported from here.
export class PublicKey extends Key {
  /** true or false; an invalid signature is false, not an error. */
  verify(spec: MechanismSpec, data: Bytes, signature: Bytes, options: CallOptions = {}): Promise<boolean> {
    return verify(this, spec, data, signature, options);
  }
  encrypt(spec: MechanismSpec, data: Bytes, options: CallOptions = {}): Promise<Buffer> {
    return encrypt(this, spec, data, options);
  }
  /** Wraps (encrypts) `key` with this public key, e.g. RSA-OAEP; `key` must be extractable. */
  wrap(spec: WrapSpec, key: Key, options: CallOptions = {}): Promise<Buffer> {
    return wrap(this, spec, key, options.signal);
  }
}

export class SecretKey extends Key {
  encrypt(spec: MechanismSpec, data: Bytes, options: CallOptions = {}): Promise<Buffer> {
    return encrypt(this, spec, data, options);
  }
  decrypt(spec: MechanismSpec, data: Bytes, options: CallOptions = {}): Promise<Buffer> {
    return decrypt(this, spec, data, { signal: options.signal });
  }
  /** A MAC (HMAC …). */
  sign(spec: MechanismSpec, data: Bytes, options: CallOptions = {}): Promise<Buffer> {
    return sign(this, spec, data, { signal: options.signal });
  }
  verify(spec: MechanismSpec, data: Bytes, mac: Bytes, options: CallOptions = {}): Promise<boolean> {
    return verify(this, spec, data, mac, options);
  }
  /** Wraps (encrypts) `key` with this key (AES-KW, AES-KW with padding, AES-CBC …); `key` must be extractable. */
  wrap(spec: WrapSpec, key: Key, options: CallOptions = {}): Promise<Buffer> {
    return wrap(this, spec, key, options.signal);
  }
  /** Unwraps a key wrapped with this key; the template must give `class` and `keyType` (see PrivateKey.unwrap). */
  unwrap<const T extends UnwrapTemplate>(spec: WrapSpec, wrapped: Bytes, template: T, options: CallOptions = {}): Promise<UnwrappedKey<T>> {
    return unwrap(this, spec, wrapped, template, options.signal) as Promise<UnwrappedKey<T>>;
  }
  /**
   * Derives a key (HKDF, AES-ECB/CBC-ENCRYPT-DATA, SP800-108 …). Default template: a session
   * generic secret (sensitive; sign, verify, derive); the caller's template wins.
   */
  derive<const T extends TemplateObject = Record<never, never>>(spec: SecretKeyDeriveSpec, template?: T, options: CallOptions = {}): Promise<DerivedKey<T>> {
    return derive(this, 'secretKey', spec, template ?? {}, options.signal) as Promise<DerivedKey<T>>;
  }
}
