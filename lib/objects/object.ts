// An object on the token, seen through one session: batched attribute reads (one C call for all
// names, unreadable ones reported instead of thrown), writes, copy, size and destroy.
import type { AttributeStatus, Ulong } from '../binding/raw-types';
import { attributeType, decodeAttribute, encodeTemplate, TemplateObject } from '../template/attributes';
import type { AttributeType } from '../template/attributes';
import type { Session } from '../session/session';
import { CK_UNAVAILABLE_INFORMATION } from '../binding/pkcs11';
import { knownKeyType, rememberKeyType } from '../mechanisms/key-compat';

/** Values read by getAttributes; names that could not be read are in `unreadable`. */
export type AttributeValues<K extends string> = { [P in K]?: AttributeType<P> } & {
  readonly unreadable: Readonly<Partial<Record<K, Exclude<AttributeStatus, 'ok'>>>>;
};

export class Pkcs11Object {
  /** @internal */
  constructor(
    readonly session: Session,
    readonly handle: Ulong,
  ) {}

  /** Reads all `names` in one C_GetAttributeValue (native code does the length/value passes). */
  async getAttributes<K extends string>(names: readonly K[]): Promise<AttributeValues<K>> {
    const types = names.map((n) => attributeType(n));
    const results = await this.session.run('getAttributes', (raw, h) => raw.C_GetAttributeValueAsync(h, this.handle, types));
    const values: Record<string, unknown> = {};
    const unreadable: Record<string, string> = {};
    results.forEach((r, i) => {
      if (r.status === 'ok') values[names[i]] = decodeAttribute(names[i], r);
      else unreadable[names[i]] = r.status;
    });
    Object.defineProperty(values, 'unreadable', { value: Object.freeze(unreadable), enumerable: false });
    return values as AttributeValues<K>;
  }

  async getAttribute<K extends string>(name: K): Promise<AttributeType<K> | undefined> {
    return (await this.getAttributes([name]))[name] as AttributeType<K> | undefined;
  }

  async setAttributes(template: TemplateObject): Promise<void> {
    const raw = encodeTemplate(template);
    return this.session.run('setAttributes', (m, h) => m.C_SetAttributeValueAsync(h, this.handle, raw));
  }

  /** A copy, with `changes` applied (C_CopyObject). */
  async copy(changes: TemplateObject = {}): Promise<Pkcs11Object> {
    const raw = encodeTemplate(changes);
    const h = await this.session.run('copy', (m, s) => m.C_CopyObjectAsync(s, this.handle, raw));
    // A copy has the original's class (CKA_CLASS cannot be changed), so it gets the same JS class.
    const copy = new (this.constructor as new (session: Session, handle: Ulong) => this)(this.session, h);
    rememberKeyType(copy, knownKeyType(this)); // CKA_KEY_TYPE cannot be changed either
    return copy;
  }

  /** Bytes the object takes on the token, or 'unavailable' when the module does not say. */
  async size(): Promise<Ulong | 'unavailable'> {
    const n = await this.session.run('size', (m, s) => m.C_GetObjectSizeAsync(s, this.handle));
    return n === CK_UNAVAILABLE_INFORMATION ? 'unavailable' : n;
  }

  destroy(): Promise<void> {
    return this.session.run('destroy', (m, s) => m.C_DestroyObjectAsync(s, this.handle));
  }
}
