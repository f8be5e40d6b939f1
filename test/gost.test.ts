// lib/mechanisms/gost.ts without a GOST module (none is available here): the typed specs resolve to
// the TC26 numbers, CK_GOSTR3410_DERIVE_PARAMS / CK_GOSTR3410_KEY_WRAP_PARAMS get the layout the C
// compiler gives NSS's <pkcs11t.h> definitions (a header nobody here wrote), the CTR-ACPKM parameter
// has the bytes Aktiv-Soft's samples pass, and the parameter-set OIDs are the DER that OpenSSL's
// encoder (`openssl asn1parse -genstr OID:…`) and Aktiv-Soft's sample bytes give.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { structLayout } from '../lib/raw';
import * as C from '../lib/constants/generated';
import { resolveMechanism } from '../lib/mechanisms';
import type { MechanismSpec } from '../lib/mechanisms';
import { GOST_OIDS, ctrAcpkmParameter, derOid, gostKeyPairParams, gostParams, gostR3410DeriveParams, gostR3410KeyWrapParams, resolveGostMechanism } from '../lib/mechanisms/gost';
import type { GostMechanismSpec } from '../lib/mechanisms/gost';

const b = (n: number, fill = 1) => Buffer.alloc(n, fill);

let nss: Record<string, { size: number; offsets: number[] }>;

beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-gost-layout-'));
  try {
    const src = path.join(dir, 'layout.c');
    fs.writeFileSync(
      src,
      `#include <stddef.h>
#include <stdio.h>
#include <pkcs11.h>
#define D CK_GOSTR3410_DERIVE_PARAMS
#define W CK_GOSTR3410_KEY_WRAP_PARAMS
int main(void) {
  printf("{\\"CK_GOSTR3410_DERIVE_PARAMS\\":{\\"size\\":%zu,\\"offsets\\":[%zu,%zu,%zu,%zu,%zu]},", sizeof(D),
         offsetof(D, kdf), offsetof(D, pPublicData), offsetof(D, ulPublicDataLen), offsetof(D, pUKM), offsetof(D, ulUKMLen));
  printf("\\"CK_GOSTR3410_KEY_WRAP_PARAMS\\":{\\"size\\":%zu,\\"offsets\\":[%zu,%zu,%zu,%zu,%zu]}}", sizeof(W),
         offsetof(W, pWrapOID), offsetof(W, ulWrapOIDLen), offsetof(W, pUKM), offsetof(W, ulUKMLen), offsetof(W, hKey));
  return 0;
}
`,
    );
    const exe = path.join(dir, 'layout');
    execFileSync('cc', ['-std=c99', '-Wall', '-Werror', '-I', '/usr/include/nss', '-I', '/usr/include/nspr', '-o', exe, src]);
    nss = JSON.parse(execFileSync(exe, { encoding: 'utf8' }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("parameter structs get NSS pkcs11t.h's layout", () => {
  const derive = structLayout(gostR3410DeriveParams({ kdf: C.CKD_KDF_GOSTR3411_2012_256, publicKey: b(64), ukm: b(8) }));
  expect({ size: derive.size, offsets: derive.offsets }).toEqual(nss.CK_GOSTR3410_DERIVE_PARAMS);
  const wrap = structLayout(gostR3410KeyWrapParams({ wrapOid: gostParams('gost28147-CryptoPro-A'), ukm: b(8), key: 7 }));
  expect({ size: wrap.size, offsets: wrap.offsets }).toEqual(nss.CK_GOSTR3410_KEY_WRAP_PARAMS);
});

test('derive params: fields in order, lengths from the buffers, kdf names → CKD values', () => {
  const pub = b(128, 2);
  const ukm = b(8, 3);
  expect(gostR3410DeriveParams({ publicKey: pub, ukm })).toEqual([{ ulong: C.CKD_NULL }, { bytes: pub }, { ulong: 128 }, { bytes: ukm }, { ulong: 8 }]);
  const m = resolveGostMechanism({ name: 'GOSTR3410-2012-DERIVE', publicKey: b(64), ukm, kdf: 'KDF_GOSTR3411_2012_256' });
  expect(m.mechanism).toBe(0xd4321007);
  expect((m.parameter as Array<Record<string, unknown>>)[0]).toEqual({ ulong: 0xd4321026 });
  const m4357 = resolveGostMechanism({ name: 'GOSTR3410-2012-DERIVE', publicKey: b(64), ukm, kdf: 'KDF_4357' });
  expect((m4357.parameter as Array<Record<string, unknown>>)[0]).toEqual({ ulong: 0xd4321025 });
});

test('every plain spec resolves to its TC26 number, also through resolveMechanism', () => {
  const expected: Array<[GostMechanismSpec['name'], number]> = [
    ['GOSTR3410-2012-256', 0x1201],
    ['GOSTR3410-2012-512', 0xd4321006],
    ['GOSTR3410-WITH-GOSTR3411-2012-256', 0xd4321008],
    ['GOSTR3410-WITH-GOSTR3411-2012-512', 0xd4321009],
    ['GOSTR3411-2012-256', 0xd4321012],
    ['GOSTR3411-2012-512', 0xd4321013],
    ['GOSTR3411-2012-256-HMAC', 0xd4321014],
    ['GOSTR3411-2012-512-HMAC', 0xd4321015],
    ['KUZNYECHIK-ECB', 0xd4321031],
    ['KUZNYECHIK-MAC', 0xd4321033],
    ['MAGMA-ECB', 0xd4321035],
    ['MAGMA-MAC', 0xd4321037],
  ];
  for (const [name, mech] of expected) {
    expect([name, resolveGostMechanism({ name } as GostMechanismSpec)]).toEqual([name, { mechanism: mech }]);
    expect([name, resolveMechanism({ name } as MechanismSpec)]).toEqual([name, { mechanism: { mechanism: mech } }]);
  }
  const ctr = resolveMechanism({ name: 'KUZNYECHIK-CTR-ACPKM', iv: b(8, 0xaa) });
  expect(ctr.mechanism.mechanism).toBe(0xd4321032);
  expect(Buffer.from(ctr.mechanism.parameter as Buffer).toString('hex')).toBe('00000000' + 'aa'.repeat(8));
});

test("CTR-ACPKM parameter: the lengths of Aktiv-Soft's samples (12 and 8 bytes), section size first", () => {
  expect(ctrAcpkmParameter('KUZNYECHIK', b(8, 0))).toEqual(Buffer.alloc(12));
  expect(ctrAcpkmParameter('MAGMA', b(4, 0))).toEqual(Buffer.alloc(8));
  expect(ctrAcpkmParameter('MAGMA', Buffer.from('a1b2c3d4', 'hex'), 0x01020304).toString('hex')).toBe('01020304a1b2c3d4');
  const m = resolveGostMechanism({ name: 'MAGMA-CTR-ACPKM', iv: new Uint8Array([9, 8, 7, 6]), sectionSize: 1024 });
  expect(m.mechanism).toBe(0xd4321036);
  expect(Buffer.from(m.parameter as Buffer).toString('hex')).toBe('0000040009080706');
});

test('bad input: TypeError/RangeError naming the argument', () => {
  expect(() => gostR3410DeriveParams({ publicKey: b(65), ukm: b(8) })).toThrow(RangeError);
  expect(() => gostR3410DeriveParams({ publicKey: b(65), ukm: b(8) })).toThrow(/'publicKey'/);
  expect(() => gostR3410DeriveParams({ publicKey: b(64), ukm: b(0) })).toThrow(/'ukm'/);
  expect(() => gostR3410DeriveParams({ publicKey: 'x' as unknown as Buffer, ukm: b(8) })).toThrow(TypeError);
  expect(() => resolveGostMechanism({ name: 'GOSTR3410-2012-DERIVE', publicKey: b(64), ukm: b(8), kdf: 'SHA1' as 'NULL' })).toThrow(/'kdf'/);
  expect(() => ctrAcpkmParameter('KUZNYECHIK', b(16))).toThrow(/'iv' must be 8 bytes/);
  expect(() => ctrAcpkmParameter('MAGMA', b(4), -1)).toThrow(/'sectionSize'/);
  expect(() => ctrAcpkmParameter('MAGMA', b(4), 2 ** 32)).toThrow(RangeError);
  expect(() => gostKeyPairParams({ size: 384 as 256 })).toThrow(/'size'/);
  expect(() => gostParams('tc26-1024-Z')).toThrow(/unknown parameter set/);
  expect(() => derOid('1.50.3')).toThrow(RangeError);
  expect(() => resolveMechanism({ name: 'STREEBOG' } as unknown as MechanismSpec)).toThrow(/unknown mechanism 'STREEBOG'/);
});

test("parameter-set OIDs: Aktiv-Soft's sample bytes, and OpenSSL's encoder for every set", () => {
  // Common.h of the Rutoken SDK samples (Aktiv-Soft).
  expect(gostParams('CryptoPro-A').toString('hex')).toBe('06072a850302022301');
  expect(gostParams('tc26-512-A').toString('hex')).toBe('06092a8503070102010201');
  expect(gostParams('gostr3411-2012-256').toString('hex')).toBe('06082a85030701010202');
  expect(gostParams('gostr3411-2012-512').toString('hex')).toBe('06082a85030701010203');
  expect(gostParams('gost28147-CryptoPro-A').toString('hex')).toBe('06072a850302021f01');
  expect(gostParams('gostr3411-94-CryptoPro').toString('hex')).toBe('06072a850302021e01');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-oid-'));
  try {
    for (const [name, dotted] of Object.entries(GOST_OIDS)) {
      const out = path.join(dir, `${name}.der`);
      execFileSync('openssl', ['asn1parse', '-genstr', `OID:${dotted}`, '-noout', '-out', out]);
      expect([name, gostParams(name).toString('hex')]).toEqual([name, fs.readFileSync(out).toString('hex')]);
    }
    // Arcs of more than one base-128 digit, and a dotted OID given directly.
    for (const dotted of ['2.999.1', '1.2.840.113549.1.1.11', '1.3.6.1.4.1.311.21.20']) {
      const out = path.join(dir, 'x.der');
      execFileSync('openssl', ['asn1parse', '-genstr', `OID:${dotted}`, '-noout', '-out', out]);
      expect([dotted, gostParams(dotted).toString('hex')]).toEqual([dotted, fs.readFileSync(out).toString('hex')]);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('key-pair generation: mechanism, key type and parameter attributes per size', () => {
  const k256 = gostKeyPairParams({ size: 256 });
  expect(k256.mechanism).toEqual({ mechanism: C.CKM_GOSTR3410_KEY_PAIR_GEN });
  expect(k256.publicKey).toEqual([
    { type: C.CKA_CLASS, value: C.CKO_PUBLIC_KEY },
    { type: C.CKA_KEY_TYPE, value: C.CKK_GOSTR3410 },
    { type: C.CKA_GOSTR3410_PARAMS, value: gostParams('tc26-256-A') },
    { type: C.CKA_GOSTR3411_PARAMS, value: gostParams('gostr3411-2012-256') },
  ]);
  expect(k256.privateKey).toEqual([
    { type: C.CKA_CLASS, value: C.CKO_PRIVATE_KEY },
    { type: C.CKA_KEY_TYPE, value: C.CKK_GOSTR3410 },
  ]);
  const k512 = gostKeyPairParams({ size: 512, paramSet: 'tc26-512-C' });
  expect(k512.mechanism).toEqual({ mechanism: 0xd4321005 });
  expect(k512.publicKey[1]).toEqual({ type: C.CKA_KEY_TYPE, value: 0xd4321003 });
  expect(k512.publicKey[2].value).toEqual(derOid('1.2.643.7.1.2.1.2.3'));
  expect(k512.publicKey[3].value).toEqual(gostParams('gostr3411-2012-512'));
});
