// C_GetOperationState / C_SetOperationState: a digest saved in the middle on one session and
// resumed on another gives node's hash of the whole input (NSS softoken 3.87), sync and async,
// with and without a caller buffer; SoftHSM 2.6 provides both functions and answers
// CKR_FUNCTION_NOT_SUPPORTED from each.
import * as crypto from 'node:crypto';
import { Pkcs11Error, CKF_RW_SESSION, CKF_SERIAL_SESSION, CKM_AES_CBC, CKM_SHA256, CKM_SHA_1 } from '../lib/raw';
import type { Ulong } from '../lib/raw';
import { openNss, NssEnv, aesKey } from './helpers/nss-env';
import { openSoftHSM, Env } from './helpers/softhsm';
import { thrown, rejection, expectPkcs11 } from './helpers/p11-expect';

const hash = (alg: string, ...parts: Buffer[]) => {
  const h = crypto.createHash(alg);
  for (const p of parts) h.update(p);
  return h.digest();
};

/** The error came from the module (no addon detail such as "the module does not provide this function"). */
function expectFromModule(e: unknown, rvName: string, fn: string): void {
  expectPkcs11(e, rvName, fn);
  expect((e as Pkcs11Error).detail).toBeUndefined();
}

const part1 = crypto.randomBytes(1000);
const part2 = crypto.randomBytes(777);
const part3 = Buffer.from('and the end');

