// node:crypto interop for keys: token public keys as KeyObject / JWK / SPKI, and node:crypto keys
// imported into a session (C_CreateObject). The encodings (attributes ↔ JWK, CKA_EC_POINT,
// curves, ECDSA signature forms) are encoding/'s; this file reads the token and writes to it, and
// re-exports them where 0.1 had them.
import { createPublicKey, KeyObject } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { keyObjectArg, privateKeyAttributes, publicJwkOfAttributes, publicKeyAttributes } from '../encoding/jwk';
import { Pkcs11Object } from '../objects/object';
import { PrivateKey, PublicKey, SecretKey } from '../objects/keys';
import { Session } from '../session';
import type { TemplateObject } from '../template/attributes';

export { curveOfParams, derToEcdsa, ecdsaToDer, ecPointBytes } from '../encoding/ec';
export { privateKeyAttributes, publicKeyAttributes } from '../encoding/jwk';

// --- public keys: token → node ---

/**
 * The public key's JWK, from its attributes (one C_GetAttributeValue): RSA from CKA_MODULUS and
 * CKA_PUBLIC_EXPONENT; EC, Edwards and Montgomery from CKA_EC_PARAMS and CKA_EC_POINT (compressed
 * EC points are decompressed by node:crypto's ECDH.convertKey).
 */
export async function publicKeyJwk(publicKey: PublicKey): Promise<JsonWebKey> {
  if (!(publicKey instanceof Pkcs11Object)) throw new TypeError("exportPublicKey: argument 'publicKey' must be a PublicKey");
  const a = await publicKey.getAttributes(['class', 'keyType', 'modulus', 'publicExponent', 'ecParams', 'ecPoint']);
  return publicJwkOfAttributes(a, 'exportPublicKey');
}

/** The public key as a node:crypto KeyObject (RSA, EC P-256/P-384/P-521/secp256k1, Ed25519/Ed448, X25519/X448). */
export async function exportPublicKey(publicKey: PublicKey): Promise<KeyObject> {
  return createPublicKey({ key: await publicKeyJwk(publicKey), format: 'jwk' });
}

/** SubjectPublicKeyInfo of the public key, DER (a Buffer) or PEM (a string), encoded by node:crypto. */
export async function exportSpki(publicKey: PublicKey, format: 'der'): Promise<Buffer>;
export async function exportSpki(publicKey: PublicKey, format: 'pem'): Promise<string>;
export async function exportSpki(publicKey: PublicKey, format: 'der' | 'pem' = 'der'): Promise<Buffer | string> {
  if (format !== 'der' && format !== 'pem') throw new RangeError(`exportSpki: argument 'format' must be 'der' or 'pem' (got ${String(format)})`);
  const k = await exportPublicKey(publicKey);
  return format === 'der' ? k.export({ type: 'spki', format: 'der' }) : (k.export({ type: 'spki', format: 'pem' }) as string);
}

/** The public key's JWK as node:crypto exports it (members in node's order). */
export async function exportJwk(publicKey: PublicKey): Promise<JsonWebKey> {
  return (await exportPublicKey(publicKey)).export({ format: 'jwk' });
}

// --- node → token ---

function templateArg(what: string, t: unknown): TemplateObject {
  if (t === undefined) return {};
  if (t === null || typeof t !== 'object' || Array.isArray(t)) throw new TypeError(`${what}: argument 'template' must be an object of attribute values`);
  return t as TemplateObject;
}

const PRIVATE_USAGE: Record<string, TemplateObject> = { rsa: { sign: true, decrypt: true }, ec: { sign: true }, ecEdwards: { sign: true }, ecMontgomery: { derive: true } };
const PUBLIC_USAGE: Record<string, TemplateObject> = { rsa: { verify: true, encrypt: true }, ec: { verify: true }, ecEdwards: { verify: true }, ecMontgomery: {} };

/**
 * Creates a session private key from a node:crypto private key. Defaults: session object
 * (token false), private, sensitive, sign (RSA also decrypt; X25519/X448 derive); the caller's
 * `template` wins over the defaults (label, id, token: true …), the key's own class, type and
 * components over the template.
 */
export async function importPrivateKey(session: Session, keyObject: KeyObject, template?: TemplateObject): Promise<PrivateKey> {
  const t = templateArg('importPrivateKey', template);
  const material = privateKeyAttributes(keyObject);
  const defaults = { token: false, private: true, sensitive: true, ...PRIVATE_USAGE[material.keyType as string] };
  const o = await session.createObject({ ...defaults, ...t, ...material });
  return new PrivateKey(session, o.handle);
}

