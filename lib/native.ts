// The only file that loads the compiled addon: prebuilds/<platform>-<arch>/ first (shipped in the
// package, so installs need no compiler and no install scripts), then build/ from node-gyp.
import * as path from 'node:path';
import nodeGypBuild = require('node-gyp-build');
import { ModuleLoadError, ModuleLoadErrorCode, Ulong, createPkcs11Error } from './errors/pkcs11-error';
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
    keys: string[];
    makeSessionInfo: (slotID: Ulong, state: Ulong, flags: Ulong, deviceError: Ulong) => SessionInfo;
    makeAttribute: (type: Ulong, status: AttributeStatus, value?: Buffer | AttributeResult[]) => AttributeResult;
    makeView: (buffer: Uint8Array, length: number) => Uint8Array;
  }): void;
  ulongSize: number;
  propertyKeys: string[];
  structLayout(fields: StructField[]): StructLayout;
  CK_UNAVAILABLE_INFORMATION: Ulong;
}

const root = path.join(__dirname, '..');
const binding = nodeGypBuild(root) as Binding;

/** The file the addon was loaded from (a prebuild, or build/Release after node-gyp). */
export const bindingPath: string = nodeGypBuild.resolve(root);

binding.configure({
  // Internalized copies (object keys are) of the property names native code reads and writes.
  keys: binding.propertyKeys.map((k) => Object.keys({ [k]: 0 })[0]),
  pkcs11Error: (rv, fn, detail) => createPkcs11Error(rv, fn, detail),
  loadError: (code, message, p, rv) => new ModuleLoadError(code as ModuleLoadErrorCode, message, p, rv),
  // Made here so instanceof works in the realm that loaded p11bridge (vm contexts, jest).
  // Result objects are built here, one call each, so V8 gives them one fixed shape; setting the
  // properties one by one from C++ cost about three times as much.
  makeSessionInfo: (slotID, state, flags, deviceError) => ({ slotID, state, flags, deviceError }),
  makeAttribute: (type, status, value) => (value === undefined ? { type, status } : { type, status, value }),
  makeView: (buffer, length) => buffer.subarray(0, length),
  plainError: (kind, message) =>
    kind === 'TypeError' ? new TypeError(message) : kind === 'RangeError' ? new RangeError(message) : new Error(message),
});

export default binding;
