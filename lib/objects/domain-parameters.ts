// Domain parameters (CKO_DOMAIN_PARAMETERS): DSA/DH/X9.42 groups or EC curves stored on the
// token, to generate key pairs from.
import type { Ulong } from '../binding/raw-types';
import { Pkcs11Object } from './object';

export interface DomainParameterValues {
  keyType: string | Ulong;
  /** DSA, DH, X9.42 DH: p, q (absent for PKCS#3 DH), g. */
  prime?: Buffer;
  subprime?: Buffer;
  base?: Buffer;
  primeBits?: Ulong;
  /** EC: the curve (DER). */
  ecParams?: Buffer;
}

export class DomainParameters extends Pkcs11Object {
  /** The parameters, read in one call; only those the key type has are present. */
  async values(): Promise<DomainParameterValues> {
    const a = await this.getAttributes(['keyType', 'prime', 'subprime', 'base', 'primeBits', 'ecParams']);
    const out: DomainParameterValues = { keyType: a.keyType as string | Ulong };
    for (const k of ['prime', 'subprime', 'base', 'primeBits', 'ecParams'] as const) {
      const v = a[k];
      if (v !== undefined && !(v instanceof Buffer && v.length === 0)) (out as unknown as Record<string, unknown>)[k] = v;
    }
    return out;
  }

  /**
   * The public-key template fields a key pair generated from these parameters needs
   * (prime/subprime/base, or ecParams): pass it as `templates.publicKey`.
   */
  async publicKeyTemplate(): Promise<Record<string, Buffer>> {
    const v = await this.values();
    const t: Record<string, Buffer> = {};
    for (const k of ['prime', 'subprime', 'base', 'ecParams'] as const) if (v[k]) t[k] = v[k]!;
    return t;
  }
}