/** Creates a session public key from a node:crypto public key (defaults: token false, verify; RSA also encrypt). */
export async function importPublicKey(session: Session, keyObject: KeyObject, template?: TemplateObject): Promise<PublicKey> {
  const t = templateArg('importPublicKey', template);
  const material = publicKeyAttributes(keyObject);
  const defaults = { token: false, ...PUBLIC_USAGE[material.keyType as string] };
  const o = await session.createObject({ ...defaults, ...t, ...material });
  return new PublicKey(session, o.handle);
}

/**
 * Creates a session secret key from a node:crypto secret KeyObject: AES for 16, 24 or 32 bytes
 * (encrypt, decrypt), else a generic secret (sign, verify, derive — HMAC keys). A `keyType` in
 * the template picks the type instead (e.g. 'genericSecret' for a 32-byte HMAC key); defaults
 * token false, sensitive true; the caller's template wins, the value is the key's.
 */
export async function importSecretKey(session: Session, keyObject: KeyObject, template?: TemplateObject): Promise<SecretKey> {
  const t = templateArg('importSecretKey', template);
  const value = keyObjectArg('importSecretKey', keyObject, 'secret').export();
  if (value.length === 0) throw new RangeError('importSecretKey: the secret key is empty');
  const keyType = t.keyType ?? ([16, 24, 32].includes(value.length) ? 'aes' : 'genericSecret');
  const usage = keyType === 'aes' ? { encrypt: true, decrypt: true } : keyType === 'genericSecret' ? { sign: true, verify: true, derive: true } : {};
  const o = await session.createObject({ token: false, sensitive: true, ...usage, ...t, class: 'secretKey', keyType, value });
  return new SecretKey(session, o.handle);
}

/** Imports any node:crypto KeyObject by its type (secret, private, public); see the three functions above. */
export function importKey(session: Session, keyObject: KeyObject, template?: TemplateObject): Promise<PrivateKey | PublicKey | SecretKey> {
  if (!(keyObject instanceof KeyObject)) return Promise.reject(new TypeError("importKey: argument 'keyObject' must be a node:crypto KeyObject"));
  if (keyObject.type === 'secret') return importSecretKey(session, keyObject, template);
  if (keyObject.type === 'private') return importPrivateKey(session, keyObject, template);
  return importPublicKey(session, keyObject, template);
}

// The node:crypto forms of a public key, as methods: added here, above objects/keys.ts, in the
// way sharp's operation files add to its class (objects/ must not import interop/).
declare module '../session/session' {
  interface Session {
    /** A node:crypto key put on the token: private (RSA/EC/Edwards), public, or secret (AES/generic). */
    importKey(keyObject: KeyObject, template?: TemplateObject): Promise<PrivateKey | PublicKey | SecretKey>;
  }
}

declare module '../objects/keys' {
  interface PublicKey {
    /** The key as a node:crypto KeyObject (RSA, EC, Ed25519/Ed448, X25519/X448). */
    toKeyObject(): Promise<KeyObject>;
    /** SubjectPublicKeyInfo, DER or PEM, encoded by node:crypto. */
    toSpki(format?: 'der'): Promise<Buffer>;
    toSpki(format: 'pem'): Promise<string>;
    /** The public JWK. */
    toJwk(): Promise<JsonWebKey>;
  }
}

Object.defineProperty(Session.prototype, 'importKey', {
  value: function importKeyMethod(this: Session, keyObject: KeyObject, template?: TemplateObject) {
    return importKey(this, keyObject, template);
  },
  writable: true,
  configurable: true,
});

Object.defineProperties(PublicKey.prototype, {
  toKeyObject: {
    value: function toKeyObject(this: PublicKey): Promise<KeyObject> {
      return exportPublicKey(this);
    },
    writable: true,
    configurable: true,
  },
  toSpki: {
    value: function toSpki(this: PublicKey, format: 'der' | 'pem' = 'der'): Promise<Buffer | string> {
      return format === 'pem' ? exportSpki(this, 'pem') : exportSpki(this, 'der');
    },
    writable: true,
    configurable: true,
  },
  toJwk: {
    value: function toJwk(this: PublicKey): Promise<JsonWebKey> {
      return exportJwk(this);
    },
    writable: true,
    configurable: true,
  },
});
