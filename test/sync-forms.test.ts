// The raw layer's sync *Init and output functions go through the addon's flat-mechanism and
// written-length forms (lib/binding/sync-forms.ts). Same results and errors as before: checked
// here where the routing has its own paths (the 1 KiB scratch, its too-small fallback, the caller's
// buffer filled exactly), on SoftHSM through the fault shim, results checked by node:crypto.
import * as crypto from 'node:crypto';
import { PKCS11, CKF_RW_SESSION, CKF_SERIAL_SESSION, CKM_AES_CBC, CKM_SHA256, CKU_USER } from '../lib/raw';
import type { Ulong } from '../lib/raw';
import { createAesKey } from './helpers/keys';
import { fixture } from './helpers/softhsm';
import { shimModule, ShimModule } from './helpers/shim';

let shim: ShimModule;
let mod: PKCS11;
let h: Ulong;
let key: Ulong;
const KEY = Buffer.alloc(32, 0x42);
const IV = Buffer.alloc(16, 0x24);

beforeAll(() => {
  shim = shimModule();
  mod = new PKCS11();
  mod.load(shim.path);
  mod.C_Initialize();
  const tok = fixture().tokens.find((t) => t.label === 'p11bridge-a');
  if (!tok) throw new Error('no p11bridge-a token');
  const slot = mod.C_GetSlotList(true).find((s) => mod.C_GetTokenInfo(s).label === 'p11bridge-a');
  if (slot === undefined) throw new Error('no slot');
  h = mod.C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION);
  mod.C_Login(h, CKU_USER, tok.userPin);
  key = createAesKey(mod, h, KEY);
});

afterAll(() => {
  shim.setRules([]);
  mod.C_CloseSession(h);
  mod.C_Finalize();
  mod.close();
  shim.cleanup();
});

const nodeCbc = (data: Buffer) => {
  const c = crypto.createCipheriv('aes-256-cbc', KEY, IV);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
};

test('module-sized output through the scratch buffer: a new Buffer each call, equal to node:crypto', () => {
  const data = Buffer.from('sync forms: scratch path sha-256');
  mod.C_DigestInit(h, { mechanism: CKM_SHA256 });
  const a = mod.C_Digest(h, data);
  mod.C_DigestInit(h, { mechanism: CKM_SHA256 });
  const b = mod.C_Digest(h, data);
  expect(a.equals(crypto.createHash('sha256').update(data).digest())).toBe(true);
  expect(b.equals(a)).toBe(true);
  expect(b.buffer === a.buffer && b.byteOffset === a.byteOffset).toBe(false); // not the scratch, not shared
  a.fill(0);
  expect(b.equals(crypto.createHash('sha256').update(data).digest())).toBe(true);
});

test('a CKR_BUFFER_TOO_SMALL on the scratch offer falls back to the native sizing; the operation stays usable', () => {
  const data = Buffer.alloc(64, 7);
  shim.setRules(['rv C_Encrypt CKR_BUFFER_TOO_SMALL times 1']);
  mod.C_EncryptInit(h, { mechanism: CKM_AES_CBC, parameter: IV }, key);
  const ct = mod.C_Encrypt(h, data);
  shim.setRules([]);
  expect(ct.equals(nodeCbc(data))).toBe(true);
});

test('inputs over 959 bytes skip the scratch (the native path sizes them)', () => {
  const data = Buffer.alloc(4096, 9);
  mod.C_EncryptInit(h, { mechanism: CKM_AES_CBC, parameter: IV }, key);
  expect(mod.C_Encrypt(h, data).equals(nodeCbc(data))).toBe(true);
});

test("a caller's buffer: filled exactly gives the buffer itself, otherwise a view of the written part", () => {
  const data = Buffer.alloc(32, 1);
  const exact = Buffer.alloc(32);
  mod.C_EncryptInit(h, { mechanism: CKM_AES_CBC, parameter: IV }, key);
  expect(mod.C_Encrypt(h, data, exact)).toBe(exact);
  const big = Buffer.alloc(100, 0xee);
  mod.C_EncryptInit(h, { mechanism: CKM_AES_CBC, parameter: IV }, key);
  const v = mod.C_Encrypt(h, data, big);
  expect(v.length).toBe(32);
  expect(v.buffer).toBe(big.buffer);
  expect(v.equals(nodeCbc(data))).toBe(true);
  expect(big.subarray(32).every((x) => x === 0xee)).toBe(true);
});

test('multi-part: update and final, module-sized and into caller buffers, match node:crypto', () => {
  const data = Buffer.alloc(48, 3);
  mod.C_EncryptInit(h, { mechanism: CKM_AES_CBC, parameter: IV }, key);
  const parts = [mod.C_EncryptUpdate(h, data.subarray(0, 20)), mod.C_EncryptUpdate(h, data.subarray(20), Buffer.alloc(64)), mod.C_EncryptFinal(h)];
  expect(Buffer.concat(parts).equals(nodeCbc(data))).toBe(true);
});

test('argument errors are the native ones: mechanism not an object, missing key, bad out', () => {
  expect(() => mod.C_EncryptInit(h, 5 as never, key)).toThrow(/C_EncryptInit: argument 'mechanism' must be an object/);
  expect(() => mod.C_EncryptInit(h, { mechanism: 'AES' as never }, key)).toThrow(TypeError);
  expect(() => mod.C_EncryptInit(h, { mechanism: CKM_AES_CBC, parameter: IV }, undefined as never)).toThrow(/C_EncryptInit: argument 'hKey'/);
  mod.C_DigestInit(h, { mechanism: CKM_SHA256 });
  expect(() => mod.C_Digest(h, Buffer.alloc(1), 'x' as never)).toThrow(/C_Digest: argument 'out'/);
  expect(() => (mod.C_DigestFinal as (...a: unknown[]) => unknown)()).toThrow(/got nothing/);
  mod.C_DigestFinal(h);
});

test('a Proxy of a Buffer is not taken for bytes (its traps would run outside argument reading): it gets the native TypeError', () => {
  mod.C_DigestInit(h, { mechanism: CKM_SHA256 });
  const sneaky = new Proxy(Buffer.alloc(8), {});
  expect(() => mod.C_Digest(h, sneaky)).toThrow(/C_Digest: argument 'data'/);
  expect(() => mod.C_Digest(h, Buffer.alloc(1), sneaky)).toThrow(/C_Digest: argument 'out'/);
  mod.C_DigestFinal(h);
});

test('the routed methods stay fixed on the class, like every other method', () => {
  const d = Object.getOwnPropertyDescriptor(PKCS11.prototype, 'C_Sign');
  expect(d).toMatchObject({ writable: false, configurable: false, enumerable: false });
  expect(typeof d?.value).toBe('function');
});
