// Argument validation of all 68 PKCS#11 2.40 functions, sync and async, driven from a table of
// signatures: every argument of every function gets wrong types, missing values and out-of-range
// numbers, with the other arguments valid. Sync forms must throw TypeError / RangeError (with
// `code` and a message naming the function and the argument); async forms must return a Promise
// that rejects with the same error, never throw. None of these calls may reach the module, and
// the module keeps working afterwards.
import {
  PKCS11,
  Pkcs11Error,
  CKA_LABEL,
  CKA_WRAP_TEMPLATE,
  CKF_RW_SESSION,
  CKF_SERIAL_SESSION,
  CKM_AES_CBC,
  CKM_SHA256,
  CKR_CRYPTOKI_NOT_INITIALIZED,
  CKR_PIN_INCORRECT,
  CKU_USER,
} from '../lib/raw';
import { openSoftHSM, Env } from './helpers/softhsm';
import { Bad, ErrKind, MISSING, T, R, ULONG_TYPE_ERRORS, ULONG_RANGE_ERRORS, NULLISH_TYPE_ERRORS, templateBads, describeThrown } from './helpers/bad-args';
import { runChild, expectCleanExit, ChildResult } from './helpers/child-process';

type Kind =
  | 'ulong' // required CK_ULONG
  | 'optUlong' // CK_ULONG, null/undefined/missing take the default
  | 'bool' // optional boolean
  | 'bytes' // required Buffer / TypedArray / DataView / ArrayBuffer
  | 'pin' // string or bytes; null/undefined = protected authentication path
  | 'label' // string of at most 32 UTF-8 bytes (C_InitToken)
  | 'template' // required attribute array
  | 'optTemplate' // attribute array or nullish
  | 'mechanism' // { mechanism, parameter? }
  | 'out' // optional Buffer / Uint8Array for the output
  | 'types' // C_GetAttributeValue's attribute types
  | 'initOptions' // C_Initialize's { flags?, libraryParameters? }
  | 'lengthOrOut'; // C_GenerateRandom's length or buffer

interface Param {
  name: string;
  kind: Kind;
}

// A slot that does not exist and the invalid session/object handle 0: should a bad argument ever
// get through validation, the module answers with a Pkcs11Error and the test reports it, without
// having touched a token.
const NO_SLOT = 987654321;
const NO_HANDLE = 0;

const slotID: Param = { name: 'slotID', kind: 'ulong' };
const hSession: Param = { name: 'hSession', kind: 'ulong' };
const hObject: Param = { name: 'hObject', kind: 'ulong' };
const hKey: Param = { name: 'hKey', kind: 'ulong' };
const mechanism: Param = { name: 'mechanism', kind: 'mechanism' };
const data: Param = { name: 'data', kind: 'bytes' };
const out: Param = { name: 'out', kind: 'out' };
const template: Param = { name: 'template', kind: 'template' };
const optTemplate: Param = { name: 'template', kind: 'optTemplate' };
const signature: Param = { name: 'signature', kind: 'bytes' };

