// The raw layer's sync output functions, routed through the addon's written-length forms
// (src-native/call.h: binding.writtenLength). Same arguments, results and errors as the native
// methods they wrap: C_X(h, data[, out]) and C_XFinal(h[, out]) have the addon write into a buffer
// and answer the byte count, and the view (caller's buffer) or the copy (module-sized output,
// through a 1 KiB scratch buffer, the first size the addon itself offers) is made here. Making
// either in C++ means a call into JS or napi_create_buffer_copy (2,000 to 3,800 instructions by
// callgrind, bench/facade/callgrind.js).
// Only real Uint8Arrays take this path (a brand check that runs no user code: a Proxy or an
// object with getters could run JS here, outside the addon's argument reading, which guards
// against a module closed or finalized by such JS); anything else, and larger outputs, go to the
// native method unchanged, so its argument errors and its output sizing stay the only ones.
// The *Init functions keep their native form: their mechanism objects may have getters.
import binding from './native';
import type { PKCS11 } from './raw-types';

type Native = (this: PKCS11, ...args: unknown[]) => unknown;
type Proto = Record<string | symbol, Native>;

// The addon defines these methods configurable for this (src-native/call.h); once redefined they
// are as fixed as every other method of the class.
function define(proto: Proto, name: string, fn: Native): void {
  Object.defineProperty(proto, name, { value: fn, writable: false, enumerable: false, configurable: false });
}

const INSTALLED = Symbol.for('p11bridge: sync forms installed');
const CKR_BUFFER_TOO_SMALL = 0x150;
// As OutputGuess() in src-native/marshal/args.h: outputs of inputs up to 959 bytes are offered
// 1 KiB first.
const SCRATCH = 1024;
let scratch: Buffer | undefined;

// %TypedArray%.prototype[Symbol.toStringTag]: 'Uint8Array' for a Uint8Array or a Buffer, undefined
// for anything else, a Proxy included, without running user code.
const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype) as object, Symbol.toStringTag)!.get!;
const isBytes = (v: unknown): v is Uint8Array => typedArrayTag.call(v) === 'Uint8Array';
const byteLengthOf = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype) as object, 'byteLength')!.get!;

function isTooSmall(e: unknown): boolean {
  return Number((e as { rv?: unknown } | null)?.rv) === CKR_BUFFER_TOO_SMALL;
}

/** The copy of the first n bytes of the scratch buffer, as a new Buffer. */
function copyOut(from: Buffer, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  from.copy(b, 0, 0, n);
  return b;
}

const NO_DATA = Symbol('no data'); // the Final functions take no input

/** The caller's buffer as the native method answers it: itself when filled exactly, else a view. */
function written(out: Uint8Array, n: number): Uint8Array {
  return n === out.length ? out : out.subarray(0, n);
}

/**
 * Module-sized output through the scratch buffer: the written-length form `f` into it, then a copy.
 * On CKR_BUFFER_TOO_SMALL the native method sizes the output itself (the operation is still active).
 */
function viaScratch(self: PKCS11, f: Native, native: Native, hSession: unknown, data: unknown): unknown {
  const s = (scratch ??= Buffer.alloc(SCRATCH));
  let n: number;
  try {
    n = (data === NO_DATA ? f.call(self, hSession, s) : f.call(self, hSession, data, s)) as number;
  } catch (e) {
    if (!isTooSmall(e)) throw e;
    return data === NO_DATA ? native.call(self, hSession) : native.call(self, hSession, data);
  }
  return copyOut(s, n);
}

function dataOutForm(proto: Proto, name: string, form: symbol): void {
  const native = proto[name];
  define(proto, name, function (this: PKCS11, hSession: unknown, data: unknown, out?: unknown): unknown {
    const f = (this as unknown as Proto)[form];
    if (arguments.length === 3 && isBytes(out)) return written(out, f.call(this, hSession, data, out) as number);
    if ((out === undefined || out === null) && arguments.length <= 3 && isBytes(data) && (byteLengthOf.call(data) as number) + 64 < SCRATCH) {
      return viaScratch(this, f, native, hSession, data);
    }
    // eslint-disable-next-line prefer-rest-params -- passed through unchanged; a rest parameter would allocate on every call
    return native.apply(this, arguments as unknown as unknown[]);
  });
}

function finalOutForm(proto: Proto, name: string, form: symbol): void {
  const native = proto[name];
  define(proto, name, function (this: PKCS11, hSession: unknown, out?: unknown): unknown {
    const f = (this as unknown as Proto)[form];
    if (arguments.length === 2 && isBytes(out)) return written(out, f.call(this, hSession, out) as number);
    if ((out === undefined || out === null) && arguments.length >= 1 && arguments.length <= 2) return viaScratch(this, f, native, hSession, NO_DATA);
    // eslint-disable-next-line prefer-rest-params -- passed through unchanged; a rest parameter would allocate on every call
    return native.apply(this, arguments as unknown as unknown[]);
  });
}

/** Installs the routed forms on the raw class's prototype (once, from pkcs11.ts). @internal */
export function installSyncForms(prototype: object): void {
  const proto = prototype as Proto;
  // Once per addon instance: the class (and its prototype) belongs to the native addon, which a
  // process loads once, while this file may run again (a second copy of the package's JS, jest's
  // per-file module registry, require.cache cleared). A global symbol marks it done.
  if (Object.prototype.hasOwnProperty.call(proto, INSTALLED)) return;
  Object.defineProperty(proto, INSTALLED, { value: true });
  for (const [name, sym] of Object.entries(binding.writtenLength)) {
    if (name.endsWith('Final')) finalOutForm(proto, name, sym);
    else dataOutForm(proto, name, sym);
  }
}
