// The raw layer's sync *Init and output functions, routed through the addon's cheaper forms
// (src-native/call.h: binding.flatMechanism, binding.writtenLength). Same arguments, results and
// errors as the native methods they wrap; what changes is who does the object work:
// - C_XInit(h, mechanism, key): the mechanism's two fields are read here, in JIT code, and passed
//   as two arguments; reading them from C++ is two property lookups through N-API (about 2,400
//   instructions by callgrind, bench/facade/callgrind.js).
// - C_X(h, data[, out]) and C_XFinal(h[, out]): the addon writes into a buffer and answers the byte
//   count; the view (caller's buffer) or the copy (module-sized output, through a 1 KiB scratch
//   buffer, the first size the addon itself offers) is made here. Making either in C++ means a
//   call into JS or napi_create_buffer_copy (2,000 to 3,800 instructions).
// Anything unusual (not an object, not a Uint8Array, a larger output) goes to the native method
// unchanged, so its argument errors and its output sizing stay the only ones.
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

function isTooSmall(e: unknown): boolean {
  return Number((e as { rv?: unknown } | null)?.rv) === CKR_BUFFER_TOO_SMALL;
}

/** The copy of the first n bytes of the scratch buffer, as a new Buffer. */
function copyOut(from: Buffer, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  from.copy(b, 0, 0, n);
  return b;
}

function initForm(proto: Proto, name: string, flat: symbol): void {
  const native = proto[name];
  define(proto, name, function (this: PKCS11, hSession: unknown, mechanism: unknown, hKey?: unknown): unknown {
    if (typeof mechanism !== 'object' || mechanism === null || arguments.length !== (name === 'C_DigestInit' ? 2 : 3)) {
      // eslint-disable-next-line prefer-rest-params -- passed through unchanged; a rest parameter would allocate on every call
      return native.apply(this, arguments as unknown as unknown[]);
    }
    const m = mechanism as { mechanism?: unknown; parameter?: unknown };
    const f = (this as unknown as Proto)[flat];
    return name === 'C_DigestInit' ? f.call(this, hSession, m.mechanism, m.parameter) : f.call(this, hSession, m.mechanism, m.parameter, hKey);
  });
}

function dataOutForm(proto: Proto, name: string, written: symbol): void {
  const native = proto[name];
  define(proto, name, function (this: PKCS11, hSession: unknown, data: unknown, out?: unknown): unknown {
    const f = (this as unknown as Proto)[written];
    if (out instanceof Uint8Array && arguments.length === 3) {
      const n = f.call(this, hSession, data, out) as number;
      return n === out.length ? out : out.subarray(0, n);
    }
    if ((out === undefined || out === null) && arguments.length <= 3 && data instanceof Uint8Array && data.byteLength + 64 < SCRATCH) {
      const s = (scratch ??= Buffer.alloc(SCRATCH));
      let n: number;
      try {
        n = f.call(this, hSession, data, s) as number;
      } catch (e) {
        if (!isTooSmall(e)) throw e;
        return native.call(this, hSession, data); // sizes the output itself (the operation is still active)
      }
      return copyOut(s, n);
    }
    // eslint-disable-next-line prefer-rest-params -- passed through unchanged; a rest parameter would allocate on every call
    return native.apply(this, arguments as unknown as unknown[]);
  });
}

function finalOutForm(proto: Proto, name: string, written: symbol): void {
  const native = proto[name];
  define(proto, name, function (this: PKCS11, hSession: unknown, out?: unknown): unknown {
    const f = (this as unknown as Proto)[written];
    if (out instanceof Uint8Array && arguments.length === 2) {
      const n = f.call(this, hSession, out) as number;
      return n === out.length ? out : out.subarray(0, n);
    }
    if ((out === undefined || out === null) && arguments.length >= 1 && arguments.length <= 2) {
      const s = (scratch ??= Buffer.alloc(SCRATCH));
      let n: number;
      try {
        n = f.call(this, hSession, s) as number;
      } catch (e) {
        if (!isTooSmall(e)) throw e;
        return native.call(this, hSession);
      }
      return copyOut(s, n);
    }
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
  for (const [name, sym] of Object.entries(binding.flatMechanism)) initForm(proto, name, sym);
  for (const [name, sym] of Object.entries(binding.writtenLength)) {
    if (name.endsWith('Final')) finalOutForm(proto, name, sym);
    else dataOutForm(proto, name, sym);
  }
}