/** The 68 functions of PKCS#11 2.40 and their JS parameters, as lib/raw-types.ts declares them. */
const SIGNATURES: Record<string, Param[]> = {
  C_Initialize: [{ name: 'options', kind: 'initOptions' }],
  C_Finalize: [],
  C_GetInfo: [],
  C_GetFunctionList: [],
  C_GetSlotList: [{ name: 'tokenPresent', kind: 'bool' }],
  C_GetSlotInfo: [slotID],
  C_GetTokenInfo: [slotID],
  C_GetMechanismList: [slotID],
  C_GetMechanismInfo: [slotID, { name: 'type', kind: 'ulong' }],
  C_InitToken: [slotID, { name: 'soPin', kind: 'pin' }, { name: 'label', kind: 'label' }],
  C_InitPIN: [hSession, { name: 'pin', kind: 'pin' }],
  C_SetPIN: [hSession, { name: 'oldPin', kind: 'pin' }, { name: 'newPin', kind: 'pin' }],
  C_OpenSession: [slotID, { name: 'flags', kind: 'optUlong' }],
  C_CloseSession: [hSession],
  C_CloseAllSessions: [slotID],
  C_GetSessionInfo: [hSession],
  C_GetOperationState: [hSession, out],
  C_SetOperationState: [hSession, { name: 'state', kind: 'bytes' }, { name: 'hEncryptionKey', kind: 'optUlong' }, { name: 'hAuthenticationKey', kind: 'optUlong' }],
  C_Login: [hSession, { name: 'userType', kind: 'ulong' }, { name: 'pin', kind: 'pin' }],
  C_Logout: [hSession],
  C_CreateObject: [hSession, template],
  C_CopyObject: [hSession, hObject, optTemplate],
  C_DestroyObject: [hSession, hObject],
  C_GetObjectSize: [hSession, hObject],
  C_GetAttributeValue: [hSession, hObject, { name: 'types', kind: 'types' }],
  C_SetAttributeValue: [hSession, hObject, template],
  C_FindObjectsInit: [hSession, optTemplate],
  C_FindObjects: [hSession, { name: 'maxObjectCount', kind: 'optUlong' }],
  C_FindObjectsFinal: [hSession],
  C_EncryptInit: [hSession, mechanism, hKey],
  C_Encrypt: [hSession, data, out],
  C_EncryptUpdate: [hSession, data, out],
  C_EncryptFinal: [hSession, out],
  C_DecryptInit: [hSession, mechanism, hKey],
  C_Decrypt: [hSession, data, out],
  C_DecryptUpdate: [hSession, data, out],
  C_DecryptFinal: [hSession, out],
  C_DigestInit: [hSession, mechanism],
  C_Digest: [hSession, data, out],
  C_DigestUpdate: [hSession, data],
  C_DigestKey: [hSession, hKey],
  C_DigestFinal: [hSession, out],
  C_SignInit: [hSession, mechanism, hKey],
  C_Sign: [hSession, data, out],
  C_SignUpdate: [hSession, data],
  C_SignFinal: [hSession, out],
  C_SignRecoverInit: [hSession, mechanism, hKey],
  C_SignRecover: [hSession, data, out],
  C_VerifyInit: [hSession, mechanism, hKey],
  C_Verify: [hSession, data, signature],
  C_VerifyUpdate: [hSession, data],
  C_VerifyFinal: [hSession, signature],
  C_VerifyRecoverInit: [hSession, mechanism, hKey],
  // Declared `C_VerifyRecover(hSession, signature, out?)`; the addon's messages call it 'data'
  // (ADDON BUG, messages: DataOutOp names its input 'data' for every function of that shape).
  C_VerifyRecover: [hSession, signature, out],
  C_DigestEncryptUpdate: [hSession, data, out],
  C_DecryptDigestUpdate: [hSession, data, out],
  C_SignEncryptUpdate: [hSession, data, out],
  C_DecryptVerifyUpdate: [hSession, data, out],
  C_GenerateKey: [hSession, mechanism, template],
  C_GenerateKeyPair: [hSession, mechanism, { name: 'publicKeyTemplate', kind: 'template' }, { name: 'privateKeyTemplate', kind: 'template' }],
  C_WrapKey: [hSession, mechanism, { name: 'hWrappingKey', kind: 'ulong' }, hKey, out],
  C_UnwrapKey: [hSession, mechanism, { name: 'hUnwrappingKey', kind: 'ulong' }, { name: 'wrappedKey', kind: 'bytes' }, template],
  C_DeriveKey: [hSession, mechanism, { name: 'hBaseKey', kind: 'ulong' }, template],
  C_SeedRandom: [hSession, { name: 'seed', kind: 'bytes' }],
  C_GenerateRandom: [hSession, { name: 'lengthOrOut', kind: 'lengthOrOut' }],
  C_GetFunctionStatus: [hSession],
  C_CancelFunction: [hSession],
  C_WaitForSlotEvent: [{ name: 'flags', kind: 'optUlong' }],
};
const FUNCTIONS = Object.keys(SIGNATURES);

/** A valid value of each kind (for the arguments around the one under test). */
function validValue(p: Param): unknown {
  switch (p.kind) {
    case 'ulong':
      return p.name === 'slotID' ? NO_SLOT : NO_HANDLE;
    case 'optUlong':
      return p.name === 'maxObjectCount' ? 16 : p.name === 'flags' ? CKF_SERIAL_SESSION : NO_HANDLE;
    case 'bool':
      return true;
    case 'bytes':
      return Buffer.from('data');
    case 'pin':
      return '0000';
    case 'label':
      return 'label';
    case 'template':
    case 'optTemplate':
      return [{ type: CKA_LABEL, value: 'label' }];
    case 'mechanism':
      return { mechanism: CKM_SHA256 };
    case 'out':
      return Buffer.alloc(256);
    case 'types':
      return [CKA_LABEL];
    case 'initOptions':
      return {};
    case 'lengthOrOut':
      return 16;
  }
}

