// A session: one PKCS#11 call at a time (an async mutex), login state shared by every session of
// the token (PKCS#11 logs in per token, not per session), closed by close(), `await using`, or —
// as a backstop — when it is garbage-collected unclosed.
import * as C from './constants/generated';
import { SessionClosedError as CkrSessionClosedError, SessionHandleInvalidError, UserAlreadyLoggedInError, UserNotLoggedInError } from './errors/generated';
import { ModuleClosedError, SessionNotOpenError } from './errors/library';
import type { Pin, SessionInfo as RawSessionInfo, Ulong } from './raw-types';
import type { PKCS11 } from './raw-types';
import { abortReason, AsyncMutex } from './util/mutex';
import { asyncDispose } from './util/dispose';
import type { Slot } from './slot';
import type { Pkcs11Object } from './objects/object';
import { classNumber, objectFor, objectOfHandle } from './objects/factory';
import { DomainParameters } from './objects/domain-parameters';
import { matchesSlot, matchesToken, parse as parseUri, Pkcs11Uri, toTemplate as uriTemplate } from './uri';
import { encodeTemplate, TemplateObject } from './template/attributes';
import { PrivateKey, PublicKey, SecretKey } from './objects/keys';
import { KeyPairSpec, planKeyPair, planSecretKey, SecretKeySpec } from './objects/generate';
import { CipherOperation, DigestOperation, SignOperation, VerifyOperation } from './operations';
import { MechanismSpec, resolveMechanism } from './mechanisms';
import type { Bytes } from './raw-types';
import type { Key, PrivateKeyCallOptions } from './objects/keys';
import { contextLogin } from './operation-end';
import { fused } from './fused';
import * as streams from './streams';
import * as messages from './messages';
import * as kem from './kem';

export type UserType = 'user' | 'so' | 'context';

const USER_TYPES: Record<UserType, number> = { user: C.CKU_USER, so: C.CKU_SO, context: C.CKU_CONTEXT_SPECIFIC };

export type SessionState = 'roPublic' | 'roUser' | 'rwPublic' | 'rwUser' | 'rwSO';


const STATES: Record<number, SessionState> = {
  [C.CKS_RO_PUBLIC_SESSION]: 'roPublic',
  [C.CKS_RO_USER_FUNCTIONS]: 'roUser',
  [C.CKS_RW_PUBLIC_SESSION]: 'rwPublic',
  [C.CKS_RW_USER_FUNCTIONS]: 'rwUser',
  [C.CKS_RW_SO_FUNCTIONS]: 'rwSO',
};

export interface SessionInfo {
  slotID: Ulong;
  state: SessionState | Ulong;
  readWrite: boolean;
  deviceError: Ulong;
}

/** Options every slow typed call takes. */
export interface CallOptions {
  /**
   * Gives up on the call: before it starts it never runs; once the module is working the promise
   * rejects at once (the module's call still ends on its own; its result is dropped).
   */
  signal?: AbortSignal;
}

export { SessionNotOpenError };

// Closes sessions whose objects were collected without close(): a leaked session would keep the
// token's session count (and its login) alive until the module is finalized.
const backstop = new FinalizationRegistry<{ raw: PKCS11; handle: Ulong; onClosed: () => void }>((held) => {
  try {
    held.raw.C_CloseSession(held.handle);
  } catch {
    // The module may be finalized already; nothing is left to close then.
  }
  held.onClosed();
});

export class Session {
  private readonly mutex = new AsyncMutex();
  private open = true;
  private readonly token: object = {};

