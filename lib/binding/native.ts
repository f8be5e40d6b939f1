// The only file that loads the compiled addon: prebuilds/<platform>-<arch>/ first (shipped in the
// package, so installs need no compiler and no install scripts), then build/ from node-gyp.
import * as path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import nodeGypBuild = require('node-gyp-build');
import { ModuleLoadError, ModuleLoadErrorCode, Ulong } from '../errors/pkcs11-error';
import { createPkcs11Error } from '../errors/create';
import type { AttributeResult, AttributeStatus, PKCS11 as RawModule, SessionInfo, StructField } from './raw-types';

export interface StructLayout {
  size: number;
  align: number;
  offsets: number[];
}

interface Binding {
  PKCS11: new () => RawModule;
  configure(options: {
    pkcs11Error: (rv: Ulong, fn: string, detail?: string) => Error;
    loadError: (code: string, message: string, path: string, rv?: Ulong) => Error;
    plainError: (kind: 'TypeError' | 'RangeError' | 'Error', message: string) => Error;
    makeSessionInfo: (slotID: Ulong, state: Ulong, flags: Ulong, deviceError: Ulong) => SessionInfo;
    makeAttribute: (type: Ulong, status: AttributeStatus, value?: Buffer | AttributeResult[]) => AttributeResult;
    makeView: (buffer: Uint8Array, length: number) => Uint8Array;
  }): void;
  ulongSize: number;
  structLayout(fields: StructField[]): StructLayout;
  CK_UNAVAILABLE_INFORMATION: Ulong;
  /**
   * Function name → symbol of its written-length form on PKCS11.prototype: the sync call with a
   * caller's `out` buffer, answering the number of bytes written instead of a view (src-native/call.h).
   */
  writtenLength: Readonly<Record<string, symbol>>;
  /**
   * Function name → symbol of its flat-mechanism form (the *Init functions): the sync call with
   * the mechanism as two arguments, (session, type, parameter, …), instead of one object.
   */
  flatMechanism: Readonly<Record<string, symbol>>;
  /** Process exit: no async call starts any more, and calls inside a module are waited for. */
  prepareExit(): void;
  /** The call engine's counters (bench/ and tests). */
  engineStats(): EngineStats;
}

/** Counters of the call engine (src-native/engine/): the JS thread's wake-ups and a module's threads. */
export interface EngineStats {
  /** Completion wake-ups of this thread, calls they settled, and the largest batch. */
  wakeups: number;
  settled: number;
  maxBatch: number;
}

const root = path.join(__dirname, '..', '..');
const binding = nodeGypBuild(root) as Binding;

/** The file the addon was loaded from (a prebuild, or build/Release after node-gyp). */
export const bindingPath: string = nodeGypBuild.resolve(root);

binding.configure({
  pkcs11Error: (rv, fn, detail) => createPkcs11Error(rv, fn, detail),
  loadError: (code, message, p, rv) => new ModuleLoadError(code as ModuleLoadErrorCode, message, p, rv),
  // Made here so instanceof works in the realm that loaded p11bridge (vm contexts, jest).
  // Result objects are built here, one call each, so V8 gives them one fixed shape; setting the
  // properties one by one from C++ cost about three times as much.
  makeSessionInfo: (slotID, state, flags, deviceError) => ({ slotID, state, flags, deviceError }),
  makeAttribute: (type, status, value) => (value === undefined ? { type, status } : { type, status, value }),
  makeView: (buffer, length) => buffer.subarray(0, length),
  plainError: (kind, message) => (kind === 'TypeError' ? new TypeError(message) : kind === 'RangeError' ? new RangeError(message) : new Error(message)),
});

// process.exit() on the main thread goes straight to the C exit(): no environment clean-up runs, and
// the modules' exit handlers (OpenSSL's among them) would tear down state that calls on the addon's
// threads are still using. The 'exit' event comes first: calls in flight finish (blocking slot
// waits excepted, at most 10 s), none starts after. Workers are cleaned up by their environment.
if (isMainThread) process.once('exit', () => binding.prepareExit());

export default binding;