function badsFor(p: Param): Bad[] {
  switch (p.kind) {
    case 'ulong':
      return [...ULONG_TYPE_ERRORS, ...NULLISH_TYPE_ERRORS, ...ULONG_RANGE_ERRORS];
    case 'optUlong': {
      const extra = p.name === 'maxObjectCount' ? [R('0', 0), R('65537', 65537)] : [];
      return [...ULONG_TYPE_ERRORS, ...ULONG_RANGE_ERRORS, ...extra];
    }
    case 'bool':
      return [T('number 1', 1), T('number 0', 0), T('string', 'true'), T('object', {}), T('symbol', Symbol('b'))];
    case 'bytes':
      return [
        T('string', 'abc'),
        T('number', 123),
        T('object', {}),
        T('number[]', [1, 2, 3]),
        T('boolean', true),
        T('bigint', 1n),
        T('symbol', Symbol('d')),
        T('function', () => 0),
        ...NULLISH_TYPE_ERRORS,
      ];
    case 'pin':
      return [T('number', 1234), T('object', {}), T('number[]', [1, 2]), T('boolean', true), T('bigint', 12n), T('symbol', Symbol('p'))];
    case 'label':
      return [
        T('number', 5),
        T('object', {}),
        T('boolean', true),
        T('Buffer', Buffer.from('label')),
        R('33 bytes', 'x'.repeat(33)),
        R('34 bytes of UTF-8 in 17 characters', 'é'.repeat(17)),
      ];
    case 'template':
      return templateBads(false);
    case 'optTemplate':
      return templateBads(true);
    case 'mechanism':
      return [
        T('number', 5),
        T('string', 'CKM_SHA256'),
        T('boolean', true),
        T('symbol', Symbol('m')),
        T('function', () => 0),
        ...NULLISH_TYPE_ERRORS,
        T('missing mechanism field', {}, '.mechanism'),
        T('array', [], '.mechanism'),
        T('mechanism string', { mechanism: '0x250' }, '.mechanism'),
        T('mechanism null', { mechanism: null }, '.mechanism'),
        T('parameter string', { mechanism: CKM_AES_CBC, parameter: '0123456789abcdef' }, '.parameter'),
        T('parameter number', { mechanism: CKM_AES_CBC, parameter: 16 }, '.parameter'),
        T('parameter object', { mechanism: CKM_AES_CBC, parameter: { iv: Buffer.alloc(16) } }, '.parameter'),
        // An array is a struct description now: its first element must be a field object.
        T('parameter number[]', { mechanism: CKM_AES_CBC, parameter: [1, 2] }, '.parameter[0]'),
        T('parameter boolean', { mechanism: CKM_AES_CBC, parameter: true }, '.parameter'),
        R('mechanism -1', { mechanism: -1 }, '.mechanism'),
        R('mechanism 0.5', { mechanism: 0.5 }, '.mechanism'),
        R('mechanism NaN', { mechanism: NaN }, '.mechanism'),
        R('mechanism 2n**64n', { mechanism: 2n ** 64n }, '.mechanism'),
      ];
    case 'out':
      return [
        T('object', {}),
        T('string', 'out'),
        T('number', 5),
        T('boolean', true),
        T('Uint16Array', new Uint16Array(4)),
        T('Int8Array', new Int8Array(4)),
        T('DataView', new DataView(new ArrayBuffer(4))),
        T('ArrayBuffer', new ArrayBuffer(4)),
        T('number[]', [0, 0]),
        T('symbol', Symbol('o')),
      ];
    case 'types':
      return [
        T('number', 5),
        T('string', 'x'),
        T('object', {}),
        ...NULLISH_TYPE_ERRORS,
        T('element string', ['x'], '[0]'),
        T('element null', [null], '[0]'),
        T('element { type: string }', [{ type: 'x' }], '[0]'),
        T('second element {}', [CKA_LABEL, {}], '[1]'),
        R('element -1', [-1], '[0]'),
        R('element { type: 2n**64n }', [{ type: 2n ** 64n }], '[0]'),
        R('4097 entries', new Array(4097).fill(CKA_LABEL)),
      ];
    case 'initOptions':
      return [
        T('number', 5),
        T('string', 'x'),
        T('boolean', true),
        T('symbol', Symbol('i')),
        T('function', () => 0),
        T('flags string', { flags: '2' }, '.flags'),
        T('flags null', { flags: null }, '.flags'),
        T('libraryParameters number', { libraryParameters: 5 }, '.libraryParameters'),
        T('libraryParameters object', { libraryParameters: {} }, '.libraryParameters'),
        R('flags -1', { flags: -1 }, '.flags'),
        R('flags 2n**64n', { flags: 2n ** 64n }, '.flags'),
      ];
    case 'lengthOrOut':
      // Numbers and bigints are a length; anything else must be a buffer to fill.
      return [
        { ...T('string', 'x'), at: '=out' },
        { ...T('object', {}), at: '=out' },
        { ...T('boolean', true), at: '=out' },
        { ...T('Uint16Array', new Uint16Array(2)), at: '=out' },
        { ...T('number[]', [1]), at: '=out' },
        { ...T('null', null), at: '=length' },
        { ...T('undefined', undefined), at: '=length' },
        { ...MISSING(), at: '=length' },
        { ...R('-1', -1), at: '=length' },
        { ...R('1.5', 1.5), at: '=length' },
        { ...R('NaN', NaN), at: '=length' },
        { ...R('2**31 (over the 2^31-1 output limit)', 2 ** 31), at: '=length' },
        { ...R('2n**64n', 2n ** 64n), at: '=length' },
      ];
  }
}

