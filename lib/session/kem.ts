// PKCS#11 3.2 key encapsulation (C_EncapsulateKey / C_DecapsulateKey): the sender gets a new
// secret key and a ciphertext for the holder of the private key, who turns the ciphertext back
// into the same key. Both are single calls, so the session is held only for that call.
//
// A module without these functions (every 2.x and 3.0 module) answers FunctionNotSupportedError.
import * as C from '../constants/generated';
import { MechanismSpec, resolveMechanism } from '../mechanisms';
import { objectFor } from '../objects/factory';
import { keyTypeReader, PrivateKey, PublicKey, SecretKey } from '../objects/keys';
import { checkKeyMechanism, mismatchAfterFailure, rememberKeyType } from '../mechanisms/key-compat';
import { checkBytes, describeValue } from './operations';
import type { Bytes, Mechanism, PKCS11, Template, Ulong } from '../binding/raw-types';
import type { Session } from './session';
import { encodeTemplate, OBJECT_CLASSES, TemplateObject } from '../template/attributes';

/** A KEM: ML-KEM (the parameter set comes from the key), or any mechanism spec / raw `{ mechanism, parameter }`. */
export type KemSpec = { name: 'ML-KEM' } | MechanismSpec;

export interface KemPlan {
  mechanism: Mechanism;
  template: Template;
}

/** The defaults every encapsulated/decapsulated key gets unless the template says otherwise. */
const KEY_DEFAULTS: TemplateObject = { class: 'secretKey', token: false };

/**
 * The raw mechanism and template the typed calls pass to C_EncapsulateKey / C_DecapsulateKey
 * (exported so the encoding can be checked without a 3.2 module). `fn` names the calling function
 * in argument errors.
 */
export function planKem(spec: KemSpec, template: TemplateObject = {}, fn = 'encapsulate'): KemPlan {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new TypeError(`${fn}: argument 'spec' must be a KEM spec object, got ${describeValue(spec)}`);
  if (template === null || typeof template !== 'object' || Array.isArray(template))
    throw new TypeError(`${fn}: argument 'template' must be an object of attribute values, got ${describeValue(template)}`);
  const cls = template.class;
  if (cls !== undefined && cls !== 'secretKey' && cls !== C.CKO_SECRET_KEY) {
    throw new RangeError(`${fn}: argument 'template' has class ${String(cls)}; a KEM makes a secret key`);
  }
  let mechanism: Mechanism;
  try {
    mechanism = 'name' in spec && spec.name === 'ML-KEM' ? { mechanism: C.CKM_ML_KEM } : resolveMechanism(spec as MechanismSpec).mechanism;
  } catch (e) {
    throw rethrown(e, `${fn}: argument 'spec' is invalid`);
  }
  try {
    return { mechanism, template: encodeTemplate({ ...KEY_DEFAULTS, ...template }) };
  } catch (e) {
    throw rethrown(e, `${fn}: argument 'template' is invalid`);
  }
}

// The same class of error with the argument named in front (the encoders do not know it).
function rethrown(e: unknown, prefix: string): unknown {
  if (e instanceof RangeError) return new RangeError(`${prefix}: ${e.message}`);
  if (e instanceof TypeError) return new TypeError(`${prefix}: ${e.message}`);
  return e;
}

function checkKey(key: unknown, Cls: typeof PublicKey | typeof PrivateKey, fn: string, name: string): void {
  if (!(key instanceof Cls)) throw new TypeError(`${fn}: argument '${name}' must be a ${Cls.name}, got ${describeValue(key)}`);
}

// The KEM call on `key`: a key of another family than the mechanism is refused before the call
// when its type is known, and the module's "not this key" answer becomes the same error
// (mechanisms/key-compat.ts; only mechanisms in its table are checked).
function kemCall<T>(session: Session, fn: string, key: PublicKey | PrivateKey, m: Mechanism, call: (raw: PKCS11, h: Ulong) => Promise<T>): Promise<T> {
  const typed = `session.${fn}`;
  checkKeyMechanism(key, m, typed);
  return session.run(fn, async (raw, h) => {
    try {
      return await call(raw, h);
    } catch (e) {
      throw await mismatchAfterFailure(e, key, m, typed, keyTypeReader(raw, h, key));
    }
  });
}

// The new key's type, when the caller's template says it.
function madeKey(session: Session, handle: Ulong, template: TemplateObject): SecretKey {
  const key = objectFor(session, handle, OBJECT_CLASSES.secretKey) as SecretKey;
  rememberKeyType(key, template.keyType);
  return key;
}

/** session.encapsulate(): a new secret key (session object by default) and its ciphertext. */
export async function encapsulate(session: Session, spec: KemSpec, publicKey: PublicKey, template: TemplateObject = {}): Promise<{ ciphertext: Buffer; key: SecretKey }> {
  checkKey(publicKey, PublicKey, 'encapsulate', 'publicKey');
  const plan = planKem(spec, template, 'encapsulate');
  const r = await kemCall(session, 'encapsulate', publicKey, plan.mechanism, (raw, h) => raw.C_EncapsulateKeyAsync(h, plan.mechanism, publicKey.handle, plan.template));
  return { ciphertext: r.ciphertext, key: madeKey(session, r.key, template) };
}

/** session.decapsulate(): the secret key a ciphertext carries. */
export async function decapsulate(session: Session, spec: KemSpec, privateKey: PrivateKey, ciphertext: Bytes, template: TemplateObject = {}): Promise<SecretKey> {
  checkKey(privateKey, PrivateKey, 'decapsulate', 'privateKey');
  checkBytes(ciphertext, 'decapsulate', 'ciphertext');
  if (!ciphertext.byteLength) throw new RangeError(`decapsulate: argument 'ciphertext' must not be empty`);
  const plan = planKem(spec, template, 'decapsulate');
  const h = await kemCall(session, 'decapsulate', privateKey, plan.mechanism, (raw, s) =>
    raw.C_DecapsulateKeyAsync(s, plan.mechanism, privateKey.handle, plan.template, ciphertext),
  );
  return madeKey(session, h, template);
}

// session.encapsulate() and decapsulate(), added here (see docs/architecture.md).
declare module './session' {
  interface Session {
    /** PKCS#11 3.2 C_EncapsulateKey: a new secret key (session object by default) and its ciphertext. */
    encapsulate(spec: KemSpec, publicKey: PublicKey, template?: TemplateObject): Promise<{ ciphertext: Buffer; key: SecretKey }>;
    /** PKCS#11 3.2 C_DecapsulateKey: the secret key `ciphertext` carries. */
    decapsulate(spec: KemSpec, privateKey: PrivateKey, ciphertext: Bytes, template?: TemplateObject): Promise<SecretKey>;
  }
}

/** Installed on Session by session/index.ts. */
export const kemMethods = {
  encapsulate(this: Session, spec: KemSpec, publicKey: PublicKey, template?: TemplateObject) {
    return encapsulate(this, spec, publicKey, template);
  },
  decapsulate(this: Session, spec: KemSpec, privateKey: PrivateKey, ciphertext: Bytes, template?: TemplateObject) {
    return decapsulate(this, spec, privateKey, ciphertext, template);
  },
};