  /** @internal use Slot.openSession() */
  constructor(
    readonly slot: Slot,
    readonly handle: Ulong,
    readonly readWrite: boolean,
  ) {
    const onClosed = slot.sessionClosedCallback(handle);
    backstop.register(this, { raw: slot.module.raw, handle, onClosed }, this.token);
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Runs `fn` with this session to itself: calls on one session never interleave. */
  run<T>(what: string, fn: (raw: PKCS11, handle: Ulong) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const m = this.slot.module;
    if (!this.open || m.isClosed) return Promise.reject(new SessionNotOpenError(what));
    // Issued before close(): close() lets it finish.
    return m.admit(() =>
      signal
        ? this.runAbortable(what, fn, signal)
        : this.mutex.run(() => {
            if (!this.open || m.finalizing) throw new SessionNotOpenError(what);
            return m.call(() => fn(m.raw, this.handle));
          }),
    );
  }

  /**
   * @internal Takes the session at once for a hot path, or null when that would mean waiting
   * (another call holds it) or failing (closed): the caller then takes the ordinary run().
   */
  tryHold(): (() => void) | null {
    if (!this.open || this.slot.module.isClosed) return null;
    return this.mutex.tryAcquire();
  }

  /**
   * run() with an AbortSignal. Aborted while waiting for the session: the call never starts.
   * Aborted while the module works: the promise rejects at once with the signal's reason; a C
   * call cannot be interrupted, so the session stays busy until the module returns, and the
   * result is dropped.
   */
  private async runAbortable<T>(what: string, fn: (raw: PKCS11, handle: Ulong) => Promise<T>, signal: AbortSignal): Promise<T> {
    const release = await this.mutex.acquire(signal);
    let work: Promise<T>;
    try {
      if (signal.aborted) throw abortReason(signal);
      if (!this.open || this.slot.module.finalizing) throw new SessionNotOpenError(what);
      work = this.slot.module.call(() => fn(this.slot.module.raw, this.handle));
    } catch (e) {
      release();
      throw e;
    }
    const done = work.finally(release);
    if (signal.aborted) {
      done.catch(() => undefined);
      throw abortReason(signal);
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        done.catch(() => undefined);
        reject(abortReason(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      done.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  /**
   * Logs in as the user (default), the SO, or context-specific (for a CKA_ALWAYS_AUTHENTICATE
   * key's next operation). Login is per token: when another session already logged the same user
   * in, this is a no-op. `pin` null or omitted uses the protected authentication path.
   */
  async login(pin?: Pin | null, options: { user?: UserType; signal?: AbortSignal } = {}): Promise<void> {
    const user = options.user ?? 'user';
    if (!Object.prototype.hasOwnProperty.call(USER_TYPES, user)) throw new TypeError("login: option 'user' must be 'user', 'so' or 'context'");
    const tokenState = this.slot.loginState;
    if (user !== 'context' && tokenState === user) return;
    if (pin === undefined || pin === null) {
      // Without a PIN the module must collect it itself (PIN pad, biometrics); on any other token
      // a NULL PIN is a caller's mistake the module would answer with a vague CKR_ARGUMENTS_BAD.
      const info = await this.slot.tokenInfo();
      if (!info.flags.protectedAuthenticationPath) {
        throw new TypeError("login: argument 'pin' is required (the token has no protected authentication path)");
      }
    }
    await this.run('login', async (raw, h) => {
      try {
        await raw.C_LoginAsync(h, USER_TYPES[user], pin ?? null);
      } catch (e) {
        // Logged in outside this library (another process' session, or a raw call): same result.
        if (!(e instanceof UserAlreadyLoggedInError)) throw e;
      }
    }, options.signal);
    if (user !== 'context') this.slot.setLoginState(user);
  }

  async logout(): Promise<void> {
    await this.run('logout', async (raw, h) => {
      try {
        await raw.C_LogoutAsync(h);
      } catch (e) {
        if (!(e instanceof UserNotLoggedInError)) throw e;
      }
    });
    this.slot.setLoginState(null);
  }

  async info(): Promise<SessionInfo> {
    const r: RawSessionInfo = await this.run('info', (raw, h) => raw.C_GetSessionInfoAsync(h));
    const state = typeof r.state === 'number' ? (STATES[r.state] ?? r.state) : r.state;
    return {
      slotID: r.slotID,
      state,
      readWrite: (BigInt(r.flags) & BigInt(C.CKF_RW_SESSION)) !== 0n,
      deviceError: r.deviceError,
    };
  }

  /** `length` random bytes from the token's generator. */
  random(length: number, options: CallOptions = {}): Promise<Buffer> {
    if (!Number.isSafeInteger(length) || length < 0) return Promise.reject(new RangeError("random: argument 'length' must be a non-negative integer"));
    return this.run('random', (raw, h) => raw.C_GenerateRandomAsync(h, length), options.signal);
  }

  /** Creates an object from a template object ({ class: 'data', label, value, token … }). */
  async createObject(template: TemplateObject): Promise<Pkcs11Object> {
    const raw = encodeTemplate(template);
    const h = await this.run('createObject', (m, s) => m.C_CreateObjectAsync(s, raw));
    return objectFor(this, h, template.class);
  }

  /** Wraps a handle found elsewhere (a raw call, a URI) in its class (reads CKA_CLASS once). */
  object(handle: Ulong): Promise<Pkcs11Object> {
    return objectOfHandle(this, handle);
  }

  /**
   * Objects matching `template`, fetched `batchSize` handles per C_FindObjects. The session is
   * held only during each C call: attribute reads and writes on found objects work between
   * batches, but many modules (SoftHSM) allow one active operation per session: a sign or digest
   * on this session inside the loop fails with OperationActiveError there. Use another session
   * (or findAll()) for those.
   * C_FindObjectsFinal always runs, also when the loop breaks or throws. Objects come typed by class (PrivateKey,
   * Certificate …): from the template's `class` when it has one, else one CKA_CLASS read each.
   */
  async *find(template: TemplateObject = {}, options: { batchSize?: number } = {}): AsyncGenerator<Pkcs11Object, void, undefined> {
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
      if (this.open) await this.run('find', (m, s) => m.C_FindObjectsFinalAsync(s));
    }
  }

  /**
   * Objects a PKCS#11 URI names (its object, id and type attributes), when its token attributes
   * match this session's token; [] otherwise. A PIN in the URI is not used: login stays yours.
   */
  async findByUri(uri: string | Pkcs11Uri): Promise<Pkcs11Object[]> {
    const u = typeof uri === 'string' ? parseUri(uri) : uri;
    if (!matchesToken(u, await this.slot.tokenInfo()) || !matchesSlot(u, await this.slot.info(), this.slot.id)) return [];
    return this.findAll(uriTemplate(u));
  }

  // importKey() and importCertificate() are added by interop/keyobject.ts and interop/x509.ts:
  // the layer above, which makes objects from node:crypto values (a session does not import it).

  /** All matching objects at once. */
  async findAll(template: TemplateObject = {}): Promise<Pkcs11Object[]> {
    const out: Pkcs11Object[] = [];
    for await (const o of this.find(template)) out.push(o);
    return out;
  }

  /**
   * Generates a key pair. Defaults: session objects, private key private + sensitive + sign (RSA
   * also decrypt), public key verify (RSA also encrypt); `templates` override them.
   */
  async generateKeyPair(
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
  }

  /** Generates a secret key (AES, generic secret for HMAC, DES3); `template` overrides the defaults. */
  async generateKey(spec: SecretKeySpec, template: TemplateObject = {}, options: CallOptions = {}): Promise<SecretKey> {
    // NSS reads PBKDF2 parameters in the pre-2.40 layout (and crashes on the current one): pick it
    // by manufacturer unless the caller said which.
    const legacyUnset = spec !== null && typeof spec === 'object' && spec.name === 'PBKDF2' && spec.legacyParams === undefined;
    const plan = planSecretKey(spec, legacyUnset ? { manufacturerID: (await this.slot.module.info()).manufacturerID } : {});
    const raw = encodeTemplate({ ...plan.template, ...template });
    const h = await this.run('generateKey', (m, s) => m.C_GenerateKeyAsync(s, plan.mechanism, raw), options.signal);
    return new SecretKey(this, h);
  }

  /**
   * Generates DSA or PKCS#3 DH domain parameters (p, q, g) as a token object; key pairs can then
   * be generated from `params.publicKeyTemplate()`.
   */
  async generateDomainParameters(
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
  }

  /**
   * Starts a multi-part operation. The session is this operation's until final() or abort();
   * other calls on the session wait for it.
   */
  async signInit(spec: MechanismSpec, key: Key, options: PrivateKeyCallOptions = {}): Promise<SignOperation> {
    const { release } = await this.startOperation(
      'signInit',
      spec,
      async (raw, h, m) => {
        await raw.C_SignInitAsync(h, m, key.handle);
        await contextLogin(raw, h, options.contextPin, 'sign');
      },
      options.signal,
    );
    return new SignOperation(this, release).attachSignal(options.signal);
  }

  async verifyInit(spec: MechanismSpec, key: Key, options: CallOptions = {}): Promise<VerifyOperation> {
    const { release } = await this.startOperation('verifyInit', spec, (raw, h, m) => raw.C_VerifyInitAsync(h, m, key.handle), options.signal);
    return new VerifyOperation(this, release).attachSignal(options.signal);
  }

  async encryptInit(spec: MechanismSpec, key: Key, options: CallOptions = {}): Promise<CipherOperation> {
    const { release } = await this.startOperation('encryptInit', spec, (raw, h, m) => raw.C_EncryptInitAsync(h, m, key.handle), options.signal);
    return new CipherOperation(this, release, 'encrypt').attachSignal(options.signal);
  }

  async decryptInit(spec: MechanismSpec, key: Key, options: PrivateKeyCallOptions = {}): Promise<CipherOperation> {
    const { release } = await this.startOperation(
      'decryptInit',
      spec,
      async (raw, h, m) => {
        await raw.C_DecryptInitAsync(h, m, key.handle);
        await contextLogin(raw, h, options.contextPin, 'decrypt');
      },
      options.signal,
    );
    return new CipherOperation(this, release, 'decrypt').attachSignal(options.signal);
  }

  async digestInit(spec: MechanismSpec, options: CallOptions = {}): Promise<DigestOperation> {
    const { release } = await this.startOperation('digestInit', spec, (raw, h, m) => raw.C_DigestInitAsync(h, m), options.signal);
    return new DigestOperation(this, release).attachSignal(options.signal);
  }

  /** One-shot digest on the token ({ name: 'SHA-256' } …). */
  async digest(spec: MechanismSpec, data: Bytes, options: CallOptions = {}): Promise<Buffer> {
    const m = resolveMechanism(spec, undefined, 'digest').mechanism;
    return this.run(
      'digest',
      (raw, h) => fused(raw).digestOnceAsync(h, m, data),
      options.signal,
    );
  }

  private startOperation(
    what: string,
    spec: MechanismSpec,
    init: (raw: PKCS11, h: Ulong, m: import('./raw-types').Mechanism) => Promise<void>,
    signal?: AbortSignal,
  ): Promise<{ release: () => void }> {
    const m = this.slot.module;
    if (!this.open || m.isClosed) return Promise.reject(new SessionNotOpenError(what));
    return m.admit(() => this.initOperation(what, spec, init, signal));
  }

  private async initOperation(
    what: string,
    spec: MechanismSpec,
    init: (raw: PKCS11, h: Ulong, m: import('./raw-types').Mechanism) => Promise<void>,
    signal: AbortSignal | undefined,
  ): Promise<{ release: () => void }> {
    const supported = await this.slot.mechanismSet();
    const r = resolveMechanism(spec, (t) => supported.has(String(t)), what);
    if (r.prehash) throw new RangeError(`${what}: this token needs ECDSA hashed in Node; use sign()/verify() or { name: 'ECDSA' } over a digest`);
    const release = await this.mutex.acquire(signal);
    try {
      if (signal?.aborted) throw abortReason(signal);
      if (!this.open || this.slot.module.finalizing) throw new SessionNotOpenError(what);
      await this.slot.module.call(() => init(this.slot.module.raw, this.handle, r.mechanism));
    } catch (e) {
      release();
      throw e;
    }
    return { release };
  }

  // --- streams, message-based AEAD and KEM (lib/streams.ts, lib/messages.ts) ---

  /** A Transform encrypting what is written to it (the session is the stream's until it ends or is destroyed). */
  encryptStream(spec: MechanismSpec, key: Key, options?: streams.OperationStreamOptions): streams.CipherStream {
    return streams.encryptStream(this, spec, key, options);
  }

  /** A Transform decrypting what is written to it. */
  decryptStream(spec: MechanismSpec, key: Key, options?: streams.OperationStreamOptions): streams.CipherStream {
    return streams.decryptStream(this, spec, key, options);
  }

  /** A Writable digesting what is written to it; `result` is the digest. */
  digestStream(spec: MechanismSpec, options?: streams.OperationStreamOptions): streams.OperationWritable<Buffer> {
    return streams.digestStream(this, spec, options);
  }

  /** A Writable signing what is written to it; `result` is the signature. */
  signStream(spec: MechanismSpec, key: Key, options?: streams.OperationStreamOptions): streams.OperationWritable<Buffer> {
    return streams.signStream(this, spec, key, options);
  }

  /** A Writable verifying `signature` over what is written to it; `result` is the verdict. */
  verifyStream(spec: MechanismSpec, key: Key, signature: Bytes, options?: streams.OperationStreamOptions): streams.OperationWritable<boolean> {
    return streams.verifyStream(this, spec, key, signature, options);
  }

  /** PKCS#11 3.0 message encryption (AES-GCM, ChaCha20-Poly1305): holds the session until final()/abort(). */
  messageEncryptInit(spec: messages.MessageCipherSpec, key: Key): Promise<messages.MessageEncryptOperation> {
    return messages.messageEncryptInit(this, spec, key);
  }

  messageDecryptInit(spec: messages.MessageCipherSpec, key: Key): Promise<messages.MessageDecryptOperation> {
    return messages.messageDecryptInit(this, spec, key);
  }

  messageSignInit(spec: MechanismSpec, key: Key): Promise<messages.MessageSignOperation> {
    return messages.messageSignInit(this, spec, key);
  }

  messageVerifyInit(spec: MechanismSpec, key: Key): Promise<messages.MessageVerifyOperation> {
    return messages.messageVerifyInit(this, spec, key);
  }

  /** PKCS#11 3.2 C_EncapsulateKey: a new secret key (session object by default) and its ciphertext. */
  encapsulate(spec: kem.KemSpec, publicKey: PublicKey, template?: TemplateObject): Promise<{ ciphertext: Buffer; key: SecretKey }> {
    return kem.encapsulate(this, spec, publicKey, template);
  }

  /** PKCS#11 3.2 C_DecapsulateKey: the secret key `ciphertext` carries. */
  decapsulate(spec: kem.KemSpec, privateKey: PrivateKey, ciphertext: Bytes, template?: TemplateObject): Promise<SecretKey> {
    return kem.decapsulate(this, spec, privateKey, ciphertext, template);
  }

  /** @internal Runs `init` and holds the session until the returned release (lib/messages.ts). */
  async holdSession(what: string, spec: MechanismSpec, init: (raw: PKCS11, h: Ulong, m: import('./raw-types').Mechanism) => Promise<void>): Promise<() => void> {
    return (await this.startOperation(what, spec, init)).release;
  }

  // --- end of streams, messages and KEM ---

  /** SO only: sets the user's PIN (C_InitPIN). */
  initPin(pin: Pin): Promise<void> {
    return this.run('initPin', (raw, h) => raw.C_InitPINAsync(h, pin));
  }

  /** Changes the PIN of whoever is logged in (user, or SO in an SO session). */
  setPin(oldPin: Pin, newPin: Pin): Promise<void> {
    return this.run('setPin', (raw, h) => raw.C_SetPINAsync(h, oldPin, newPin));
  }

  /** Waits for the call in progress, then closes. Closing twice is a no-op. */
  async close(): Promise<void> {
    // An operation left open holds the session: end it, or close() would wait forever.
    await Promise.all([...this.slot.module.operations].filter((op) => op.belongsTo(this)).map((op) => op.abort()));
    const release = await this.mutexAcquire();
    try {
      if (!this.open) return;
      this.open = false;
      backstop.unregister(this.token);
      try {
        await this.slot.module.call(() => this.slot.module.raw.C_CloseSessionAsync(this.handle));
      } catch (e) {
        // Already gone in the module (token removed, C_CloseAllSessions, finalized): closed is closed.
        if (!(e instanceof SessionHandleInvalidError || e instanceof CkrSessionClosedError || e instanceof ModuleClosedError)) throw e;
      }
    } finally {
      this.slot.sessionClosedCallback(this.handle)();
      release();
    }
  }

  async [asyncDispose](): Promise<void> {
    await this.close();
  }

  private mutexAcquire(): Promise<() => void> {
    return this.mutex.acquire();
  }
}
