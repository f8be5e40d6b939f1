// GOST R 34.10-2012 / 34.11-2012 (TC26) and GOST R 34.12-2015 (Kuznyechik, Magma) for Rutoken-class
// modules: typed mechanism specs, their parameter structs, and the DER parameter-set OIDs that go
// into CKA_GOSTR3410_PARAMS / CKA_GOSTR3411_PARAMS / CKA_GOST28147_PARAMS.
//
// The numbers are TC26's vendor-defined ones (scripts/constants/*.tc26.tsv, sources named there);
// the parameter layouts are the PKCS#11 2.40 CK_GOSTR3410_DERIVE_PARAMS / CK_GOSTR3410_KEY_WRAP_PARAMS
// (also in NSS's pkcs11t.h; test/gost-layout.test.ts compares them with it). No GOST module is
// available to this project's tests, so nothing here has been run against a token: see
// docs/vendors.md for what is and is not verified.
import type { Bytes, Mechanism, StructField, Ulong } from '../binding/raw-types';
import * as C from '../constants/generated';

/** A GOST typed mechanism; resolveMechanism() (./index.ts) hands these to resolveGostMechanism(). */
export type GostMechanismSpec =
  // Signatures: the module hashes (…WITH-GOSTR3411-2012-…) or signs a digest you made (32/64 bytes).
  | { name: 'GOSTR3410-2012-256' }
  | { name: 'GOSTR3410-2012-512' }
  | { name: 'GOSTR3410-WITH-GOSTR3411-2012-256' }
  | { name: 'GOSTR3410-WITH-GOSTR3411-2012-512' }
  // Digests and HMACs (Streebog).
  | { name: 'GOSTR3411-2012-256' }
  | { name: 'GOSTR3411-2012-512' }
  | { name: 'GOSTR3411-2012-256-HMAC' }
  | { name: 'GOSTR3411-2012-512-HMAC' }
  // VKO key agreement (CKM_GOSTR3410_2012_DERIVE with CK_GOSTR3410_DERIVE_PARAMS).
  | { name: 'GOSTR3410-2012-DERIVE'; publicKey: Bytes; ukm: Bytes; kdf?: GostKdf }
  // Block ciphers: ECB, CTR-ACPKM (iv = half a block) and MAC (OMAC).
  | { name: 'KUZNYECHIK-ECB' }
  | { name: 'KUZNYECHIK-CTR-ACPKM'; iv: Bytes; sectionSize?: number }
  | { name: 'KUZNYECHIK-MAC' }
  | { name: 'MAGMA-ECB' }
  | { name: 'MAGMA-CTR-ACPKM'; iv: Bytes; sectionSize?: number }
  | { name: 'MAGMA-MAC' };

/** CK_GOSTR3410_DERIVE_PARAMS.kdf: none, the RFC 4357 KDF, or KDF_GOSTR3411_2012_256 (RFC 7836). */
export type GostKdf = 'NULL' | 'KDF_4357' | 'KDF_GOSTR3411_2012_256';

const KDF: Record<GostKdf, number> = {
  NULL: C.CKD_NULL,
  KDF_4357: C.CKD_KDF_4357,
  KDF_GOSTR3411_2012_256: C.CKD_KDF_GOSTR3411_2012_256,
};

/** Mechanisms that take no parameter, by spec name. */
const PLAIN: Readonly<Record<string, number>> = {
  'GOSTR3410-2012-256': C.CKM_GOSTR3410,
  'GOSTR3410-2012-512': C.CKM_GOSTR3410_512,
  'GOSTR3410-WITH-GOSTR3411-2012-256': C.CKM_GOSTR3410_WITH_GOSTR3411_2012_256,
  'GOSTR3410-WITH-GOSTR3411-2012-512': C.CKM_GOSTR3410_WITH_GOSTR3411_2012_512,
  'GOSTR3411-2012-256': C.CKM_GOSTR3411_2012_256,
  'GOSTR3411-2012-512': C.CKM_GOSTR3411_2012_512,
  'GOSTR3411-2012-256-HMAC': C.CKM_GOSTR3411_2012_256_HMAC,
  'GOSTR3411-2012-512-HMAC': C.CKM_GOSTR3411_2012_512_HMAC,
  'KUZNYECHIK-ECB': C.CKM_KUZNECHIK_ECB,
  'KUZNYECHIK-MAC': C.CKM_KUZNECHIK_MAC,
  'MAGMA-ECB': C.CKM_MAGMA_ECB,
  'MAGMA-MAC': C.CKM_MAGMA_MAC,
};

