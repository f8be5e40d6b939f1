// Keys with their operations. Each operation holds the session from Init to the final call, so
// nothing can interleave on the session between them.
import * as crypto from 'node:crypto';
import { resolveMechanism, MechanismSpec } from '../mechanisms';
import type { Bytes } from '../raw-types';
import { Pkcs11Object } from './object';

async function resolved(key: Pkcs11Object, spec: MechanismSpec) {
  const supported = await key.session.slot.mechanismSet();
  return resolveMechanism(spec, (t) => supported.has(String(t)));
}

function prehashed(data: Bytes, hash: string | undefined): Bytes {
  if (!hash) return data;
  const view = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return crypto.createHash(hash).update(view).digest();
}

export class Key extends Pkcs11Object {}

async function sign(key: Key, spec: MechanismSpec, data: Bytes): Promise<Buffer> {
  const r = await resolved(key, spec);
  const input = prehashed(data, r.prehash);
  return key.session.run('sign', async (raw, h) => {
    await raw.C_SignInitAsync(h, r.mechanism, key.handle);
    return raw.C_SignAsync(h, input);
  });
}

async function verify(key: Key, spec: MechanismSpec, data: Bytes, signature: Bytes): Promise<boolean> {
  const r = await resolved(key, spec);
  const input = prehashed(data, r.prehash);
  return key.session.run('verify', async (raw, h) => {
    await raw.C_VerifyInitAsync(h, r.mechanism, key.handle);
    // CKR_SIGNATURE_INVALID is false (the raw layer already maps it); a wrong length is false too.
    try {
      return await raw.C_VerifyAsync(h, input, signature);
    } catch (e) {
      if ((e as { rvName?: string }).rvName === 'CKR_SIGNATURE_LEN_RANGE') return false;
      throw e;
    }
  });
}

async function encrypt(key: Key, spec: MechanismSpec, data: Bytes): Promise<Buffer> {
  const r = await resolved(key, spec);
  return key.session.run('encrypt', async (raw, h) => {
    await raw.C_EncryptInitAsync(h, r.mechanism, key.handle);
    return raw.C_EncryptAsync(h, data);
  });
}

async function decrypt(key: Key, spec: MechanismSpec, data: Bytes): Promise<Buffer> {
  const r = await resolved(key, spec);
  return key.session.run('decrypt', async (raw, h) => {
    await raw.C_DecryptInitAsync(h, r.mechanism, key.handle);
    return raw.C_DecryptAsync(h, data);
  });
}

export class PrivateKey extends Key {
  /** Signs `data`; ECDSA signatures are raw r||s (node: dsaEncoding 'ieee-p1363'). */
  sign(spec: MechanismSpec, data: Bytes): Promise<Buffer> {
    return sign(this, spec, data);
  }
  decrypt(spec: MechanismSpec, data: Bytes): Promise<Buffer> {
    return decrypt(this, spec, data);
  }
}

export class PublicKey extends Key {
  /** true or false; an invalid signature is false, not an error. */
  verify(spec: MechanismSpec, data: Bytes, signature: Bytes): Promise<boolean> {
    return verify(this, spec, data, signature);
  }
  encrypt(spec: MechanismSpec, data: Bytes): Promise<Buffer> {
    return encrypt(this, spec, data);
  }
}

export class SecretKey extends Key {
  encrypt(spec: MechanismSpec, data: Bytes): Promise<Buffer> {
    return encrypt(this, spec, data);
  }
  decrypt(spec: MechanismSpec, data: Bytes): Promise<Buffer> {
    return decrypt(this, spec, data);
  }
  /** A MAC (HMAC …). */
  sign(spec: MechanismSpec, data: Bytes): Promise<Buffer> {
    return sign(this, spec, data);
  }
  verify(spec: MechanismSpec, data: Bytes, mac: Bytes): Promise<boolean> {
    return verify(this, spec, data, mac);
  }
}