interface Case {
  label: string;
  args: unknown[];
  err: ErrKind;
  /** Full argument path expected in the message. */
  arg: string;
}

function casesFor(fn: string): Case[] {
  const params = SIGNATURES[fn];
  const cases: Case[] = [];
  params.forEach((p, i) => {
    for (const b of badsFor(p)) {
      const before = params.slice(0, i).map(validValue);
      const after = params.slice(i + 1).map(validValue);
      const args = b.missing ? before : [...before, b.value, ...after];
      const arg = b.at.startsWith('=') ? b.at.slice(1) : p.name + b.at;
      cases.push({ label: `${fn} ${p.name}: ${b.what}`, args, err: b.err, arg });
    }
  });
  return cases;
}

type AnyFn = (...args: unknown[]) => unknown;

/** Problems with one thrown/rejected error against the expectation, or []. */
function checkError(fn: string, c: Case, e: unknown, how: string): string[] {
  const Cls = c.err === 'type' ? TypeError : RangeError;
  const code = c.err === 'type' ? 'ERR_INVALID_ARG_TYPE' : 'ERR_OUT_OF_RANGE';
  const prefix = `${fn}: argument '${c.arg}' `;
  const problems: string[] = [];
  if (!(e instanceof Cls)) problems.push(`${c.label} [${how}]: expected ${Cls.name}, got ${describeThrown(e)}`);
  else {
    if ((e as { code?: string }).code !== code) problems.push(`${c.label} [${how}]: code ${(e as { code?: string }).code}, expected ${code}`);
    if (!e.message.startsWith(prefix)) problems.push(`${c.label} [${how}]: message "${e.message}" does not start with "${prefix}"`);
  }
  return problems;
}

function runSync(mod: PKCS11, fn: string, c: Case): { error?: unknown; problems: string[] } {
  try {
    const r = ((mod as unknown as Record<string, AnyFn>)[fn] as AnyFn).apply(mod, c.args);
    return { problems: [`${c.label} [sync]: no error, returned ${String(r)}`] };
  } catch (e) {
    return { error: e, problems: checkError(fn, c, e, 'sync') };
  }
}

