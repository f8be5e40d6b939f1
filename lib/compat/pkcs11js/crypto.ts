// The cryptographic functions of pkcs11js's PKCS11 (digest, sign, verify, encrypt, decrypt, the
// recover and dual-function forms), added to the class of pkcs11.ts. They come in five shapes, so
// each is made by a factory from its name: the caller's output buffer is handed to the core,
// which writes into it; the result is the view of the written bytes, as pkcs11js's subarray. Sync
// calls use the core's written-length forms (binding.writtenLength) and slice here, in JS, which
// costs less than the core making the view (a call from C++ into JS); the Inits pass the
// mechanism's two fields, read here, to the core's flat-mechanism forms (binding.flatMechanism).
import binding from '../../binding/native';
import type { PKCS11 as CoreModule, Mechanism as CoreMechanism, Ulong } from '../../binding/raw-types';
import { addMethods } from '../../util/methods';
import { toCompatError } from './errors';
import { fromHandle } from './handles';
import { toMechanism } from './mechanism';
import { PKCS11 } from './pkcs11';
import { call, checkArity, checkBytes, verified, wantsCallback, withCallback, withPromise } from './support';
import type { Callback, Handle, Mechanism } from './types';

type CB<T> = Callback<T>;

declare module './pkcs11' {
  interface PKCS11 {
    C_EncryptInit(session: Handle, mechanism: Mechanism, key: Handle): void;
    C_Encrypt(session: Handle, inData: Buffer, outData: Buffer): Buffer;
    C_Encrypt(session: Handle, inData: Buffer, outData: Buffer, cb: CB<Buffer>): void;
    C_EncryptAsync(session: Handle, inData: Buffer, outData: Buffer): Promise<Buffer>;
    C_EncryptUpdate(session: Handle, inData: Buffer, outData: Buffer): Buffer;
    C_EncryptFinal(session: Handle, outData: Buffer): Buffer;
    C_EncryptFinal(session: Handle, outData: Buffer, cb: CB<Buffer>): void;
    C_EncryptFinalAsync(session: Handle, outData: Buffer): Promise<Buffer>;
    C_DecryptInit(session: Handle, mechanism: Mechanism, key: Handle): void;
    C_Decrypt(session: Handle, inData: Buffer, outData: Buffer): Buffer;
    C_Decrypt(session: Handle, inData: Buffer, outData: Buffer, cb: CB<Buffer>): void;
    C_DecryptAsync(session: Handle, inData: Buffer, outData: Buffer): Promise<Buffer>;
    C_DecryptUpdate(session: Handle, inData: Buffer, outData: Buffer): Buffer;
    C_DecryptFinal(session: Handle, outData: Buffer): Buffer;
    C_DecryptFinal(session: Handle, outData: Buffer, cb: CB<Buffer>): void;
    C_DecryptFinalAsync(session: Handle, outData: Buffer): Promise<Buffer>;
    C_DigestInit(session: Handle, mechanism: Mechanism): void;
    C_Digest(session: Handle, inData: Buffer, outData: Buffer): Buffer;
    C_Digest(session: Handle, inData: Buffer, outData: Buffer, cb: CB<Buffer>): void;
    C_DigestAsync(session: Handle, inData: Buffer, outData: Buffer): Promise<Buffer>;
    C_DigestUpdate(session: Handle, inData: Buffer): void;
    C_DigestFinal(session: Handle, outData: Buffer): Buffer;
    C_DigestFinal(session: Handle, outData: Buffer, cb: CB<Buffer>): void;
    C_DigestFinalAsync(session: Handle, outData: Buffer): Promise<Buffer>;
    C_DigestKey(session: Handle, key: Handle): void;
    C_SignInit(session: Handle, mechanism: Mechanism, key: Handle): void;
    C_Sign(session: Handle, inData: Buffer, outData: Buffer): Buffer;
    C_Sign(session: Handle, inData: Buffer, outData: Buffer, cb: CB<Buffer>): void;
    C_SignAsync(session: Handle, inData: Buffer, outData: Buffer): Promise<Buffer>;
    C_SignUpdate(session: Handle, inData: Buffer): void;
    C_SignFinal(session: Handle, outData: Buffer): Buffer;
    C_SignFinal(session: Handle, outData: Buffer, cb: CB<Buffer>): void;
    C_SignFinalAsync(session: Handle, outData: Buffer): Promise<Buffer>;
    C_SignRecoverInit(session: Handle, mechanism: Mechanism, key: Handle): void;
    C_SignRecover(session: Handle, inData: Buffer, outData: Buffer): Buffer;
    C_VerifyInit(session: Handle, mechanism: Mechanism, key: Handle): void;
    /** true; an invalid signature throws Pkcs11Error CKR_SIGNATURE_INVALID, as in pkcs11js. */
    C_Verify(session: Handle, inData: Buffer, signature: Buffer): boolean;
    C_Verify(session: Handle, inData: Buffer, signature: Buffer, cb: CB<boolean>): void;
    C_VerifyAsync(session: Handle, inData: Buffer, signature: Buffer): Promise<boolean>;
    C_VerifyUpdate(session: Handle, inData: Buffer): void;
    C_VerifyFinal(session: Handle, signature: Buffer): boolean;
    C_VerifyFinal(session: Handle, signature: Buffer, cb: CB<boolean>): void;
    C_VerifyFinalAsync(session: Handle, signature: Buffer): Promise<boolean>;
    C_VerifyRecoverInit(session: Handle, mechanism: Mechanism, key: Handle): void;
    C_VerifyRecover(session: Handle, signature: Buffer, outData: Buffer): Buffer;
    C_DigestEncryptUpdate(session: Handle, inData: Buffer, outData: Buffer): Buffer;
    C_DigestEncryptUpdate(session: Handle, inData: Buffer, outData: Buffer, cb: CB<Buffer>): void;
    C_DigestEncryptUpdateAsync(session: Handle, inData: Buffer, outData: Buffer): Promise<Buffer>;
    C_DecryptDigestUpdate(session: Handle, inData: Buffer, outData: Buffer): Buffer;
    C_DecryptDigestUpdate(session: Handle, inData: Buffer, outData: Buffer, cb: CB<Buffer>): void;
    C_DecryptDigestUpdateAsync(session: Handle, inData: Buffer, outData: Buffer): Promise<Buffer>;
    C_SignEncryptUpdate(session: Handle, inData: Buffer, outData: Buffer): Buffer;
    C_SignEncryptUpdate(session: Handle, inData: Buffer, outData: Buffer, cb: CB<Buffer>): void;
    C_SignEncryptUpdateAsync(session: Handle, inData: Buffer, outData: Buffer): Promise<Buffer>;
    C_DecryptVerifyUpdate(session: Handle, inData: Buffer, outData: Buffer): Buffer;
    C_DecryptVerifyUpdate(session: Handle, inData: Buffer, outData: Buffer, cb: CB<Buffer>): void;
    C_DecryptVerifyUpdateAsync(session: Handle, inData: Buffer, outData: Buffer): Promise<Buffer>;
  }
}

