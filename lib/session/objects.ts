// Object methods of Session (rust-cryptoki's object_management.rs): createObject(), object(),
// find(), findAll(), findByUri(). Installed on Session by session/index.ts; this file knows the
// class only as a type, as sharp's operation files do (docs/architecture.md).
import type { Ulong } from '../binding/raw-types';
import type { Session } from './session';
import { matchesSlot, matchesToken, parse as parseUri, Pkcs11Uri, toTemplate as uriTemplate } from '../locate/uri';
import { encodeTemplate, TemplateObject } from '../template/attributes';
import type { Pkcs11Object } from '../objects/object';
import { classNumber, objectFor, objectOfHandle } from '../objects/factory';
import type { Certificate } from '../objects/certificate';
import type { Data } from '../objects/data';
import type { DomainParameters } from '../objects/domain-parameters';
import type { PrivateKey, PublicKey, SecretKey } from '../objects/keys';
import { rememberKeyType } from '../mechanisms/key-compat';
import { CKR_OPERATION_ACTIVE } from '../constants/generated';

/** The class of object a CKA_CLASS name comes as (Pkcs11Object for others and for numbers). */
export type ObjectOfClass<K> = K extends 'privateKey'
  ? PrivateKey
  : K extends 'publicKey'
    ? PublicKey
    : K extends 'secretKey'
      ? SecretKey
      : K extends 'certificate'
        ? Certificate
        : K extends 'data'
          ? Data
          : K extends 'domainParameters'
            ? DomainParameters
            : Pkcs11Object;

/**
 * What find() and findAll() hand back for a template: typed by its `class` when the template
 * literal says it ({ class: 'privateKey' } → PrivateKey), else Pkcs11Object.
 */
export type ObjectOfTemplate<T> = T extends { readonly class: infer K } ? ObjectOfClass<K> : Pkcs11Object;

declare module './session' {
  interface Session {
    /** Creates an object from a template object ({ class: 'data', label, value, token … }). */
    createObject(template: TemplateObject): Promise<Pkcs11Object>;
    /** Wraps a handle found elsewhere (a raw call, a URI) in its class (reads CKA_CLASS once). */
    object(handle: Ulong): Promise<Pkcs11Object>;
    /**
     * Objects matching `template`, fetched `batchSize` handles per C_FindObjects. The session is
     * held only during each C call: attribute reads and writes on found objects work between
     * batches, but many modules (SoftHSM) allow one active operation per session: a sign or
     * digest on this session inside the loop fails with OperationActiveError there. Use another
     * session (or findAll()) for those. C_FindObjectsFinal always runs, also when the loop breaks
     * or throws. Objects come typed by class (PrivateKey, Certificate …): from the template's
     * `class` when it has one, else one CKA_CLASS read each.
     */
    find<const T extends TemplateObject = TemplateObject>(template?: T, options?: { batchSize?: number }): AsyncGenerator<ObjectOfTemplate<T>, void, undefined>;
    /**
     * Objects a PKCS#11 URI names (its object, id and type attributes), when its token attributes
     * match this session's token; [] otherwise. A PIN in the URI is not used: login stays yours.
     */
    findByUri(uri: string | Pkcs11Uri): Promise<Pkcs11Object[]>;
    /** All matching objects at once, typed as find() types them. */
    findAll<const T extends TemplateObject = TemplateObject>(template?: T): Promise<Array<ObjectOfTemplate<T>>>;
  }
}

export const objectMethods = {
  async createObject(this: Session, template: TemplateObject): Promise<Pkcs11Object> {
    const raw = encodeTemplate(template);
    const h = await this.run('createObject', (m, s) => m.C_CreateObjectAsync(s, raw));
    const o = objectFor(this, h, template.class);
    rememberKeyType(o, template.keyType); // a key's type, known from here on (key-compat.ts)
    return o;
  },

  object(this: Session, handle: Ulong): Promise<Pkcs11Object> {
    return objectOfHandle(this, handle);
  },

  async *find<const T extends TemplateObject = TemplateObject>(
    this: Session,
    template: T = {} as T,
    options: { batchSize?: number } = {},
  ): AsyncGenerator<ObjectOfTemplate<T>, void, undefined> {
    const batch = options.batchSize ?? 64;
    if (!Number.isSafeInteger(batch) || batch < 1) throw new RangeError("find: option 'batchSize' must be a positive integer");
    const raw = encodeTemplate(template);
    const cls = classNumber(template.class);
    try {
      await this.run('find', (m, s) => m.C_FindObjectsInitAsync(s, raw));
    } catch (e) {
      // A module may fail the Init after it started the search (SoftHSM answering
      // CKR_GENERAL_ERROR while another session's C_Login rewrites the token file, seen in
      // pool-recovery.test.ts as CKR_OPERATION_ACTIVE on the next find of that session): end it,
      // quietly, so the session stays usable. Not after CKR_OPERATION_ACTIVE: that search is
      // someone else's.
      if (this.isOpen && (e as { rv?: unknown }).rv !== CKR_OPERATION_ACTIVE) {
        await this.run('find', (m, s) => m.C_FindObjectsFinalAsync(s)).catch(() => undefined);
      }
      throw e;
    }
    try {
      for (;;) {
        const handles = await this.run('find', (m, s) => m.C_FindObjectsAsync(s, batch));
        for (const h of handles) {
          const o = cls !== undefined ? objectFor(this, h, cls) : await objectOfHandle(this, h);
          // A template that names the key type tells lib/mechanisms/key-compat.ts what it is.
          if (template.keyType !== undefined) rememberKeyType(o, template.keyType);
          yield o as ObjectOfTemplate<T>;
        }
        if (handles.length < batch) return;
      }
    } finally {
      if (this.isOpen) await this.run('find', (m, s) => m.C_FindObjectsFinalAsync(s));
    }
  },

  async findByUri(this: Session, uri: string | Pkcs11Uri): Promise<Pkcs11Object[]> {
    const u = typeof uri === 'string' ? parseUri(uri) : uri;
    if (!matchesToken(u, await this.slot.tokenInfo()) || !matchesSlot(u, await this.slot.info(), this.slot.id)) return [];
    return this.findAll(uriTemplate(u));
  },

  async findAll<const T extends TemplateObject = TemplateObject>(this: Session, template: T = {} as T): Promise<Array<ObjectOfTemplate<T>>> {
    const out: Array<ObjectOfTemplate<T>> = [];
    for await (const o of this.find(template)) out.push(o);
    return out;
  },
};