/** Block sizes in bytes; CTR-ACPKM takes half a block of IV. */
export const GOST_BLOCK_SIZE = { KUZNYECHIK: 16, MAGMA: 8 } as const;

/** The spec names this module resolves. */
export const GOST_MECHANISM_NAMES: readonly string[] = [...Object.keys(PLAIN), 'GOSTR3410-2012-DERIVE', 'KUZNYECHIK-CTR-ACPKM', 'MAGMA-CTR-ACPKM'];

export function isGostMechanismName(name: string): boolean {
  return GOST_MECHANISM_NAMES.includes(name);
}

function byteLength(value: unknown, what: string): number {
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value.byteLength;
  throw new TypeError(`${what} must be bytes (Buffer, TypedArray, DataView or ArrayBuffer), got ${value === null ? 'null' : typeof value}`);
}

/**
 * CK_GOSTR3410_DERIVE_PARAMS { kdf, pPublicData, ulPublicDataLen, pUKM, ulUKMLen }: the peer's
 * public key as CKA_VALUE holds it (64 bytes for 2012-256, 128 for 2012-512) and the UKM.
 */
export function gostR3410DeriveParams(p: { kdf?: Ulong; publicKey: Bytes; ukm: Bytes }): StructField[] {
  const n = byteLength(p.publicKey, "gostR3410DeriveParams: argument 'publicKey'");
  if (n !== 64 && n !== 128) throw new RangeError(`gostR3410DeriveParams: argument 'publicKey' must be 64 (2012-256) or 128 (2012-512) bytes, got ${n}`);
  if (byteLength(p.ukm, "gostR3410DeriveParams: argument 'ukm'") === 0) throw new RangeError("gostR3410DeriveParams: argument 'ukm' must not be empty");
  return [{ ulong: p.kdf ?? C.CKD_NULL }, { bytes: p.publicKey }, { ulong: n }, { bytes: p.ukm }, { ulong: byteLength(p.ukm, 'ukm') }];
}

/** CK_GOSTR3410_KEY_WRAP_PARAMS { pWrapOID, ulWrapOIDLen, pUKM, ulUKMLen, hKey } (CKM_GOSTR3410_KEY_WRAP). */
export function gostR3410KeyWrapParams(p: { wrapOid?: Bytes | null; ukm?: Bytes | null; key?: Ulong }): StructField[] {
  const oidLen = p.wrapOid ? byteLength(p.wrapOid, "gostR3410KeyWrapParams: argument 'wrapOid'") : 0;
  const ukmLen = p.ukm ? byteLength(p.ukm, "gostR3410KeyWrapParams: argument 'ukm'") : 0;
  return [{ bytes: p.wrapOid ?? null }, { ulong: oidLen }, { bytes: p.ukm ?? null }, { ulong: ukmLen }, { ulong: p.key ?? 0 }];
}

/**
 * The CTR-ACPKM parameter as Aktiv-Soft's Rutoken SDK samples pass it: a 4-byte section size
 * (the ACPKM re-keying period; 0 in every vendor sample found) followed by the IV (half a block:
 * 8 bytes for Kuznyechik, 4 for Magma). The samples only show zeros for the first 4 bytes, so
 * their byte order is taken as big-endian (TC26's convention for GOST integers in byte strings);
 * docs/vendors.md lists this as unverified against a module.
 */