async function runAsync(mod: PKCS11, fn: string, c: Case, syncError: unknown): Promise<string[]> {
  let p: unknown;
  try {
    p = ((mod as unknown as Record<string, AnyFn>)[fn + 'Async'] as AnyFn).apply(mod, c.args);
  } catch (e) {
    return [`${c.label} [async]: threw synchronously instead of rejecting: ${describeThrown(e)}`];
  }
  if (Object.prototype.toString.call(p) !== '[object Promise]') return [`${c.label} [async]: returned ${String(p)}, not a Promise`];
  const NOTHING = Symbol('resolved');
  const e = await (p as Promise<unknown>).then(
    () => NOTHING,
    (x: unknown) => x,
  );
  if (e === NOTHING) return [`${c.label} [async]: resolved`];
  const problems = checkError(fn, c, e, 'async');
  // The same error as the sync form: class, code and message.
  if (!problems.length && syncError instanceof Error && e instanceof Error) {
    if (e.constructor !== syncError.constructor || e.message !== syncError.message) problems.push(`${c.label} [async]: "${e.message}" differs from sync "${syncError.message}"`);
  }
  return problems;
}

let env: Env;
let session: number | bigint;
// The shapes that could crash the process are tried in a child first; the in-process tests
// below run only once it came back clean.
let guard: ChildResult;

beforeAll(() => {
  guard = runChild('args-child.js');
  env = openSoftHSM();
  session = env.mod.C_OpenSession(env.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION);
});
afterAll(() => {
  env?.close();
});

function requireGuard() {
  expectCleanExit(guard);
}

describe('crash guard (child process): cyclic / deep templates, throwing getters, detached buffers', () => {
  test('the child ran every dangerous shape sync and async and exited cleanly', () => {
    requireGuard();
    const r = guard.json.results;
    for (const name of ['cyclicTemplate', 'cyclicObjectTemplate', 'nested10', 'nested10Keygen']) {
      for (const how of ['sync', 'async']) {
        expect([name, how, r[name][how]]).toEqual([
          name,
          how,
          expect.objectContaining({ threw: true, name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('nests templates too deeply') }),
        ]);
      }
      expect(r[name].async.threwSynchronously).toBe(false);
    }
    for (const name of [
      'getterValue',
      'getterType',
      'getterElement',
      'getterNestedValue',
      'getterMechanism',
      'getterParameter',
      'getterInitFlags',
      'getterAttributeType',
      'proxyTemplateElement',
    ]) {
      expect([name, r[name].sync]).toEqual([name, expect.objectContaining({ threw: true, same: true })]);
      expect([name, r[name].async]).toEqual([name, expect.objectContaining({ threwSynchronously: false, threw: true, same: true })]);
    }
    expect(r.detachedByLaterGetter.sync).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining("C_UnwrapKey: argument 'wrappedKey'") });
    // Async copies its inputs while reading them: the later detach cannot hurt it.
    expect(r.detachedByLaterGetter.async).toMatchObject({ threwSynchronously: false, threw: true, function: 'C_UnwrapKey' });
    expect(r.afterwards).toEqual({ info: 'SoftHSM', random: 8 });
  });
});

