// Multi-part operations through the typed layer on SoftHSM: each holds its session from Init to
// final()/abort(), results cross-checked with node:crypto.
import * as crypto from 'node:crypto';
import { useLoggedInSession } from './helpers/typed-session';
import { Session, OperationFinishedError, CKM_ECDSA } from '../lib/index';

describe('multi-part operations', () => {
  let s: Session;
  const parts = [Buffer.from('part one, '), Buffer.from('part two, '), crypto.randomBytes(100000)];
  const whole = Buffer.concat(parts);
  useLoggedInSession('p11bridge-a', (_m, x) => (s = x));

  test('digest: parts equal node sha256 of the whole; one-shot digest too', async () => {
    const op = await s.digestInit({ name: 'SHA-256' });
    for (const p of parts) await op.update(p);
    const expected = crypto.createHash('sha256').update(whole).digest();
    expect(await op.final()).toEqual(expected);
    expect(op.isFinished).toBe(true);
    await expect(op.update(parts[0])).rejects.toBeInstanceOf(OperationFinishedError);
    expect(await s.digest({ name: 'SHA-256' }, whole)).toEqual(expected);
  });

  test('the session is held from Init to final: another call waits until the operation ends', async () => {
    const op = await s.digestInit({ name: 'SHA-256' });
    const order: string[] = [];
    const other = s.random(8).then(() => order.push('random'));
    await new Promise((r) => setTimeout(r, 20));
    await op.update(parts[0]);
    order.push('update');
    await op.final();
    order.push('final');
    await other;
    expect(order).toEqual(['update', 'final', 'random']);
  });

  test('HMAC sign/verify in parts match node; a wrong MAC verifies false', async () => {
    const key = await s.generateKey({ name: 'generic', length: 32 }, { sensitive: false, extractable: true });
    const value = (await key.getAttribute('value')) as Buffer;
    const sign = await s.signInit({ name: 'HMAC', hash: 'SHA-256' }, key);
    for (const p of parts) await sign.update(p);
    const mac = await sign.final();
    expect(mac).toEqual(crypto.createHmac('sha256', value).update(whole).digest());
    const v = await s.verifyInit({ name: 'HMAC', hash: 'SHA-256' }, key);
    for (const p of parts) await v.update(p);
    expect(await v.final(mac)).toBe(true);
    const v2 = await s.verifyInit({ name: 'HMAC', hash: 'SHA-256' }, key);
    await v2.update(whole);
    const bad = Buffer.from(mac);
    bad[0] ^= 1;
    expect(await v2.final(bad)).toBe(false);
  });

  test('AES-CBC encrypt and decrypt in parts match node', async () => {
    const key = await s.generateKey({ name: 'AES', length: 128 }, { sensitive: false, extractable: true });
    const value = (await key.getAttribute('value')) as Buffer;
    const iv = crypto.randomBytes(16);
    const enc = await s.encryptInit({ name: 'AES-CBC', iv }, key);
    const out: Buffer[] = [];
    for (const p of parts) out.push(await enc.update(p));
    out.push(await enc.final());
    const ct = Buffer.concat(out);
    const c = crypto.createCipheriv('aes-128-cbc', value, iv);
    expect(ct.equals(Buffer.concat([c.update(whole), c.final()]))).toBe(true);
    const dec = await s.decryptInit({ name: 'AES-CBC', iv }, key);
    const pt = Buffer.concat([await dec.update(ct.subarray(0, 50)), await dec.update(ct.subarray(50)), await dec.final()]);
    expect(pt.equals(whole)).toBe(true);
  });

  test('abort ends an operation and frees the session; a failing part ends it too', async () => {
    const op = await s.digestInit({ name: 'SHA-256' });
    await op.update(parts[0]);
    await op.abort();
    expect(op.isFinished).toBe(true);
    expect((await s.random(4)).length).toBe(4); // the session is free again
    // A new operation can start: the module's digest was really ended.
    const op2 = await s.digestInit({ name: 'SHA-256' });
    expect(await op2.final()).toEqual(crypto.createHash('sha256').digest());
    // A failed part releases the session as well.
    const { privateKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' });
    const sign = await s.signInit({ mechanism: CKM_ECDSA }, privateKey);
    await expect(sign.update(parts[0])).rejects.toMatchObject({ rvName: expect.stringMatching(/^CKR_/) });
    expect(sign.isFinished).toBe(true);
    expect((await s.random(4)).length).toBe(4);
  });

  test('ECDSA with a hash the token cannot combine is refused for multi-part, before taking the session', async () => {
    const { privateKey } = await s.generateKeyPair({ name: 'EC', curve: 'P-256' });
    await expect(s.signInit({ name: 'ECDSA', hash: 'SHA-256' }, privateKey)).rejects.toThrow(RangeError);
    expect((await s.random(4)).length).toBe(4);
  });
});
