// Argument checks with pkcs11js's TypeError texts, and the callback and Promise plumbing of its
// asynchronous forms, for the facade's methods (index.ts).
import { CKR_SIGNATURE_INVALID } from '../../constants/generated';
import { rvError, toCompatError } from './errors';
import { bufferTypeError } from './handles';
import type { Callback } from './types';

/** pkcs11js's text for a wrong argument count (it checks every count exactly). @internal */
export function arityError(expected: number, received: number): TypeError {
  return new TypeError(`Parameters are required. Expected ${expected} arguments, but received ${received}.`);
}

/**
 * Whether a call with `n` arguments takes the callback form: `expected` arguments call the
 * synchronous form, one more the callback form; any other count is pkcs11js's TypeError.
 * @internal
 */
export function wantsCallback(n: number, expected: number, hasCallback: boolean): boolean {
  if (n === expected) return false;
  if (hasCallback && n === expected + 1) return true;
  throw arityError(hasCallback && n > expected ? expected + 1 : expected, n);
}

/** @internal */
export function checkArity(n: number, expected: number): void {
  if (n !== expected) throw arityError(expected, n);
}

/** Input or output bytes (pkcs11js takes any ArrayBufferView, as napi_is_buffer does). @internal */
export function checkBytes(v: unknown, index: number): asserts v is Buffer {
  if (!ArrayBuffer.isView(v)) throw bufferTypeError(index);
}

/**
 * A template as pkcs11js takes it: objects with a number `type` and a `value` that is a number,
 * boolean, string, bytes, null or undefined (and Date, which pkcs11js converts for
 * CKA_START_DATE/CKA_END_DATE and the core encodes as CK_DATE everywhere).
 * @internal
 */
export function checkTemplate(v: unknown, index: number): void {
  if (!Array.isArray(v)) throw new TypeError(`Argument ${index} has wrong type. Should be an Array`);
  for (let i = 0; i < v.length; i++) {
    const a: unknown = v[i];
    if (typeof a !== 'object' || a === null) throw new TypeError(`Element ${i} has wrong type. Should be an Object`);
    const { type, value } = a as { type?: unknown; value?: unknown };
    if (typeof type !== 'number') throw new TypeError(`Element ${i} has wrong type. Property 'type' should be a Number`);
    const t = typeof value;
    if (t !== 'number' && t !== 'boolean' && t !== 'string' && value !== undefined && value !== null && !ArrayBuffer.isView(value) && !(value instanceof Date)) {
      throw new TypeError(`Element ${i} has wrong type. Property 'value' should be a Number, Boolean, String or Buffer`);
    }
  }
}

/** @internal */
export function checkString(v: unknown, index: number): void {
  if (typeof v !== 'string') throw new TypeError(`Argument ${index} has wrong type. Should be a String`);
}

/** @internal */
export function checkNumber(v: unknown, index: number): asserts v is number {
  if (typeof v !== 'number') throw new TypeError(`Argument ${index} has wrong type. Should be a Number`);
}

// A callback that throws behaves as under pkcs11js (called from native code): the exception is
// an uncaught exception of the process, not a rejected promise nobody sees.
function deliver<T>(cb: Callback<T>, err: Error | null, result: T | null): void {
  try {
    cb(err, result as T);
  } catch (e) {
    process.nextTick(() => {
      throw e;
    });
  }
}

/**
 * The callback form: `start()` begins the core's asynchronous call (a TypeError from the
 * arguments is thrown synchronously, as pkcs11js does); `cb(null, result)` or `cb(error, null)`.
 * @internal
 */
export function withCallback<T>(cb: unknown, index: number, method: string, start: () => Promise<T>): void {
  if (typeof cb !== 'function') throw new TypeError(`Argument ${index} has wrong type. Should be a Function`);
  let p: Promise<T>;
  try {
    p = start();
  } catch (e) {
    throw toCompatError(e, method);
  }
  p.then(
    (r) => deliver(cb as Callback<T>, null, r),
    (e: unknown) => deliver(cb as Callback<T>, toCompatError(e, method), null),
  );
}

/**
 * The Promise form (pkcs11js's `util.promisify` of the callback form): every failure, argument
 * errors included, is a rejection.
 * @internal
 */
export function withPromise<T>(method: string, start: () => Promise<T>): Promise<T> {
  let p: Promise<T>;
  try {
    p = start();
  } catch (e) {
    return Promise.reject(toCompatError(e, method));
  }
  return p.catch((e: unknown) => {
    throw toCompatError(e, method);
  });
}

/** Core calls made by a compat method: the core's errors become pkcs11js's. @internal */
export function call<T>(method: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw toCompatError(e, method);
  }
}

/** C_Verify/C_VerifyFinal: pkcs11js throws CKR_SIGNATURE_INVALID where the core returns false. @internal */
export function verified(ok: boolean, method: string): boolean {
  if (!ok) throw rvError(CKR_SIGNATURE_INVALID, method);
  return true;
}
