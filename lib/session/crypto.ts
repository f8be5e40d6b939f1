// The *Init operations and the one-shot digest of Session (rust-cryptoki's signing_macing.rs,
// encrypt.rs, digesting.rs): each starts a multi-part operation object (session/operations.ts)
// that holds the session until final() or abort(). Installed by session/index.ts; the class is a
// type here. One-shot sign/verify/encrypt/decrypt live on the key objects (objects/keys.ts).
import type { Bytes } from '../binding/raw-types';
import { MechanismSpec } from '../mechanisms';
import { resolveFor } from '../mechanisms/key-compat';
import type { Key, PrivateKeyCallOptions } from '../objects/keys';
import { contextLogin } from '../binding/operation-end';
import { fused } from '../binding/fused';
import { CipherOperation, DigestOperation, SignOperation, VerifyOperation } from './operations';
import type { CallOptions, Session } from './session';

declare module './session' {
  interface Session {
    /**
     * Starts a multi-part operation. The session is this operation's until final() or abort();
     * other calls on the session wait for it.
     */
    signInit(spec: MechanismSpec, key: Key, options?: PrivateKeyCallOptions): Promise<SignOperation>;
    verifyInit(spec: MechanismSpec, key: Key, options?: CallOptions): Promise<VerifyOperation>;
    encryptInit(spec: MechanismSpec, key: Key, options?: CallOptions): Promise<CipherOperation>;
    decryptInit(spec: MechanismSpec, key: Key, options?: PrivateKeyCallOptions): Promise<CipherOperation>;
    digestInit(spec: MechanismSpec, options?: CallOptions): Promise<DigestOperation>;
    /** One-shot digest on the token ({ name: 'SHA-256' } …). */
    digest(spec: MechanismSpec, data: Bytes, options?: CallOptions): Promise<Buffer>;
  }
}

export const cryptoMethods = {
  /**
   * Starts a multi-part operation. The session is this operation's until final() or abort();
   * other calls on the session wait for it.
   */
  async signInit(this: Session, spec: MechanismSpec, key: Key, options: PrivateKeyCallOptions = {}): Promise<SignOperation> {
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
  },

  async verifyInit(this: Session, spec: MechanismSpec, key: Key, options: CallOptions = {}): Promise<VerifyOperation> {
    const { release } = await this.startOperation('verifyInit', spec, (raw, h, m) => raw.C_VerifyInitAsync(h, m, key.handle), options.signal);
    return new VerifyOperation(this, release).attachSignal(options.signal);
  },

  async encryptInit(this: Session, spec: MechanismSpec, key: Key, options: CallOptions = {}): Promise<CipherOperation> {
    const { release } = await this.startOperation('encryptInit', spec, (raw, h, m) => raw.C_EncryptInitAsync(h, m, key.handle), options.signal);
    return new CipherOperation(this, release, 'encrypt').attachSignal(options.signal);
  },

  async decryptInit(this: Session, spec: MechanismSpec, key: Key, options: PrivateKeyCallOptions = {}): Promise<CipherOperation> {
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
  },

  async digestInit(this: Session, spec: MechanismSpec, options: CallOptions = {}): Promise<DigestOperation> {
    const { release } = await this.startOperation('digestInit', spec, (raw, h, m) => raw.C_DigestInitAsync(h, m), options.signal);
    return new DigestOperation(this, release).attachSignal(options.signal);
  },

  /** One-shot digest on the token ({ name: 'SHA-256' } …). */
  async digest(this: Session, spec: MechanismSpec, data: Bytes, options: CallOptions = {}): Promise<Buffer> {
    const m = resolveFor(spec, undefined, 'session.digest').mechanism;
    return this.run('digest', (raw, h) => fused(raw).digestOnceAsync(h, m, data), options.signal);
  },
};
