// Compiled as an ES module (.mts under node16/nodenext): the `import` condition's .d.mts files.
import { Module, PrivateKey } from 'p11bridge';
import { PKCS11, CKF_SERIAL_SESSION } from 'p11bridge/raw';
import * as raw from 'p11bridge/raw';
// @ts-expect-error no such export in the ESM types either
import { NoSuchExport } from 'p11bridge/raw';

export async function esm(path: string): Promise<PrivateKey[]> {
  const m = new PKCS11();
  m.load(path);
  const flags: number = CKF_SERIAL_SESSION | raw.CKF_RW_SESSION;
  const mod = await Module.open(path);
  const s = await (await mod.slots())[0].openSession({ write: flags > 0 });
  void NoSuchExport;
  return s.findAll({ class: 'privateKey' });
}
