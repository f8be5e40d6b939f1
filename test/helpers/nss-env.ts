// The NSS softoken fixture (scripts/nss.js) as a loaded and initialized raw module, plus the key
// objects the NSS tests need. Softoken keeps process-wide state: one database per process at a
// time, so a test file must close() one NssEnv before it opens the next.
import * as crypto from 'node:crypto';
import {
  PKCS11,
  CKA_CLASS,
  CKA_DECRYPT,
  CKA_ENCRYPT,
  CKA_KEY_TYPE,
  CKA_SIGN,
  CKA_TOKEN,
  CKA_VALUE,
  CKA_VERIFY,
  CKF_RW_SESSION,
  CKF_SERIAL_SESSION,
  CKK_AES,
  CKK_CHACHA20,
  CKK_GENERIC_SECRET,
  CKO_SECRET_KEY,
} from '../../lib/raw';
import type { Ulong } from '../../lib/raw';
import type { NssDb } from './nss';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const nssScripts = require('../../scripts/nss.js') as { createNssDb(o?: { password?: string }): NssDb };

export interface NssEnv {
  db: NssDb;
  mod: PKCS11;
  /** Slot 2, "NSS Certificate DB" (the database token). */
  slot: Ulong;
  /** Slot 1, "NSS Generic Crypto Services" (session objects only). */
  cryptoSlot: Ulong;
  /** A new read-write session on the database slot. */
  session(slot?: Ulong): Ulong;
  /** Closes the module object (finalize + unload) and deletes the database directory. */
  close(): void;
}

/**
 * A fresh NSS database, `new PKCS11()`, `load`, and (unless `initialize` is false) `C_Initialize`
 * with the database's library parameters.
 */
export function openNss(opts: { password?: string; initialize?: boolean } = {}): NssEnv {
  const db = nssScripts.createNssDb({ password: opts.password });
  const mod = new PKCS11();
  try {
    mod.load(db.modulePath);
    if (opts.initialize !== false) mod.C_Initialize({ libraryParameters: db.libraryParameters });
  } catch (e) {
    try {
      mod.close();
    } finally {
      db.cleanup();
    }
    throw e;
  }
  let closed = false;
  return {
    db,
    mod,
    slot: db.slot,
    cryptoSlot: db.cryptoSlot,
    session(slot: Ulong = db.slot) {
      return mod.C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        mod.close();
      } finally {
        db.cleanup();
      }
    },
  };
}

/** A session secret key of `keyType` with the given value (so node:crypto can use the same bytes). */
export function secretKey(mod: PKCS11, session: Ulong, keyType: Ulong, value: Buffer, usage: { encrypt?: boolean; decrypt?: boolean; sign?: boolean; verify?: boolean }): Ulong {
  const tpl = [
    { type: CKA_CLASS, value: CKO_SECRET_KEY },
    { type: CKA_KEY_TYPE, value: keyType },
    { type: CKA_TOKEN, value: false },
    { type: CKA_VALUE, value },
  ];
  if (usage.encrypt) tpl.push({ type: CKA_ENCRYPT, value: true });
  if (usage.decrypt) tpl.push({ type: CKA_DECRYPT, value: true });
  if (usage.sign) tpl.push({ type: CKA_SIGN, value: true });
  if (usage.verify) tpl.push({ type: CKA_VERIFY, value: true });
  return mod.C_CreateObject(session, tpl);
}

/** An AES-256 encrypt/decrypt key and its bytes. */
export function aesKey(mod: PKCS11, session: Ulong, value: Buffer = crypto.randomBytes(32)): { handle: Ulong; value: Buffer } {
  return { handle: secretKey(mod, session, CKK_AES, value, { encrypt: true, decrypt: true }), value };
}

/** A ChaCha20 encrypt/decrypt key and its bytes. */
export function chachaKey(mod: PKCS11, session: Ulong, value: Buffer = crypto.randomBytes(32)): { handle: Ulong; value: Buffer } {
  return { handle: secretKey(mod, session, CKK_CHACHA20, value, { encrypt: true, decrypt: true }), value };
}

/** A generic secret for HMAC sign/verify and its bytes. */
export function hmacKey(mod: PKCS11, session: Ulong, value: Buffer = crypto.randomBytes(32)): { handle: Ulong; value: Buffer } {
  return { handle: secretKey(mod, session, CKK_GENERIC_SECRET, value, { sign: true, verify: true }), value };
}

/** node:crypto AES-256-GCM: ciphertext and tag. */
export function nodeGcmEncrypt(key: Buffer, iv: Buffer, aad: Buffer, pt: Buffer, tagLength = 16): { ct: Buffer; tag: Buffer } {
  const c = crypto.createCipheriv(`aes-${key.length * 8}-gcm` as crypto.CipherGCMTypes, key, iv, { authTagLength: tagLength });
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(pt), c.final()]);
  return { ct, tag: c.getAuthTag() };
}

/** node:crypto AES-256-GCM decryption (throws when the tag does not match). */
export function nodeGcmDecrypt(key: Buffer, iv: Buffer, aad: Buffer, ct: Buffer, tag: Buffer): Buffer {
  const d = crypto.createDecipheriv(`aes-${key.length * 8}-gcm` as crypto.CipherGCMTypes, key, iv, { authTagLength: tag.length });
  d.setAAD(aad);
  d.setAuthTag(tag);
  return Buffer.concat([d.update(ct), d.final()]);
}

/** node:crypto ChaCha20-Poly1305: ciphertext and tag. */
export function nodeChachaEncrypt(key: Buffer, nonce: Buffer, aad: Buffer, pt: Buffer): { ct: Buffer; tag: Buffer } {
  const c = crypto.createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: pt.length });
  const ct = Buffer.concat([c.update(pt), c.final()]);
  return { ct, tag: c.getAuthTag() };
}