type InitName = 'C_EncryptInit' | 'C_DecryptInit' | 'C_SignInit' | 'C_VerifyInit' | 'C_SignRecoverInit' | 'C_VerifyRecoverInit';
type InOutName =
  | 'C_Digest'
  | 'C_Sign'
  | 'C_Encrypt'
  | 'C_Decrypt'
  | 'C_EncryptUpdate'
  | 'C_DecryptUpdate'
  | 'C_SignRecover'
  | 'C_VerifyRecover'
  | 'C_DigestEncryptUpdate'
  | 'C_DecryptDigestUpdate'
  | 'C_SignEncryptUpdate'
  | 'C_DecryptVerifyUpdate';
type OutName = 'C_DigestFinal' | 'C_SignFinal' | 'C_EncryptFinal' | 'C_DecryptFinal';
type UpdateName = 'C_DigestUpdate' | 'C_SignUpdate' | 'C_VerifyUpdate';
type Fn = (this: PKCS11, ...args: never[]) => unknown;

const core = (self: PKCS11): CoreModule => self.raw;

type WrittenForms = Record<symbol, (session: Ulong, ...buffers: Buffer[]) => number>;
type FlatForms = Record<symbol, (session: Ulong, type: Ulong, parameter: CoreMechanism['parameter'], key?: Ulong) => void>;
function form(table: Readonly<Record<string, symbol>>, name: string): symbol {
  const sym = table[name];
  if (typeof sym !== 'symbol') throw new Error(`p11bridge addon: no such form of ${name}`);
  return sym;
}
const written = (name: InOutName | OutName): symbol => form(binding.writtenLength, name);
const flat = (name: InitName | 'C_DigestInit'): symbol => form(binding.flatMechanism, name);