describe('NSS softoken: save and restore a SHA-256 digest', () => {
  let env: NssEnv;
  let src: Ulong;
  beforeAll(() => {
    env = openNss();
  });
  afterAll(() => env?.close());

  beforeEach(() => {
    src = env.session();
    env.mod.C_DigestInit(src, { mechanism: CKM_SHA256 });
    env.mod.C_DigestUpdate(src, part1);
  });
  afterEach(() => {
    env.mod.C_CloseSession(src);
  });

  test('C_GetOperationState sync and async give the same bytes; the source session is not disturbed', async () => {
    const state = env.mod.C_GetOperationState(src);
    expect(Buffer.isBuffer(state)).toBe(true);
    expect(state.length).toBeGreaterThan(32);
    const stateAsync = await env.mod.C_GetOperationStateAsync(src);
    expect(stateAsync).toEqual(state);
    // Reading the state does not end or change the operation.
    env.mod.C_DigestUpdate(src, part2);
    expect(env.mod.C_DigestFinal(src)).toEqual(hash('sha256', part1, part2));
  });

  test('C_GetOperationState into a caller `out` buffer (sync and async): a view of it holding the same state; too small: CKR_BUFFER_TOO_SMALL', async () => {
    const state = env.mod.C_GetOperationState(src);
    const out = Buffer.alloc(state.length + 100, 0xaa);
    const viaOut = env.mod.C_GetOperationState(src, out);
    expect(viaOut.buffer).toBe(out.buffer);
    expect(viaOut.byteOffset).toBe(out.byteOffset);
    expect(viaOut).toEqual(state);
    expect(out.subarray(state.length)).toEqual(Buffer.alloc(100, 0xaa));

    const out2 = new Uint8Array(state.length);
    const viaOutAsync = await env.mod.C_GetOperationStateAsync(src, out2);
    expect(viaOutAsync.buffer).toBe(out2.buffer);
    expect(Buffer.from(out2)).toEqual(state);

    expectFromModule(
      thrown(() => env.mod.C_GetOperationState(src, Buffer.alloc(10))),
      'CKR_BUFFER_TOO_SMALL',
      'C_GetOperationState',
    );
    expectFromModule(await rejection(env.mod.C_GetOperationStateAsync(src, Buffer.alloc(state.length - 1))), 'CKR_BUFFER_TOO_SMALL', 'C_GetOperationState');
    // The operation survived the failed reads.
    expect(env.mod.C_DigestFinal(src)).toEqual(hash('sha256', part1));
  });

  test('C_SetOperationState (sync) on a second session + C_DigestUpdate + C_DigestFinal = node sha256 of the whole input', () => {
    const state = env.mod.C_GetOperationState(src);
    const dst = env.session();
    env.mod.C_SetOperationState(dst, state);
    env.mod.C_DigestUpdate(dst, part2);
    env.mod.C_DigestUpdate(dst, part3);
    expect(env.mod.C_DigestFinal(dst)).toEqual(hash('sha256', part1, part2, part3));
    // The source continues independently.
    env.mod.C_DigestUpdate(src, part3);
    expect(env.mod.C_DigestFinal(src)).toEqual(hash('sha256', part1, part3));
    env.mod.C_CloseSession(dst);
  });

  test('C_SetOperationStateAsync (state read async, into `out`) + async update/final = node sha256', async () => {
    const out = Buffer.alloc(2048);
    const state = await env.mod.C_GetOperationStateAsync(src, out);
    const dst = env.mod.C_OpenSession(env.slot, CKF_SERIAL_SESSION);
    await expect(env.mod.C_SetOperationStateAsync(dst, state, 0, 0)).resolves.toBeUndefined();
    await env.mod.C_DigestUpdateAsync(dst, part2);
    expect(await env.mod.C_DigestFinalAsync(dst)).toEqual(hash('sha256', part1, part2));
    env.mod.C_CloseSession(dst);
  });

  test('one saved state restored twice (also on the crypto slot) gives two independent digests; C_Digest single-part after a restore', () => {
    const state = Buffer.from(env.mod.C_GetOperationState(src));
    const a = env.session();
    const b = env.mod.C_OpenSession(env.cryptoSlot, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    env.mod.C_SetOperationState(a, state);
    env.mod.C_SetOperationState(b, new Uint8Array(state)); // any byte view is accepted
    env.mod.C_DigestUpdate(a, part2);
    expect(env.mod.C_DigestFinal(a)).toEqual(hash('sha256', part1, part2));
    expect(env.mod.C_DigestFinal(b)).toEqual(hash('sha256', part1));
    // Restoring over an idle session, then finishing with the single-part C_Digest: NSS treats
    // it as update + final of the restored operation.
    env.mod.C_SetOperationState(a, state);
    expect(env.mod.C_Digest(a, part3)).toEqual(hash('sha256', part1, part3));
    env.mod.C_CloseSession(a);
    env.mod.C_CloseSession(b);
  });

  test('a SHA-1 state works the same way', async () => {
    const s1 = env.session();
    env.mod.C_DigestInit(s1, { mechanism: CKM_SHA_1 });
    env.mod.C_DigestUpdate(s1, part2);
    const state = await env.mod.C_GetOperationStateAsync(s1);
    env.mod.C_DigestFinal(s1);
    await env.mod.C_SetOperationStateAsync(s1, state);
    env.mod.C_DigestUpdate(s1, part1);
    expect(env.mod.C_DigestFinal(s1)).toEqual(hash('sha1', part2, part1));
    env.mod.C_CloseSession(s1);
  });

  test('errors: no operation → CKR_OPERATION_NOT_INITIALIZED, garbage state → CKR_SAVED_STATE_INVALID, bad session → CKR_SESSION_HANDLE_INVALID (sync and async)', async () => {
    const idle = env.session();
    expectFromModule(
      thrown(() => env.mod.C_GetOperationState(idle)),
      'CKR_OPERATION_NOT_INITIALIZED',
      'C_GetOperationState',
    );
    expectFromModule(await rejection(env.mod.C_GetOperationStateAsync(idle)), 'CKR_OPERATION_NOT_INITIALIZED', 'C_GetOperationState');
    expectFromModule(
      thrown(() => env.mod.C_SetOperationState(idle, Buffer.alloc(10, 0x5a))),
      'CKR_SAVED_STATE_INVALID',
      'C_SetOperationState',
    );
    expectFromModule(await rejection(env.mod.C_SetOperationStateAsync(idle, Buffer.alloc(10, 0x5a))), 'CKR_SAVED_STATE_INVALID', 'C_SetOperationState');
    expectFromModule(
      thrown(() => env.mod.C_GetOperationState(987654)),
      'CKR_SESSION_HANDLE_INVALID',
      'C_GetOperationState',
    );
    expectFromModule(await rejection(env.mod.C_SetOperationStateAsync(987654, env.mod.C_GetOperationState(src))), 'CKR_SESSION_HANDLE_INVALID', 'C_SetOperationState');
    env.mod.C_CloseSession(idle);
  });

  test('NSS saves only digest state: with an AES-CBC encryption active, C_GetOperationState answers CKR_OPERATION_NOT_INITIALIZED', async () => {
    const e = env.session();
    const key = aesKey(env.mod, e);
    env.mod.C_EncryptInit(e, { mechanism: CKM_AES_CBC, parameter: Buffer.alloc(16) }, key.handle);
    expectFromModule(
      thrown(() => env.mod.C_GetOperationState(e)),
      'CKR_OPERATION_NOT_INITIALIZED',
      'C_GetOperationState',
    );
    expectFromModule(await rejection(env.mod.C_GetOperationStateAsync(e)), 'CKR_OPERATION_NOT_INITIALIZED', 'C_GetOperationState');
    // The encryption is unaffected and matches node.
    const pt = Buffer.alloc(32, 3);
    const c = crypto.createCipheriv('aes-256-cbc', key.value, Buffer.alloc(16)).setAutoPadding(false);
    expect(env.mod.C_Encrypt(e, pt)).toEqual(Buffer.concat([c.update(pt), c.final()]));
    env.mod.C_CloseSession(e);
  });
});

describe('SoftHSM 2.6 (a 2.40 module): both functions are in its list and answer CKR_FUNCTION_NOT_SUPPORTED', () => {
  let env: Env;
  let s: Ulong;
  beforeAll(() => {
    env = openSoftHSM();
    s = env.mod.C_OpenSession(env.slot, CKF_SERIAL_SESSION);
  });
  afterAll(() => env?.close());

  test('has() is true for both: the answer comes from SoftHSM itself', () => {
    expect(env.mod.has('C_GetOperationState')).toBe(true);
    expect(env.mod.has('C_SetOperationState')).toBe(true);
  });

  test('C_GetOperationState with a digest in progress: CKR_FUNCTION_NOT_SUPPORTED (sync, async, with `out`); the digest goes on', async () => {
    env.mod.C_DigestInit(s, { mechanism: CKM_SHA256 });
    env.mod.C_DigestUpdate(s, part1);
    expectFromModule(
      thrown(() => env.mod.C_GetOperationState(s)),
      'CKR_FUNCTION_NOT_SUPPORTED',
      'C_GetOperationState',
    );
    expectFromModule(await rejection(env.mod.C_GetOperationStateAsync(s)), 'CKR_FUNCTION_NOT_SUPPORTED', 'C_GetOperationState');
    const out = Buffer.alloc(512, 0x11);
    expectFromModule(
      thrown(() => env.mod.C_GetOperationState(s, out)),
      'CKR_FUNCTION_NOT_SUPPORTED',
      'C_GetOperationState',
    );
    expectFromModule(await rejection(env.mod.C_GetOperationStateAsync(s, out)), 'CKR_FUNCTION_NOT_SUPPORTED', 'C_GetOperationState');
    expect(out).toEqual(Buffer.alloc(512, 0x11));
    env.mod.C_DigestUpdate(s, part2);
    expect(env.mod.C_DigestFinal(s)).toEqual(hash('sha256', part1, part2));
  });

  test('C_SetOperationState (with NSS-shaped or arbitrary state): CKR_FUNCTION_NOT_SUPPORTED, sync and async', async () => {
    const s2 = env.mod.C_OpenSession(env.slot, CKF_SERIAL_SESSION);
    for (const state of [Buffer.alloc(324, 1), Buffer.alloc(1)]) {
      expectFromModule(
        thrown(() => env.mod.C_SetOperationState(s2, state)),
        'CKR_FUNCTION_NOT_SUPPORTED',
        'C_SetOperationState',
      );
      expectFromModule(await rejection(env.mod.C_SetOperationStateAsync(s2, state, 0, 0)), 'CKR_FUNCTION_NOT_SUPPORTED', 'C_SetOperationState');
    }
    // The session is usable afterwards.
    env.mod.C_DigestInit(s2, { mechanism: CKM_SHA256 });
    expect(env.mod.C_Digest(s2, part3)).toEqual(hash('sha256', part3));
    env.mod.C_CloseSession(s2);
  });
});
