// The constants table is the one source for TS constants, error names and the C header.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as raw from '../lib/raw';
import { constantName } from '../lib/constants/generated';

const root = path.join(__dirname, '..');

test('generated files match the table (gen-constants --check)', () => {
  expect(() => execFileSync(process.execPath, [path.join(root, 'scripts/gen-constants.js'), '--check'], { stdio: 'pipe' })).not.toThrow();
});

test('TS constants and the C header agree for every #define with a plain value', () => {
  const header = fs.readFileSync(path.join(root, 'src-native/pkcs11/pkcs11_constants.h'), 'utf8');
  const table = raw as unknown as Record<string, unknown>;
  let checked = 0;
  for (const m of header.matchAll(/^#define\s+(CK\w+)\s+\(?(0x[0-9a-fA-F]+)U?L?\)?\s*$/gm)) {
    if (!(m[1] in table)) continue;
    expect([m[1], table[m[1]]]).toEqual([m[1], Number(m[2])]);
    checked++;
  }
  expect(checked).toBeGreaterThan(900);
});

test('well-known values', () => {
  expect(raw.CKR_PIN_INCORRECT).toBe(0xa0);
  expect(raw.CKA_WRAP_TEMPLATE).toBe(0x40000211);
  expect(raw.CKA_ALLOWED_MECHANISMS).toBe(0x40000600);
  expect(raw.CKM_AES_GCM).toBe(0x1087);
  expect(raw.CKM_EDDSA).toBe(0x1057);
  expect(raw.CKR_NAMES[0xa0]).toBe('CKR_PIN_INCORRECT');
});

test('stable names for unknown and vendor codes', () => {
  expect(constantName('CKR', 0x80000001)).toBe('CKR_VENDOR_DEFINED+0x1');
  expect(constantName('CKR', 0x80000001n)).toBe('CKR_VENDOR_DEFINED+0x1');
  expect(constantName('CKR', 0x1234)).toBe('CKR_0x1234');
  expect(constantName('CKR', 0)).toBe('CKR_OK');
  const e = new raw.Pkcs11Error(0x8000000b, 'C_Login');
  expect(e.rvName).toBe('CKR_VENDOR_DEFINED+0xb');
  expect(e.message).toBe('C_Login failed: CKR_VENDOR_DEFINED+0xb (0x8000000B)');
});

test('platform facts exported by the addon', () => {
  expect(raw.ULONG_SIZE).toBe(process.platform === 'win32' ? 4 : 8);
  expect(raw.CK_UNAVAILABLE_INFORMATION).toBe(process.platform === 'win32' ? 0xffffffff : 2n ** 64n - 1n);
});

test('one error class per CKR code, under its group base', () => {
  const e = raw.createPkcs11Error(raw.CKR_PIN_INCORRECT, 'C_Login');
  expect(e).toBeInstanceOf(raw.PinIncorrectError);
  expect(e).toBeInstanceOf(raw.PinError);
  expect(e).toBeInstanceOf(raw.Pkcs11Error);
  expect(e).toBeInstanceOf(Error);
  expect(e.name).toBe('PinIncorrectError');
  expect(raw.createPkcs11Error(raw.CKR_DEVICE_REMOVED, 'C_Sign')).toBeInstanceOf(raw.DeviceError);
  expect(raw.createPkcs11Error(raw.CKR_DEVICE_ERROR, 'C_Sign')).toBeInstanceOf(raw.DeviceErrorError);
  expect(raw.createPkcs11Error(raw.CKR_SESSION_HANDLE_INVALID, 'C_Sign')).toBeInstanceOf(raw.SessionError);
  expect(raw.createPkcs11Error(raw.CKR_MECHANISM_INVALID, 'C_SignInit')).toBeInstanceOf(raw.MechanismError);
  expect(raw.createPkcs11Error(raw.CKR_KEY_TYPE_INCONSISTENT, 'C_SignInit')).toBeInstanceOf(raw.KeyError);
  expect(raw.createPkcs11Error(raw.CKR_CRYPTOKI_NOT_INITIALIZED, 'C_GetInfo')).toBeInstanceOf(raw.CryptokiError);
  const vendor = raw.createPkcs11Error(0x80000003, 'C_Login');
  expect(vendor).toBeInstanceOf(raw.VendorDefinedError);
  expect(vendor.rvName).toBe('CKR_VENDOR_DEFINED+0x3');
  const unknown = raw.createPkcs11Error(0x1234, 'C_Login');
  expect(unknown.constructor).toBe(raw.Pkcs11Error);
  // Every code in the table has a class, and each class knows its code.
  for (const [rv, name] of Object.entries(raw.CKR_NAMES)) {
    if (name === 'CKR_OK') continue;
    const err = raw.createPkcs11Error(Number(rv), 'C_X');
    expect([name, err.rvName, (err.constructor as unknown as { rv: number }).rv]).toEqual([name, name, Number(rv)]);
  }
});