function init(name: InitName): Fn {
  const sync = flat(name);
  return function (this: PKCS11, session: Handle, mechanism: Mechanism, key: Handle): void {
    if (arguments.length !== 3) checkArity(arguments.length, 3);
    const s = fromHandle(session, 0);
    const m = toMechanism(mechanism, 1);
    const k = fromHandle(key, 2);
    try {
      (core(this) as unknown as FlatForms)[sync](s, m.mechanism, m.parameter, k);
    } catch (e) {
      throw toCompatError(e, name);
    }
  };
}

// (session, inData, outData[, cb]) → the written part of outData.
function inOut(name: InOutName, hasCallback: boolean): Fn {
  const asyncName = `${name}Async` as const;
  const sync = written(name);
  return function (this: PKCS11, session: Handle, inData: Buffer, outData: Buffer, cb?: CB<Buffer>): Buffer | void {
    const async = wantsCallback(arguments.length, 3, hasCallback);
    const s = fromHandle(session, 0);
    checkBytes(inData, 1);
    checkBytes(outData, 2);
    const c = core(this);
    if (async) return withCallback(cb, 3, name, () => c[asyncName](s, inData, outData));
    try {
      return outData.subarray(0, (c as unknown as WrittenForms)[sync](s, inData, outData));
    } catch (e) {
      throw toCompatError(e, name);
    }
  };
}

function inOutAsync(name: InOutName): Fn {
  const asyncName = `${name}Async` as const;
  return function (this: PKCS11, session: Handle, inData: Buffer, outData: Buffer): Promise<Buffer> {
    const n = arguments.length;
    return withPromise(name, () => {
      checkArity(n + 1, 4);
      const s = fromHandle(session, 0);
      checkBytes(inData, 1);
      checkBytes(outData, 2);
      return core(this)[asyncName](s, inData, outData);
    });
  };
}

// (session, outData[, cb]) → the written part of outData.
function out(name: OutName): Fn {
  const asyncName = `${name}Async` as const;
  const sync = written(name);
  return function (this: PKCS11, session: Handle, outData: Buffer, cb?: CB<Buffer>): Buffer | void {
    const async = wantsCallback(arguments.length, 2, true);
    const s = fromHandle(session, 0);
    checkBytes(outData, 1);
    const c = core(this);
    if (async) return withCallback(cb, 2, name, () => c[asyncName](s, outData));
    try {
      return outData.subarray(0, (c as unknown as WrittenForms)[sync](s, outData));
    } catch (e) {
      throw toCompatError(e, name);
    }
  };
}

function outAsync(name: OutName): Fn {
  const asyncName = `${name}Async` as const;
  return function (this: PKCS11, session: Handle, outData: Buffer): Promise<Buffer> {
    const n = arguments.length;
    return withPromise(name, () => {
      checkArity(n + 1, 3);
      const s = fromHandle(session, 0);
      checkBytes(outData, 1);
      return core(this)[asyncName](s, outData);
    });
  };
}

function update(name: UpdateName): Fn {
  return function (this: PKCS11, session: Handle, inData: Buffer): void {
    if (arguments.length !== 2) checkArity(arguments.length, 2);
    const s = fromHandle(session, 0);
    checkBytes(inData, 1);
    try {
      core(this)[name](s, inData);
    } catch (e) {
      throw toCompatError(e, name);
    }
  };
}

// pkcs11js names the native callback forms C_XCallback (exactly one more argument, a function);
// they are public on its objects, so they are here too.
function callbackForm(name: string, count: number): Fn {
  return function (this: PKCS11, ...args: unknown[]): void {
    checkArity(args.length, count);
    if (typeof args[count - 1] !== 'function') {
      throw new TypeError(`Argument ${count - 1} has wrong type. Should be a Function`);
    }
    (this as unknown as Record<string, (...a: unknown[]) => void>)[name](...args);
  };
}