export function ctrAcpkmParameter(cipher: keyof typeof GOST_BLOCK_SIZE, iv: Bytes, sectionSize = 0): Buffer {
  const want = GOST_BLOCK_SIZE[cipher] / 2;
  const n = byteLength(iv, `${cipher}-CTR-ACPKM: argument 'iv'`);
  if (n !== want) throw new RangeError(`${cipher}-CTR-ACPKM: argument 'iv' must be ${want} bytes (half a block), got ${n}`);
  if (!Number.isInteger(sectionSize) || sectionSize < 0 || sectionSize > 0xffffffff) {
    throw new RangeError(`${cipher}-CTR-ACPKM: argument 'sectionSize' must be an integer in 0..2^32-1, got ${sectionSize}`);
  }
  const out = Buffer.alloc(4 + n);
  out.writeUInt32BE(sectionSize, 0);
  const src = iv instanceof ArrayBuffer ? new Uint8Array(iv) : new Uint8Array(iv.buffer, iv.byteOffset, iv.byteLength);
  out.set(src, 4);
  return out;
}

/** The raw mechanism for a GOST spec; RangeError for a name this module does not know. */
export function resolveGostMechanism(spec: GostMechanismSpec): Mechanism {
  const plain = PLAIN[spec.name];
  if (plain !== undefined) return { mechanism: plain };
  switch (spec.name) {
    case 'GOSTR3410-2012-DERIVE': {
      const kdf = spec.kdf ?? 'NULL';
      if (!(kdf in KDF)) throw new RangeError(`GOSTR3410-2012-DERIVE: argument 'kdf' must be one of ${Object.keys(KDF).join(', ')}, got '${String(kdf)}'`);
      return { mechanism: C.CKM_GOSTR3410_2012_DERIVE, parameter: gostR3410DeriveParams({ kdf: KDF[kdf], publicKey: spec.publicKey, ukm: spec.ukm }) };
    }
    case 'KUZNYECHIK-CTR-ACPKM':
      return { mechanism: C.CKM_KUZNECHIK_CTR_ACPKM, parameter: ctrAcpkmParameter('KUZNYECHIK', spec.iv, spec.sectionSize) };
    case 'MAGMA-CTR-ACPKM':
      return { mechanism: C.CKM_MAGMA_CTR_ACPKM, parameter: ctrAcpkmParameter('MAGMA', spec.iv, spec.sectionSize) };
    default:
      throw new RangeError(`unknown GOST mechanism '${(spec as { name: string }).name}'`);
  }
}

// ---------------------------------------------------------------------------------------------
// Parameter sets (DER OBJECT IDENTIFIERs, as CKA_GOSTR3410_PARAMS etc. hold them)

/** Dotted OIDs of the parameter sets (RFC 9215 section 3 / RFC 7836; CryptoPro sets: RFC 4357). */
export const GOST_OIDS = {
  // GOST R 34.10-2012, 256-bit curves (TC26 A-D; B-D are the CryptoPro 2001 curves under TC26 names).
  'tc26-256-A': '1.2.643.7.1.2.1.1.1',
  'tc26-256-B': '1.2.643.7.1.2.1.1.2',
  'tc26-256-C': '1.2.643.7.1.2.1.1.3',
  'tc26-256-D': '1.2.643.7.1.2.1.1.4',
  // GOST R 34.10-2012, 512-bit curves.
  'tc26-512-A': '1.2.643.7.1.2.1.2.1',
  'tc26-512-B': '1.2.643.7.1.2.1.2.2',
  'tc26-512-C': '1.2.643.7.1.2.1.2.3',
  // GOST R 34.10-2001 CryptoPro sets (still accepted for 2012-256 keys).
  'CryptoPro-A': '1.2.643.2.2.35.1',
  'CryptoPro-B': '1.2.643.2.2.35.2',
  'CryptoPro-C': '1.2.643.2.2.35.3',
  'CryptoPro-XchA': '1.2.643.2.2.36.0',
  'CryptoPro-XchB': '1.2.643.2.2.36.1',
  // Hashes (CKA_GOSTR3411_PARAMS).
  'gostr3411-2012-256': '1.2.643.7.1.1.2.2',
  'gostr3411-2012-512': '1.2.643.7.1.1.2.3',
  'gostr3411-94-CryptoPro': '1.2.643.2.2.30.1',
  // GOST 28147-89 S-box sets (CKA_GOST28147_PARAMS).
  'gost28147-CryptoPro-A': '1.2.643.2.2.31.1',
  'gost28147-tc26-Z': '1.2.643.7.1.2.5.1.1',
} as const;

