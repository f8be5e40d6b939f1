// Vendor CKR tables: a module's codes at CKR_VENDOR_DEFINED + n get the vendor's names. A table
// is chosen by the module's manufacturer ID (C_GetInfo) or explicitly, and more can be registered.
import { VendorDefinedError } from './generated';
import type { Ulong } from './pkcs11-error';

export interface VendorErrorTable {
  /** Short name used to pick the table explicitly, e.g. 'rutoken'. */
  name: string;
  /** Matched against C_GetInfo's manufacturerID to choose the table automatically. */
  manufacturer?: RegExp;
  /** Offset from CKR_VENDOR_DEFINED (0x80000000) → name. */
  codes: Readonly<Record<number, string>>;
}

/**
 * Aktiv Rutoken (rtPKCS11ecp): CKR_VENDOR_DEFINED + 1 … + 11, as Aktiv-Soft publishes them
 * (RtPkcs11Constants.java in github.com/AktivCo/pkcs11jna, "derived from rtpkcs11t.h"). The other
 * vendors of docs/vendors.md (Luna, SafeNet, CloudHSM, Utimaco, nShield, YubiHSM 2) have no table:
 * no public list of their vendor codes was found.
 */
export const RUTOKEN_ERRORS: VendorErrorTable = {
  name: 'rutoken',
  manufacturer: /^Aktiv\b/i,
  codes: {
    1: 'CKR_CORRUPTED_MAPFILE',
    2: 'CKR_WRONG_VERSION_FIELD',
    3: 'CKR_WRONG_PKCS1_ENCODING',
    4: 'CKR_RTPKCS11_DATA_CORRUPTED',
    5: 'CKR_RTPKCS11_RSF_DATA_CORRUPTED',
    6: 'CKR_SM_PASSWORD_INVALID',
    7: 'CKR_LICENSE_READ_ONLY',
    8: 'CKR_VENDOR_EMITENT_KEY_BLOCKED',
    9: 'CKR_CERT_CHAIN_NOT_VERIFIED',
    10: 'CKR_INAPPROPRIATE_PIN',
    11: 'CKR_PIN_IN_HISTORY',
  },
};

const tables: VendorErrorTable[] = [RUTOKEN_ERRORS];

/** Adds a vendor table (later registrations win over earlier ones with the same name). */
export function registerVendorErrors(table: VendorErrorTable): void {
  const i = tables.findIndex((t) => t.name === table.name);
  if (i >= 0) tables.splice(i, 1);
  tables.unshift(table);
}

export function vendorErrorTable(name: string): VendorErrorTable | undefined {
  return tables.find((t) => t.name === name);
}

export function vendorErrorTableFor(manufacturerID: string): VendorErrorTable | undefined {
  return tables.find((t) => t.manufacturer?.test(manufacturerID));
}

/** A vendor code named by a vendor table; `vendor` says whose. */
export class VendorPkcs11Error extends VendorDefinedError {
  readonly vendor: string;
  constructor(rv: Ulong, fn: string, detail: string | undefined, vendor: string, name: string) {
    super(rv, fn, detail);
    this.vendor = vendor;
    Object.defineProperty(this, 'rvName', { value: name, enumerable: true });
    this.message = `${fn} failed: ${name} (0x${rv.toString(16).toUpperCase()})${detail ? ': ' + detail : ''}`;
  }
}

/** The error with the table's name for its code, or the error itself when the table has none. */
export function applyVendorErrors(e: unknown, table: VendorErrorTable | undefined): unknown {
  if (!table || !(e instanceof VendorDefinedError) || e instanceof VendorPkcs11Error) return e;
  const offset = Number(BigInt(e.rv) - 0x80000000n);
  const name = table.codes[offset];
  if (!name) return e;
  const mapped = new VendorPkcs11Error(e.rv, e.function, e.detail, table.name, name);
  mapped.stack = (e.stack ?? '').replace(e.message, mapped.message);
  return mapped;
}
