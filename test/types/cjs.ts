// Compiled as CommonJS (module commonjs/node16/nodenext with "type": "commonjs"): both entry points
// resolve with their types, and @types/node is all the .d.ts files need.
import { Module, Pkcs11Error, PinIncorrectError, type Session } from 'p11bridge';
import { PKCS11, CKM_ECDSA, CKR_PIN_INCORRECT } from 'p11bridge/raw';
// @ts-expect-error there is no such export: the types are real, not `any`
import { NoSuchExport } from 'p11bridge';
// @ts-expect-error nor a deep path outside the package's exports
import { something } from 'p11bridge/dist/nothing-here';

export async function cjs(path: string): Promise<number> {
  const raw = new PKCS11();
  raw.load(path);
  const mech: number = CKM_ECDSA;
  const mod = await Module.open(path);
  const s: Session = await (await mod.slots())[0].openSession();
  try {
    await s.login('1234');
  } catch (e) {
    if (e instanceof PinIncorrectError) return e.rv === CKR_PIN_INCORRECT ? mech : 0;
    if (e instanceof Pkcs11Error) return Number(e.rv);
  }
  void NoSuchExport;
  void something;
  return 0;
}