describe('argument validation of every function (table-driven)', () => {
  test('the table covers exactly the 68 functions SoftHSM lists', () => {
    expect(FUNCTIONS).toHaveLength(68);
    expect([...env.mod.C_GetFunctionList().functions].sort()).toEqual([...FUNCTIONS].sort());
  });

  test.each(FUNCTIONS)('%s: bad arguments throw (sync) and reject (async) with TypeError / RangeError', async (fn) => {
    requireGuard();
    const cases = casesFor(fn);
    const problems: string[] = [];
    if (cases.length === 0) {
      // No parameters: extra arguments are ignored.
      const junk = ['junk', {}, -1, Symbol('x')];
      if (fn === 'C_Finalize') {
        const m = new PKCS11();
        m.load(env.fixture.modulePath);
        m.C_Initialize();
        m.C_Finalize(...(junk as []));
        expect(m.moduleInfo()!.initialized).toBe(false);
        m.C_Initialize();
        await m.C_FinalizeAsync(...(junk as []));
        expect(m.moduleInfo()!.initialized).toBe(false);
        m.close();
      } else {
        const sync = (env.mod as unknown as Record<string, AnyFn>)[fn](...junk);
        await expect((env.mod as unknown as Record<string, AnyFn>)[fn + 'Async'](...junk)).resolves.toEqual(sync);
      }
      return;
    }
    for (const c of cases) {
      const s = runSync(env.mod, fn, c);
      problems.push(...s.problems);
      problems.push(...(await runAsync(env.mod, fn, c, s.error)));
    }
    expect(problems).toEqual([]);
    expect(cases.length).toBeGreaterThanOrEqual(5);
  });

  test('a getter that throws: that same error comes out, sync and async', async () => {
    requireGuard();
    const make = (where: string, boom: Error): [string, unknown[]] => {
      const throwing = <T extends object>(o: T, key: string): T =>
        Object.defineProperty(o, key, {
          get() {
            throw boom;
          },
        });
      switch (where) {
        case 'template value':
          return ['C_CreateObject', [session, [throwing({ type: CKA_LABEL }, 'value')]]];
        case 'template type':
          return ['C_CreateObject', [session, [throwing({ value: 'x' }, 'type')]]];
        case 'template element':
          return ['C_FindObjectsInit', [session, throwing([] as unknown[], '0')]];
        case 'nested template value':
          return ['C_GenerateKey', [session, { mechanism: CKM_SHA256 }, [{ type: CKA_WRAP_TEMPLATE, value: [throwing({ type: CKA_LABEL }, 'value')] }]]];
        case 'mechanism':
          return ['C_SignInit', [session, throwing({}, 'mechanism'), 1]];
        case 'mechanism parameter':
          return ['C_EncryptInit', [session, throwing({ mechanism: CKM_AES_CBC }, 'parameter'), 1]];
        case 'C_Initialize options.flags':
          return ['C_Initialize', [throwing({}, 'flags')]];
        case 'C_GetAttributeValue types[0].type':
          return ['C_GetAttributeValue', [session, 1, [throwing({}, 'type')]]];
        case 'proxy attribute':
          return [
            'C_CreateObject',
            [
              session,
              [
                new Proxy(
                  {},
                  {
                    get() {
                      throw boom;
                    },
                  },
                ),
              ],
            ],
          ];
      }
      throw new Error(where);
    };
    const wheres = [
      'template value',
      'template type',
      'template element',
      'nested template value',
      'mechanism',
      'mechanism parameter',
      'C_Initialize options.flags',
      'C_GetAttributeValue types[0].type',
      'proxy attribute',
    ];
    for (const where of wheres) {
      const boom = new Error('boom');
      const [fn, args] = make(where, boom);
      let thrown: unknown;
      try {
        (env.mod as unknown as Record<string, AnyFn>)[fn](...args);
      } catch (e) {
        thrown = e;
      }
      expect([where, thrown]).toEqual([where, boom]);
      expect(thrown).toBe(boom);

      const boom2 = new Error('boom');
      const [fn2, args2] = make(where, boom2);
      let p!: Promise<unknown>;
      expect(() => {
        p = (env.mod as unknown as Record<string, AnyFn>)[fn2 + 'Async'](...args2) as Promise<unknown>;
      }).not.toThrow();
      const rejected = await p.then(
        () => 'resolved',
        (e: unknown) => e,
      );
      expect(rejected).toBe(boom2);
    }
  });

  test('a large input buffer detached by a getter read after it: TypeError (sync); async copied it and the call reaches the module', async () => {
    requireGuard();
    const make = () => {
      const ab = new ArrayBuffer(8192);
      const attr = { value: 'x' } as { type?: number; value: string };
      Object.defineProperty(attr, 'type', {
        get() {
          structuredClone(ab, { transfer: [ab] });
          return CKA_LABEL;
        },
      });
      return [session, { mechanism: CKM_AES_CBC, parameter: Buffer.alloc(16) }, NO_HANDLE, new Uint8Array(ab), [attr]] as const;
    };
    expect(() => env.mod.C_UnwrapKey(...(make() as unknown as Parameters<PKCS11['C_UnwrapKey']>))).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining("C_UnwrapKey: argument 'wrappedKey'") }),
    );
    const e = await env.mod.C_UnwrapKeyAsync(...(make() as unknown as Parameters<PKCS11['C_UnwrapKey']>)).then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(Pkcs11Error);
    expect(e).toMatchObject({ function: 'C_UnwrapKey' });
  });

  test('valid extremes are accepted by validation: 2^53-1 and 2^64-1 handles reach the module', async () => {
    for (const h of [2 ** 53 - 1, 2n ** 64n - 1n, 0n]) {
      expect(() => env.mod.C_GetSessionInfo(h)).toThrow(expect.objectContaining({ name: 'SessionHandleInvalidError', rvName: 'CKR_SESSION_HANDLE_INVALID' }));
      await expect(env.mod.C_GetSessionInfoAsync(h)).rejects.toMatchObject({ rvName: 'CKR_SESSION_HANDLE_INVALID' });
    }
  });

  // ADDON BUG (messages): DescribeType answers "Buffer" for every TypedArray and for DataView
  // (napi_is_buffer is true for any ArrayBufferView in current Node), so the message contradicts
  // itself: "argument 'out' must be a Buffer or Uint8Array, got Buffer".
  test("the 'got …' part of a TypeError describes what was passed", () => {
    const msg = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(msg(() => env.mod.C_GetSlotInfo('1' as never))).toMatch(/, got string$/);
    expect(msg(() => env.mod.C_GetSlotInfo(undefined as never))).toMatch(/, got undefined$/);
    expect(msg(() => (env.mod.C_GetSlotInfo as AnyFn)())).toMatch(/, got nothing$/);
    expect(msg(() => env.mod.C_Sign(session, Buffer.alloc(1), new Uint16Array(4) as never))).not.toMatch(/got Buffer$/);
    expect(msg(() => env.mod.C_Sign(session, Buffer.alloc(1), new DataView(new ArrayBuffer(4)) as never))).not.toMatch(/got Buffer$/);
  });
});

