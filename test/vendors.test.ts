// Vendor profiles: the Rutoken error table is exactly Aktiv-Soft's published list, and the vendor
// entries of the discovery table and docs/vendors.md name the same vendors (each doc row has a
// table entry and the reverse), so a path added without its documented source shows up here.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RUTOKEN_ERRORS, applyVendorErrors, vendorErrorTableFor, VendorPkcs11Error } from '../lib/errors/vendors';
import { createPkcs11Error } from '../lib/errors/create';
import { WELL_KNOWN_MODULES } from '../lib/locate/module-paths';

test("RUTOKEN_ERRORS is Aktiv-Soft's list: CKR_VENDOR_DEFINED + 1 … + 11", () => {
  // RtPkcs11Constants.java (github.com/AktivCo/pkcs11jna): CKR_VENDOR_DEFINED + n.
  expect(RUTOKEN_ERRORS.codes).toEqual({
    1: 'CKR_CORRUPTED_MAPFILE',
    2: 'CKR_WRONG_VERSION_FIELD',
    3: 'CKR_WRONG_PKCS1_ENCODING',
    4: 'CKR_RTPKCS11_DATA_CORRUPTED',
    5: 'CKR_RTPKCS11_RSF_DATA_CORRUPTED',
    6: 'CKR_SM_PASSWORD_INVALID',
    7: 'CKR_LICENSE_READ_ONLY',
    8: 'CKR_VENDOR_EMITENT_KEY_BLOCKED',
    9: 'CKR_CERT_CHAIN_NOT_VERIFIED',
    10: 'CKR_INAPPROPRIATE_PIN',
    11: 'CKR_PIN_IN_HISTORY',
  });
  // Rutoken tokens report "Aktiv Co." as the library's manufacturer.
  expect(vendorErrorTableFor('Aktiv Co.')).toBe(RUTOKEN_ERRORS);
  for (const other of ['SafeNet, Inc.', 'Safenet, Inc.', 'nCipher Corp. Ltd', 'Yubico (www.yubico.com)', 'Utimaco IS GmbH', 'OpenSC Project']) {
    expect([other, vendorErrorTableFor(other)]).toEqual([other, undefined]);
  }
  const e = applyVendorErrors(createPkcs11Error(0x8000000b, 'C_SetPIN'), RUTOKEN_ERRORS);
  expect(e).toBeInstanceOf(VendorPkcs11Error);
  expect((e as VendorPkcs11Error).rvName).toBe('CKR_PIN_IN_HISTORY');
  expect((e as Error).message).toBe('C_SetPIN failed: CKR_PIN_IN_HISTORY (0x8000000B)');
});

test('docs/vendors.md and the discovery table list the same vendor modules', () => {
  const doc = fs.readFileSync(path.join(__dirname, '..', 'docs', 'vendors.md'), 'utf8');
  const summary = doc.slice(doc.indexOf('## Summary'), doc.indexOf('\n## ', doc.indexOf('## Summary') + 3));
  const docNames = [...summary.matchAll(/^\| [^|]+ \| `([a-z0-9-]+)` \|/gm)].map((m) => m[1]);
  expect(docNames).toEqual(['luna', 'safenet-etoken', 'aws-cloudhsm', 'utimaco', 'nshield', 'yubihsm2', 'rutoken-ecp', 'opensc']);
  const tableNames = WELL_KNOWN_MODULES.map((m) => m.name);
  for (const name of docNames) expect([name, tableNames.includes(name)]).toEqual([name, true]);
  // Each vendor entry's file names appear in its section of the doc (the doc gives their source).
  for (const name of ['luna', 'safenet-etoken', 'aws-cloudhsm', 'utimaco', 'nshield', 'yubihsm2']) {
    const entry = WELL_KNOWN_MODULES.find((m) => m.name === name)!;
    for (const p of [...(entry.linux ?? []), ...(entry.win32 ?? []), ...(entry.darwin ?? [])]) {
      const file = p
        .split(/[\\/]/)
        .pop()!
        .replace(/\.so\.\d+$/, '.so');
      expect([name, file, doc.includes(file)]).toEqual([name, file, true]);
    }
  }
});
