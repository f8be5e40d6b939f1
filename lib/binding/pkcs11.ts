// The raw module class and the platform facts the native addon reports, for every layer above
// the binding (`raw.ts`, the `p11bridge/raw` entry, re-exports them to users).
import binding, { bindingPath } from './native';
import type { PKCS11 as RawModule, StructField } from './raw-types';
import type { StructLayout } from './native';
import { installSyncForms } from './sync-forms';

/** Loads and drives one PKCS#11 module: `new PKCS11()`, `load(path)`, `C_Initialize()` … */
export const PKCS11: new () => RawModule = binding.PKCS11;

// interfaces(): what C_GetInterfaceList reports; a 2.x module (no such function) offers none.
(PKCS11.prototype as RawModule).interfaces = function interfaces(this: RawModule) {
  return this.has('C_GetInterfaceList') ? this.C_GetInterfaceList() : [];
};
export type PKCS11 = RawModule;

// The sync *Init and output functions through the addon's cheaper forms (sync-forms.ts).
installSyncForms(PKCS11.prototype);

/** sizeof(CK_ULONG) on this platform: 8 on Linux/macOS x64, 4 on Windows. */
export const ULONG_SIZE: number = binding.ulongSize;

/** ~0 at this platform's CK_ULONG width (a bigint where that exceeds 2^53). */
export const CK_UNAVAILABLE_INFORMATION = binding.CK_UNAVAILABLE_INFORMATION;

/** Where the native addon was loaded from. */
export const BINDING_PATH: string = bindingPath;

/** The size, alignment and field offsets native code gives a struct description on this platform. */
export function structLayout(fields: StructField[]): StructLayout {
  return binding.structLayout(fields);
}