describe('state errors', () => {
  test('every function before load(): Error with code ERR_P11_STATE, sync and async', async () => {
    const m = new PKCS11();
    const problems: string[] = [];
    for (const fn of FUNCTIONS) {
      const args = SIGNATURES[fn].map(validValue);
      try {
        (m as unknown as Record<string, AnyFn>)[fn](...args);
        problems.push(`${fn} [sync]: no error`);
      } catch (e) {
        if (!(e instanceof Error) || e instanceof TypeError || e instanceof RangeError || e instanceof Pkcs11Error) problems.push(`${fn} [sync]: ${describeThrown(e)}`);
        else if ((e as { code?: string }).code !== 'ERR_P11_STATE' || !e.message.startsWith(`${fn}: `)) problems.push(`${fn} [sync]: ${describeThrown(e)}`);
      }
      let p: Promise<unknown> | undefined;
      try {
        p = (m as unknown as Record<string, AnyFn>)[fn + 'Async'](...args) as Promise<unknown>;
      } catch (e) {
        problems.push(`${fn} [async]: threw synchronously ${describeThrown(e)}`);
      }
      if (p) {
        const e = await p.then(
          () => null,
          (x: unknown) => x,
        );
        if (!(e instanceof Error) || (e as { code?: string }).code !== 'ERR_P11_STATE' || !e.message.startsWith(`${fn}: `)) problems.push(`${fn} [async]: ${describeThrown(e)}`);
      }
    }
    expect(problems).toEqual([]);
  });

  test('every function after C_Finalize: Pkcs11Error CKR_CRYPTOKI_NOT_INITIALIZED naming the function, sync and async', async () => {
    const m = new PKCS11();
    m.load(env.fixture.modulePath);
    m.C_Initialize();
    m.C_Finalize();
    const problems: string[] = [];
    // C_Initialize would initialize again; C_GetFunctionList needs no initialization.
    for (const fn of FUNCTIONS.filter((f) => f !== 'C_Initialize' && f !== 'C_GetFunctionList')) {
      const args = SIGNATURES[fn].map(validValue);
      const check = (e: unknown, how: string) => {
        if (!(e instanceof Pkcs11Error)) problems.push(`${fn} [${how}]: ${describeThrown(e)}`);
        else if (e.rv !== CKR_CRYPTOKI_NOT_INITIALIZED || e.rvName !== 'CKR_CRYPTOKI_NOT_INITIALIZED' || e.function !== fn)
          problems.push(`${fn} [${how}]: ${e.rvName} from ${e.function}`);
      };
      try {
        (m as unknown as Record<string, AnyFn>)[fn](...args);
        problems.push(`${fn} [sync]: no error`);
      } catch (e) {
        check(e, 'sync');
      }
      let p: Promise<unknown> | undefined;
      try {
        p = (m as unknown as Record<string, AnyFn>)[fn + 'Async'](...args) as Promise<unknown>;
      } catch (e) {
        problems.push(`${fn} [async]: threw synchronously ${describeThrown(e)}`);
      }
      if (p)
        check(
          await p.then(
            () => null,
            (x: unknown) => x,
          ),
          'async',
        );
    }
    expect(problems).toEqual([]);
    expect(m.C_GetFunctionList().functions).toHaveLength(68);
    m.close();
    // The shared module was not finalized by m.
    expect(env.mod.C_GetInfo().manufacturerID).toBe('SoftHSM');
  });
});

