// Attribute value codecs: JS value ⇄ the bytes a module reads and writes.
import binding from '../binding/native';
import type { Attribute, AttributeResult, AttributeValue, Ulong } from '../binding/raw-types';

export interface Codec<T> {
  /** The raw template value (its JS type picks the native encoding). */
  encode(v: T): AttributeValue;
  decode(b: Buffer, nested?: AttributeResult[]): T;
}

function readUlong(b: Buffer, offset = 0): Ulong {
  const v = binding.ulongSize === 8 ? b.readBigUInt64LE(offset) : BigInt(b.readUInt32LE(offset));
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

export const bool: Codec<boolean> = {
  encode: (v) => {
    if (typeof v !== 'boolean') throw new TypeError(`expected a boolean, got ${typeof v}`);
    return v;
  },
  decode: (b) => b.length > 0 && b[0] !== 0,
};

export const ulong: Codec<Ulong> = {
  encode: (v) => v,
  decode: (b) => (b.length >= binding.ulongSize ? readUlong(b) : 0),
};

export const bytes: Codec<Buffer> = {
  encode: (v) => v,
  decode: (b) => b,
};

export const utf8: Codec<string> = {
  encode: (v) => {
    if (typeof v !== 'string') throw new TypeError(`expected a string, got ${typeof v}`);
    return v;
  },
  decode: (b) => b.toString('utf8'),
};

/** CK_DATE: a Date (UTC midnight) or null for an empty date. */
export const date: Codec<Date | null> = {
  encode: (v) => (v === null ? Buffer.alloc(0) : v),
  decode: (b) => {
    const m = /^(\d{4})(\d{2})(\d{2})$/.exec(b.toString('latin1'));
    return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])) : null;
  },
};

export const ulongArray: Codec<Ulong[]> = {
  encode: (v) => v,
  decode: (b) => {
    const out: Ulong[] = [];
    for (let o = 0; o + binding.ulongSize <= b.length; o += binding.ulongSize) out.push(readUlong(b, o));
    return out;
  },
};

/** An enumeration (CKO_, CKK_, CKC_ …) as camelCase names; unknown values stay numbers. */
export function enumeration(table: Readonly<Record<string, number>>): Codec<string | Ulong> {
  const byValue = new Map<number, string>();
  for (const [k, v] of Object.entries(table)) if (!byValue.has(v)) byValue.set(v, k);
  return {
    encode: (v) => {
      if (typeof v !== 'string') return v;
      const n = table[v];
      if (n === undefined) throw new RangeError(`unknown name '${v}'`);
      return n;
    },
    decode: (b) => {
      const v = readUlong(b);
      return (typeof v === 'number' && byValue.get(v)) || v;
    },
  };
}

/** CONSTANT_NAME (minus its prefix) → camelCase: CKO_PRIVATE_KEY → privateKey. */
export function camelNames(constants: Record<string, unknown>, prefix: string, skip: RegExp = /VENDOR_DEFINED$/): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(constants)) {
    if (!k.startsWith(prefix) || typeof v !== 'number' || skip.test(k)) continue;
    const camel = k
      .slice(prefix.length)
      .toLowerCase()
      .replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    if (!(camel in out)) out[camel] = v;
  }
  return out;
}

export type { Attribute };