const DIGEST_INIT = flat('C_DigestInit');
const methods: Record<string, Fn> = {
  C_DigestInit(this: PKCS11, session: Handle, mechanism: Mechanism): void {
    checkArity(arguments.length, 2);
    const s = fromHandle(session, 0);
    const m = toMechanism(mechanism, 1);
    const c = core(this) as unknown as FlatForms;
    call('C_DigestInit', () => c[DIGEST_INIT](s, m.mechanism, m.parameter));
  },
  C_DigestKey(this: PKCS11, session: Handle, key: Handle): void {
    checkArity(arguments.length, 2);
    const s = fromHandle(session, 0);
    const k = fromHandle(key, 1);
    call('C_DigestKey', () => core(this).C_DigestKey(s, k));
  },
  C_Verify(this: PKCS11, session: Handle, inData: Buffer, signature: Buffer, cb?: CB<boolean>): boolean | void {
    const async = wantsCallback(arguments.length, 3, true);
    const s = fromHandle(session, 0);
    checkBytes(inData, 1);
    checkBytes(signature, 2);
    const c = core(this);
    if (async) return withCallback(cb, 3, 'C_Verify', () => c.C_VerifyAsync(s, inData, signature).then((ok) => verified(ok, 'C_Verify')));
    return verified(
      call('C_Verify', () => c.C_Verify(s, inData, signature)),
      'C_Verify',
    );
  },
  C_VerifyAsync(this: PKCS11, session: Handle, inData: Buffer, signature: Buffer): Promise<boolean> {
    const n = arguments.length;
    return withPromise('C_Verify', () => {
      checkArity(n + 1, 4);
      const s = fromHandle(session, 0);
      checkBytes(inData, 1);
      checkBytes(signature, 2);
      return core(this)
        .C_VerifyAsync(s, inData, signature)
        .then((ok) => verified(ok, 'C_Verify'));
    });
  },
  C_VerifyFinal(this: PKCS11, session: Handle, signature: Buffer, cb?: CB<boolean>): boolean | void {
    const async = wantsCallback(arguments.length, 2, true);
    const s = fromHandle(session, 0);
    checkBytes(signature, 1);
    const c = core(this);
    if (async) return withCallback(cb, 2, 'C_VerifyFinal', () => c.C_VerifyFinalAsync(s, signature).then((ok) => verified(ok, 'C_VerifyFinal')));
    return verified(
      call('C_VerifyFinal', () => c.C_VerifyFinal(s, signature)),
      'C_VerifyFinal',
    );
  },
  C_VerifyFinalAsync(this: PKCS11, session: Handle, signature: Buffer): Promise<boolean> {
    const n = arguments.length;
    return withPromise('C_VerifyFinal', () => {
      checkArity(n + 1, 3);
      const s = fromHandle(session, 0);
      checkBytes(signature, 1);
      return core(this)
        .C_VerifyFinalAsync(s, signature)
        .then((ok) => verified(ok, 'C_VerifyFinal'));
    });
  },
};

for (const name of ['C_EncryptInit', 'C_DecryptInit', 'C_SignInit', 'C_VerifyInit', 'C_SignRecoverInit', 'C_VerifyRecoverInit'] as const) {
  methods[name] = init(name);
}
for (const name of ['C_Digest', 'C_Sign', 'C_Encrypt', 'C_Decrypt', 'C_DigestEncryptUpdate', 'C_DecryptDigestUpdate', 'C_SignEncryptUpdate', 'C_DecryptVerifyUpdate'] as const) {
  methods[name] = inOut(name, true);
  methods[`${name}Async`] = inOutAsync(name);
  methods[`${name}Callback`] = callbackForm(name, 4);
}
for (const name of ['C_EncryptUpdate', 'C_DecryptUpdate', 'C_SignRecover', 'C_VerifyRecover'] as const) {
  methods[name] = inOut(name, false);
}
for (const name of ['C_DigestFinal', 'C_SignFinal', 'C_EncryptFinal', 'C_DecryptFinal'] as const) {
  methods[name] = out(name);
  methods[`${name}Async`] = outAsync(name);
  methods[`${name}Callback`] = callbackForm(name, 3);
}
for (const name of ['C_DigestUpdate', 'C_SignUpdate', 'C_VerifyUpdate'] as const) methods[name] = update(name);
methods.C_VerifyCallback = callbackForm('C_Verify', 4);
methods.C_VerifyFinalCallback = callbackForm('C_VerifyFinal', 3);
methods.C_GenerateKeyCallback = callbackForm('C_GenerateKey', 4);
methods.C_GenerateKeyPairCallback = callbackForm('C_GenerateKeyPair', 5);
methods.C_DeriveKeyCallback = callbackForm('C_DeriveKey', 5);
methods.C_WrapKeyCallback = callbackForm('C_WrapKey', 6);
methods.C_UnwrapKeyCallback = callbackForm('C_UnwrapKey', 6);

addMethods(PKCS11.prototype, methods);
