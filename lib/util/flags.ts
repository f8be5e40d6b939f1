// CK_FLAGS as named booleans.
import type { Ulong } from '../binding/raw-types';

export type FlagTable<K extends string> = Readonly<Record<K, number>>;

export function decodeFlags<K extends string>(flags: Ulong, table: FlagTable<K>): Record<K, boolean> {
  const v = BigInt(flags);
  const out = {} as Record<K, boolean>;
  for (const key of Object.keys(table) as K[]) out[key] = (v & BigInt(table[key])) !== 0n;
  return out;
}
