// The error for a module's return value. Its own file, above both pkcs11-error.ts (the base class)
// and generated.ts (a class per code, which extend the base), so neither imports the other back.
import { Pkcs11Error, type Ulong } from './pkcs11-error';
import { ERROR_CLASSES, VendorDefinedError } from './generated';

/** The generated class for the code (CKR_PIN_INCORRECT → PinIncorrectError), else Pkcs11Error. */
export function createPkcs11Error(rv: Ulong, fn: string, detail?: string): Pkcs11Error {
  const cls = typeof rv === 'number' ? ERROR_CLASSES.get(rv) : undefined;
  if (cls) return new cls(rv, fn, detail);
  // Every vendor code (CKR_VENDOR_DEFINED + n) shares one class; rvName tells them apart.
  if (typeof rv === 'number' ? rv >= 0x80000000 : rv >= 0x80000000n) return new VendorDefinedError(rv, fn, detail);
  return new Pkcs11Error(rv, fn, detail);
}
