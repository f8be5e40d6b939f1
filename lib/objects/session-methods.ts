// The object-making methods of Session: createObject(), object(), find(), findAll(), findByUri(),
// generateKeyPair(), generateKey(), generateDomainParameters(). They live with the objects they
// make: this file adds them to Session (declaration merging below), so session.ts, a layer down,
// imports no object class (docs/architecture.md). Loaded by the entry point (index.ts).
import * as C from '../constants/generated';
import type { Ulong } from '../raw-types';
import { Session, type CallOptions } from '../session';
import { matchesSlot, matchesToken, parse as parseUri, Pkcs11Uri, toTemplate as uriTemplate } from '../uri';
import { encodeTemplate, TemplateObject } from '../template/attributes';
import type { Pkcs11Object } from './object';
import { classNumber, objectFor, objectOfHandle } from './factory';
import { DomainParameters } from './domain-parameters';
import { PrivateKey, PublicKey, SecretKey } from './keys';
import { KeyPairSpec, planKeyPair, planSecretKey, SecretKeySpec } from './generate';
import { addMethods } from '../util/methods';

declare module '../session' {
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
    find(template?: TemplateObject, options?: { batchSize?: number }): AsyncGenerator<Pkcs11Object, void, undefined>;
    /**
     * Objects a PKCS#11 URI names (its object, id and type attributes), when its token attributes
     * match this session's token; [] otherwise. A PIN in the URI is not used: login stays yours.
     */
    findByUri(uri: string | Pkcs11Uri): Promise<Pkcs11Object[]>;
    /** All matching objects at once. */
    findAll(template?: TemplateObject): Promise<Pkcs11Object[]>;
    /**
     * Generates a key pair. Defaults: session objects, private key private + sensitive + sign (RSA
     * also decrypt), public key verify (RSA also encrypt); `templates` override them.
     */
    generateKeyPair(
      spec: KeyPairSpec,
      templates?: { publicKey?: TemplateObject; privateKey?: TemplateObject },
      options?: CallOptions,
    ): Promise<{ publicKey: PublicKey; privateKey: PrivateKey }>;
    /** Generates a secret key (AES, generic secret for HMAC, DES3); `template` overrides the defaults. */
    generateKey(spec: SecretKeySpec, template?: TemplateObject, options?: CallOptions): Promise<SecretKey>;
    /**
     * Generates DSA or PKCS#3 DH domain parameters (p, q, g) as a token object; key pairs can then
     * be generated from `params.publicKeyTemplate()`.
     */
    generateDomainParameters(
      spec: { name: 'DSA' | 'DH'; primeBits: number },
      template?: TemplateObject,
      options?: CallOptions,
    ): Promise<DomainParameters>;
  }
}

const methods = {
  async createObject(this: Session, template: TemplateObject): Promise<Pkcs11Object> {
    const raw = encodeTemplate(template);
    const h = await this.run('createObject', (m, s) => m.C_CreateObjectAsync(s, raw));
    return objectFor(this, h, template.class);
  },

  object(this: Session, handle: Ulong): Promise<Pkcs11Object> {
    return objectOfHandle(this, handle);
  },

  async *find(this: Session, template: TemplateObject = {}, options: { batchSize?: number } = {}): AsyncGenerator<Pkcs11Object, void, undefined> {
    const batch = options.batchSize ?? 64;
    if (!Number.isSafeInteger(batch) || batch < 1) throw new RangeError("find: option 'batchSize' must be a positive integer");
    const raw = encodeTemplate(template);
    const cls = classNumber(template.class);
    await this.run('find', (m, s) => m.C_FindObjectsInitAsync(s, raw));
    try {
      for (;;) {
        const handles = await this.run('find', (m, s) => m.C_FindObjectsAsync(s, batch));
        for (const h of handles) yield cls !== undefined ? objectFor(this, h, cls) : await objectOfHandle(this, h);
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


  async findAll(this: Session, template: TemplateObject = {}): Promise<Pkcs11Object[]> {
    const out: Pkcs11Object[] = [];
    for await (const o of this.find(template)) out.push(o);
    return out;
  },

  async generateKeyPair(
    this: Session,
    spec: KeyPairSpec,
    templates: { publicKey?: TemplateObject; privateKey?: TemplateObject } = {},
    options: CallOptions = {},
  ): Promise<{ publicKey: PublicKey; privateKey: PrivateKey }> {
    if (spec && (spec.name === 'DSA' || spec.name === 'DH') && spec.parameters instanceof DomainParameters) {
      spec = { name: spec.name, parameters: await spec.parameters.publicKeyTemplate() as { prime: Buffer; base: Buffer } };
    }
    const plan = planKeyPair(spec);
    const pub = encodeTemplate({ ...plan.publicKey, ...templates.publicKey }, 'publicKey');
    const priv = encodeTemplate({ ...plan.privateKey, ...templates.privateKey }, 'privateKey');
    const kp = await this.run('generateKeyPair', (m, s) => m.C_GenerateKeyPairAsync(s, plan.mechanism, pub, priv), options.signal);
    return { publicKey: new PublicKey(this, kp.publicKey), privateKey: new PrivateKey(this, kp.privateKey) };
  },

  async generateKey(this: Session, spec: SecretKeySpec, template: TemplateObject = {}, options: CallOptions = {}): Promise<SecretKey> {
    // NSS reads PBKDF2 parameters in the pre-2.40 layout (and crashes on the current one): pick it
    // by manufacturer unless the caller said which.
    const legacyUnset = spec !== null && typeof spec === 'object' && spec.name === 'PBKDF2' && spec.legacyParams === undefined;
    const plan = planSecretKey(spec, legacyUnset ? { manufacturerID: (await this.slot.module.info()).manufacturerID } : {});
    const raw = encodeTemplate({ ...plan.template, ...template });
    const h = await this.run('generateKey', (m, s) => m.C_GenerateKeyAsync(s, plan.mechanism, raw), options.signal);
    return new SecretKey(this, h);
  },

  async generateDomainParameters(
    this: Session,
    spec: { name: 'DSA' | 'DH'; primeBits: number },
    template: TemplateObject = {},
    options: CallOptions = {},
  ): Promise<DomainParameters> {
    if (spec === null || typeof spec !== 'object') throw new TypeError("generateDomainParameters: argument 'spec' must be an object");
    const mech = spec.name === 'DSA' ? C.CKM_DSA_PARAMETER_GEN : spec.name === 'DH' ? C.CKM_DH_PKCS_PARAMETER_GEN : undefined;
    if (mech === undefined) throw new RangeError("generateDomainParameters: spec.name must be 'DSA' or 'DH'");
    if (!Number.isSafeInteger(spec.primeBits) || spec.primeBits <= 0) throw new RangeError("generateDomainParameters: spec.primeBits must be a positive integer");
    const raw = encodeTemplate({ class: 'domainParameters', keyType: spec.name === 'DSA' ? 'dsa' : 'dh', token: false, primeBits: spec.primeBits, ...template });
    const h = await this.run('generateDomainParameters', (m, s) => m.C_GenerateKeyAsync(s, { mechanism: mech }, raw), options.signal);
    return new DomainParameters(this, h);
  },
};

addMethods(Session.prototype, methods);
