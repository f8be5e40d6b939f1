// Typed objects on SoftHSM: template objects with camelCase names, find() batches that always
// finalize, batched getAttributes with unreadable attributes reported, set/copy/destroy.
import * as crypto from 'node:crypto';
import { fixture } from './helpers/softhsm';
import { Module, Session, encodeTemplate, CKA_LABEL, CKA_CLASS, CKO_DATA, CKM_AES_CBC_PAD, CKM_AES_KEY_WRAP, KEY_TYPES } from '../lib/index';

describe('objects through the typed layer', () => {
  let mod: Module;
  let s: Session;
  beforeAll(async () => {
    mod = await Module.open(fixture().modulePath);
    const slot = (await mod.findSlot('p11bridge-a'))!;
    s = await slot.openSession({ write: true });
    await s.login('1234');
  });
  afterAll(async () => {
    await s.close();
    await mod.close();
  });

  test('template objects encode to raw attributes in key order; unknown names and bad values are rejected', () => {
    expect(encodeTemplate({ class: 'data', label: 'x', token: false })).toEqual([
      { type: CKA_CLASS, value: CKO_DATA },
      { type: CKA_LABEL, value: 'x' },
      { type: 0x1, value: false },
    ]);
    expect(() => encodeTemplate({ nope: 1 })).toThrow(RangeError);
    expect(() => encodeTemplate({ token: 'yes' })).toThrow(/template\.token/);
    expect(() => encodeTemplate({ class: 'notAClass' })).toThrow(RangeError);
    expect(KEY_TYPES.aes).toBe(0x1f);
  });

  test('createObject + getAttributes round-trip strings, bytes, booleans, enums and dates', async () => {
    const start = new Date(Date.UTC(2024, 1, 29));
    const o = await s.createObject({
      class: 'data',
      token: false,
      private: false,
      label: 'typed-ü',
      application: 'p11bridge tests',
      value: Buffer.from('hello'),
    });
    const a = await o.getAttributes(['class', 'label', 'application', 'value', 'token', 'private', 'modifiable']);
    expect(a).toMatchObject({ class: 'data', label: 'typed-ü', application: 'p11bridge tests', token: false, private: false, modifiable: true });
    expect(a.value).toEqual(Buffer.from('hello'));
    expect(a.unreadable).toEqual({});
    await o.destroy();
    // CK_DATE lives on keys (SoftHSM rejects it on data objects; private objects' dates hit a SoftHSM bug).
    const k = await s.createObject({ class: 'secretKey', keyType: 'genericSecret', token: false, private: false, value: crypto.randomBytes(32), startDate: start, endDate: null });
    const d = await k.getAttributes(['startDate', 'endDate', 'keyType']);
    expect(d).toMatchObject({ startDate: start, endDate: null, keyType: 'genericSecret' });
    await k.destroy();
  });

  test('unreadable attributes are reported, not thrown, and the rest is read in the same call', async () => {
    const key = await s.createObject({
      class: 'secretKey',
      keyType: 'aes',
      token: false,
      value: crypto.randomBytes(32),
      sensitive: true,
      extractable: false,
      encrypt: true,
      label: 'typed-aes',
    });
    const a = await key.getAttributes(['label', 'keyType', 'value', 'modulus', 'valueLen', 'sensitive', 'alwaysSensitive']);
    expect(a).toMatchObject({ label: 'typed-aes', keyType: 'aes', valueLen: 32, sensitive: true });
    expect(a.value).toBeUndefined();
    expect(a.unreadable).toEqual({ value: 'sensitive', modulus: 'typeInvalid' });
    await key.destroy();
  });

  test('nested templates and allowed mechanisms as typed values', async () => {
    const key = await s.createObject({
      class: 'secretKey',
      keyType: 'aes',
      token: false,
      value: crypto.randomBytes(32),
      wrap: true,
      wrapTemplate: { extractable: true, class: 'secretKey' },
      allowedMechanisms: [CKM_AES_CBC_PAD, CKM_AES_KEY_WRAP],
    });
    const a = await key.getAttributes(['wrapTemplate', 'allowedMechanisms']);
    expect(a.wrapTemplate).toEqual({ extractable: true, class: 'secretKey' });
    expect(a.allowedMechanisms).toEqual([CKM_AES_CBC_PAD, CKM_AES_KEY_WRAP].sort((x, y) => x - y));
    await key.destroy();
  });

  test('setAttributes, copy with changes, size, destroy', async () => {
    const o = await s.createObject({ class: 'data', token: false, private: false, label: 'orig' });
    await o.setAttributes({ label: 'renamed' });
    expect(await o.getAttribute('label')).toBe('renamed');
    const c = await o.copy({ label: 'copy' });
    expect(c.handle).not.toBe(o.handle);
    expect(await c.getAttribute('label')).toBe('copy');
    expect(await o.size()).toBe('unavailable'); // SoftHSM does not report object sizes
    await c.destroy();
    await o.destroy();
    await expect(o.getAttributes(['label'])).rejects.toMatchObject({ rvName: 'CKR_OBJECT_HANDLE_INVALID' });
  });

  test('find() in batches, early break still finalizes (a new search can start), findAll', async () => {
    const tag = `find-${crypto.randomBytes(4).toString('hex')}`;
    const made = [];
    for (let i = 0; i < 7; i++) made.push(await s.createObject({ class: 'data', token: false, private: false, label: tag, value: Buffer.from([i]) }));
    const seen: number[] = [];
    for await (const o of s.find({ label: tag }, { batchSize: 3 })) seen.push(((await o.getAttribute('value')) as Buffer)[0]);
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // Break after the first object: C_FindObjectsFinal runs, so the next search is not CKR_OPERATION_ACTIVE.
    for await (const o of s.find({ label: tag }, { batchSize: 2 })) {
      expect(o).toBeDefined();
      break;
    }
    expect(await s.findAll({ label: tag })).toHaveLength(7);
    expect(await s.findAll({ label: `${tag}-none` })).toHaveLength(0);
    await expect(s.find({}, { batchSize: 0 }).next()).rejects.toThrow(RangeError);
    for (const o of made) await o.destroy();
  });
});
