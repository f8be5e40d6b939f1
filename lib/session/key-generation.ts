// Key generation methods of Session (rust-cryptoki's key_management.rs): generateKeyPair(),
// generateKey(), generateDomainParameters(). Installed by session/index.ts; the class is a type here.
import * as C from '../constants/generated';
import type { CallOptions, Session } from './session';
import { encodeTemplate, TemplateObject } from '../template/attributes';
import { DomainParameters } from '../objects/domain-parameters';
import { PrivateKey, PublicKey, SecretKey } from '../objects/keys';
import { KeyPairSpec, planKeyPair, planSecretKey, SecretKeySpec } from '../objects/generate';
import { rememberMadeKeyType } from '../mechanisms/key-compat';

declare module './session' {
  interface Session {
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
    generateDomainParameters(spec: { name: 'DSA' | 'DH'; primeBits: number }, template?: TemplateObject, options?: CallOptions): Promise<DomainParameters>;
  }
}

export const keyGenerationMethods = {
  async generateKeyPair(
    this: Session,
    spec: KeyPairSpec,
    templates: { publicKey?: TemplateObject; privateKey?: TemplateObject } = {},
    options: CallOptions = {},
  ): Promise<{ publicKey: PublicKey; privateKey: PrivateKey }> {
    if (spec && (spec.name === 'DSA' || spec.name === 'DH') && spec.parameters instanceof DomainParameters) {
      spec = { name: spec.name, parameters: (await spec.parameters.publicKeyTemplate()) as { prime: Buffer; base: Buffer } };
    }
    const plan = planKeyPair(spec);
    const pub = encodeTemplate({ ...plan.publicKey, ...templates.publicKey }, 'publicKey');
    const priv = encodeTemplate({ ...plan.privateKey, ...templates.privateKey }, 'privateKey');
    const kp = await this.run('generateKeyPair', (m, s) => m.C_GenerateKeyPairAsync(s, plan.mechanism, pub, priv), options.signal);
    const publicKey = new PublicKey(this, kp.publicKey);
    const privateKey = new PrivateKey(this, kp.privateKey);
    // Known from here on: a mechanism of another family is refused before the module is asked.
    rememberMadeKeyType(publicKey, plan.mechanism, templates.publicKey);
    rememberMadeKeyType(privateKey, plan.mechanism, templates.privateKey);
    return { publicKey, privateKey };
  },

  async generateKey(this: Session, spec: SecretKeySpec, template: TemplateObject = {}, options: CallOptions = {}): Promise<SecretKey> {
    // NSS reads PBKDF2 parameters in the pre-2.40 layout (and crashes on the current one): pick it
    // by manufacturer unless the caller said which.
    const legacyUnset = spec !== null && typeof spec === 'object' && spec.name === 'PBKDF2' && spec.legacyParams === undefined;
    const plan = planSecretKey(spec, legacyUnset ? { manufacturerID: (await this.slot.module.info()).manufacturerID } : {});
    const merged = { ...plan.template, ...template };
    const raw = encodeTemplate(merged);
    const h = await this.run('generateKey', (m, s) => m.C_GenerateKeyAsync(s, plan.mechanism, raw), options.signal);
    const key = new SecretKey(this, h);
    rememberMadeKeyType(key, plan.mechanism, merged);
    return key;
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
    if (!Number.isSafeInteger(spec.primeBits) || spec.primeBits <= 0) throw new RangeError('generateDomainParameters: spec.primeBits must be a positive integer');
    const raw = encodeTemplate({ class: 'domainParameters', keyType: spec.name === 'DSA' ? 'dsa' : 'dh', token: false, primeBits: spec.primeBits, ...template });
    const h = await this.run('generateDomainParameters', (m, s) => m.C_GenerateKeyAsync(s, { mechanism: mech }, raw), options.signal);
    return new DomainParameters(this, h);
  },
};
