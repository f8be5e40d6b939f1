// NSS softoken fixtures for the typed-layer tests (test/typed-nss.test.ts), next to the certutil
// databases of helpers/nss.ts: a database directory certutil never touched. Softoken creates an
// uninitialized key database in it on C_Initialize (no user PIN yet, tokenInitialized false), the
// state in which NSS lets the SO log in with the empty PIN and set the user PIN with C_InitPIN.
// Softoken allows one database per process: close the module opened on one before the next.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { NssDb } from './nss';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const scripts = require('../../scripts/nss.js') as {
  ensureNss(): { modulePath: string };
  libraryParametersFor(dir: string): string;
  NSS_DB_SLOT: number;
  NSS_CRYPTO_SLOT: number;
};

/** An empty database directory and the library parameters that open it read-write. */
export function createUninitializedNssDb(): NssDb {
  const { modulePath } = scripts.ensureNss();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-nss-empty-'));
  return {
    dir,
    modulePath,
    libraryParameters: scripts.libraryParametersFor(dir),
    password: '',
    slot: scripts.NSS_DB_SLOT,
    cryptoSlot: scripts.NSS_CRYPTO_SLOT,
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A node KeyObject for an EC public key from its CKA_EC_POINT (a DER OCTET STRING around the point). */
export function nodeEcPublicKey(ecPoint: Buffer, crv: 'P-256' | 'P-384'): crypto.KeyObject {
  if (ecPoint[0] !== 0x04) throw new Error('CKA_EC_POINT is not a DER OCTET STRING');
  const q = ecPoint[1] & 0x80 ? ecPoint.subarray(2 + (ecPoint[1] & 0x7f)) : ecPoint.subarray(2);
  if (q[0] !== 0x04) throw new Error('not an uncompressed EC point');
  const n = (q.length - 1) / 2;
  return crypto.createPublicKey({
    key: { kty: 'EC', crv, x: q.subarray(1, 1 + n).toString('base64url'), y: q.subarray(1 + n).toString('base64url') },
    format: 'jwk',
  });
}

/** A node KeyObject for an RSA public key from CKA_MODULUS and CKA_PUBLIC_EXPONENT. */
export function nodeRsaPublicKey(modulus: Buffer, publicExponent: Buffer): crypto.KeyObject {
  return crypto.createPublicKey({ key: { kty: 'RSA', n: modulus.toString('base64url'), e: publicExponent.toString('base64url') }, format: 'jwk' });
}

/** The typed-layer template of a node RSA private key (CRT form), to put node's key on the token. */
export function rsaPrivateKeyTemplate(key: crypto.KeyObject): Record<string, Buffer | string> {
  const j = key.export({ format: 'jwk' });
  const b = (v: string | undefined): Buffer => {
    if (v === undefined) throw new Error('not an RSA private key');
    return Buffer.from(v, 'base64url');
  };
  return {
    class: 'privateKey',
    keyType: 'rsa',
    modulus: b(j.n),
    publicExponent: b(j.e),
    privateExponent: b(j.d),
    prime1: b(j.p),
    prime2: b(j.q),
    exponent1: b(j.dp),
    exponent2: b(j.dq),
    coefficient: b(j.qi),
  };
}

/** What a watched raw function was called with and returned (see watchRaw). */
export interface RawCalls {
  calls: unknown[][];
  results: unknown[];
  /** Puts the binding's own function back. */
  restore(): void;
}

/**
 * Records the calls the typed layer makes to one function of the real binding object, calling
 * straight through (jest.spyOn cannot: the binding's functions are read-only properties of its
 * prototype, so this defines an own property on the instance and deletes it on restore()).
 */
export function watchRaw(raw: object, name: string): RawCalls {
  const original = (raw as Record<string, unknown>)[name];
  if (typeof original !== 'function') throw new TypeError(`${name} is not a function of the binding`);
  const w: RawCalls = {
    calls: [],
    results: [],
    restore: () => {
      delete (raw as Record<string, unknown>)[name];
    },
  };
  Object.defineProperty(raw, name, {
    configurable: true,
    writable: true,
    value: function watched(this: unknown, ...args: unknown[]): unknown {
      w.calls.push(args);
      const r: unknown = original.apply(this, args);
      w.results.push(r);
      return r;
    },
  });
  return w;
}
