// interfaces(): what C_GetInterfaceList reports, raw and typed; empty for a 2.40 module.
import { openNss } from './helpers/nss';
import { fixture } from './helpers/softhsm';
import { Module, PKCS11 } from '../lib/index';

test('NSS softokn (3.0) lists its interfaces; the raw and typed forms agree with C_GetInterfaceList', async () => {
  const env = openNss();
  try {
    const list = env.mod.interfaces();
    expect(list).toEqual(env.mod.C_GetInterfaceList());
    expect(list).toContainEqual({ name: 'PKCS 11', version: { major: 3, minor: 0 }, flags: 1 });
    expect(list.map((i) => i.name)).toContain('Vendor NSS Module Interface');
  } finally {
    env.close();
  }
});

test('SoftHSM (2.40) has no C_GetInterfaceList: interfaces() is empty', async () => {
  const raw = new PKCS11();
  raw.load(fixture().modulePath);
  expect(raw.interfaces()).toEqual([]);
  raw.close();
  const mod = await Module.open(fixture().modulePath);
  expect(await mod.interfaces()).toEqual([]);
  await mod.close();
});