describe('PINs never appear in messages', () => {
  const SECRET = 98761234;

  test('a PIN of the wrong type (C_Login, C_InitPIN, C_SetPIN, C_InitToken): TypeError without the value', async () => {
    const secretObject = { toString: () => 'secret-pin-4711', valueOf: () => 4711 };
    const calls: Array<[string, unknown[]]> = [
      ['C_Login', [session, CKU_USER, SECRET]],
      ['C_Login', [session, CKU_USER, secretObject]],
      ['C_Login', [session, CKU_USER, [9, 8, 7, 6]]],
      ['C_InitPIN', [session, SECRET]],
      ['C_SetPIN', [session, '1234', SECRET]],
      ['C_SetPIN', [session, secretObject, '1234']],
      ['C_InitToken', [NO_SLOT, SECRET, 'label']],
    ];
    for (const [fn, args] of calls) {
      let e: unknown;
      try {
        (env.mod as unknown as Record<string, AnyFn>)[fn](...args);
      } catch (x) {
        e = x;
      }
      const asyncE = await ((env.mod as unknown as Record<string, AnyFn>)[fn + 'Async'](...args) as Promise<unknown>).then(
        () => null,
        (x: unknown) => x,
      );
      for (const err of [e, asyncE]) {
        expect(err).toBeInstanceOf(TypeError);
        const text = `${(err as Error).message} ${(err as Error).stack} ${JSON.stringify(err)}`;
        expect(text).toMatch(new RegExp(`^${fn}: argument '(pin|soPin|oldPin|newPin)'`));
        for (const secret of [String(SECRET), 'secret-pin-4711', '4711', '9,8,7,6']) expect(text).not.toContain(secret);
      }
    }
  });

  test('a wrong PIN: Pkcs11Error CKR_PIN_INCORRECT whose message, stack and properties do not contain it', async () => {
    const s = env.mod.C_OpenSession(env.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    try {
      // Login state is per process: start logged out so SoftHSM checks the PIN.
      try {
        env.mod.C_Logout(s);
      } catch {
        /* CKR_USER_NOT_LOGGED_IN */
      }
      const wrong = ['97531', 'wrong-pin-xyz'];
      const errors: unknown[] = [];
      try {
        env.mod.C_Login(s, CKU_USER, wrong[0]);
      } catch (e) {
        errors.push(e);
      }
      errors.push(
        await env.mod.C_LoginAsync(s, CKU_USER, Buffer.from(wrong[1])).then(
          () => null,
          (e: unknown) => e,
        ),
      );
      errors.forEach((e, i) => {
        expect(e).toBeInstanceOf(Pkcs11Error);
        expect(e).toMatchObject({ rv: CKR_PIN_INCORRECT, rvName: 'CKR_PIN_INCORRECT', function: 'C_Login' });
        const text = `${(e as Error).message} ${(e as Error).stack} ${JSON.stringify(e)} ${String(e)} ${(e as Pkcs11Error).detail}`;
        expect(text).not.toContain(wrong[i]);
        expect(text).not.toContain(Buffer.from(wrong[i]).toString('hex'));
      });
      // The right PIN still works (and clears SoftHSM's CKF_USER_PIN_COUNT_LOW).
      env.mod.C_Login(s, CKU_USER, '1234');
      env.mod.C_Logout(s);
    } finally {
      env.mod.C_CloseSession(s);
    }
  });
});

describe('after all of that', () => {
  test('the module still works', async () => {
    expect(env.mod.C_GetInfo().manufacturerID).toBe('SoftHSM');
    await expect(env.mod.C_GetInfoAsync()).resolves.toMatchObject({ manufacturerID: 'SoftHSM' });
    expect(env.mod.C_GetSessionInfo(session).slotID).toEqual(env.slot);
    expect(env.mod.C_GenerateRandom(session, 16)).toHaveLength(16);
    env.mod.C_DigestInit(session, { mechanism: CKM_SHA256 });
    expect(env.mod.C_Digest(session, Buffer.from('abc')).toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