export type GostParamSet = keyof typeof GOST_OIDS;

/** DER encoding (tag 06) of a dotted OID. */
export function derOid(dotted: string): Buffer {
  if (typeof dotted !== 'string' || !/^[0-2]\.\d+(\.\d+)*$/.test(dotted)) throw new RangeError(`derOid: argument 'oid' must be a dotted OID, got '${String(dotted)}'`);
  const parts = dotted.split('.').map(Number);
  if (parts[0] < 2 && parts[1] > 39) throw new RangeError(`derOid: second arc of '${dotted}' must be below 40`);
  const body: number[] = [];
  for (const n of [parts[0] * 40 + parts[1], ...parts.slice(2)]) {
    if (!Number.isSafeInteger(n)) throw new RangeError(`derOid: arc ${n} of '${dotted}' is too large`);
    const chunk = [n % 128];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v % 128) | 0x80);
    body.push(...chunk);
  }
  if (body.length > 127) throw new RangeError(`derOid: '${dotted}' is too long`);
  return Buffer.from([0x06, body.length, ...body]);
}

/** The DER parameter-set OID for a named set or a dotted OID. */
export function gostParams(set: GostParamSet | string): Buffer {
  const dotted = (GOST_OIDS as Record<string, string>)[set] ?? set;
  if (!/^[0-2]\.\d+(\.\d+)*$/.test(dotted)) {
    throw new RangeError(`gostParams: unknown parameter set '${set}' (a name: ${Object.keys(GOST_OIDS).join(', ')}, or a dotted OID)`);
  }
  return derOid(dotted);
}

/**
 * Key-pair generation for GOST R 34.10-2012 keys: the mechanism and the parameter attributes.
 * The parameter attributes go in the public-key template, as in Aktiv-Soft's Rutoken samples
 * (and as CKA_EC_PARAMS does for EC); the private template gets class and key type. Callers add
 * CKA_TOKEN, CKA_ID, labels and usage flags.
 */
export function gostKeyPairParams(p: { size: 256 | 512; paramSet?: GostParamSet | string }): {
  mechanism: Mechanism;
  publicKey: Array<{ type: number; value: number | Buffer }>;
  privateKey: Array<{ type: number; value: number | Buffer }>;
} {
  if (p === null || typeof p !== 'object') throw new TypeError("gostKeyPairParams: argument 'options' must be an object");
  if (p.size !== 256 && p.size !== 512) throw new RangeError(`gostKeyPairParams: argument 'size' must be 256 or 512, got ${String(p.size)}`);
  const paramSet = p.paramSet ?? (p.size === 256 ? 'tc26-256-A' : 'tc26-512-A');
  const keyType = p.size === 256 ? C.CKK_GOSTR3410 : C.CKK_GOSTR3410_512;
  return {
    mechanism: { mechanism: p.size === 256 ? C.CKM_GOSTR3410_KEY_PAIR_GEN : C.CKM_GOSTR3410_512_KEY_PAIR_GEN },
    publicKey: [
      { type: C.CKA_CLASS, value: C.CKO_PUBLIC_KEY },
      { type: C.CKA_KEY_TYPE, value: keyType },
      { type: C.CKA_GOSTR3410_PARAMS, value: gostParams(paramSet) },
      { type: C.CKA_GOSTR3411_PARAMS, value: gostParams(p.size === 256 ? 'gostr3411-2012-256' : 'gostr3411-2012-512') },
    ],
    privateKey: [
      { type: C.CKA_CLASS, value: C.CKO_PRIVATE_KEY },
      { type: C.CKA_KEY_TYPE, value: keyType },
    ],
  };
}
