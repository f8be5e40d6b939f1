// Multi-part operations: Init takes the session to itself until final() or abort(), so no other
// call can interleave with the operation's parts.
import type { Bytes, PKCS11, Ulong } from './raw-types';
import type { Session } from './session';

export class OperationFinishedError extends Error {
  constructor(what: string) {
    super(`${what}: the operation has already finished`);
    this.name = 'OperationFinishedError';
  }
}

abstract class Operation {
  private finished = false;

  /** @internal */
  constructor(
    protected readonly session: Session,
    private readonly release: () => void,
  ) {}

  get isFinished(): boolean {
    return this.finished;
  }

  protected step<T>(what: string, fn: (raw: PKCS11, h: Ulong) => Promise<T>, last = false): Promise<T> {
    if (this.finished) return Promise.reject(new OperationFinishedError(what));
    const m = this.session.slot.module;
    const p = m.call(() => fn(m.raw, this.session.handle));
    // A failed part ends the operation in PKCS#11 (except buffer-size answers, which we never give
    // the module here), so the session is released on any error as well as at the last step.
    return p.then(
      (v) => {
        if (last) this.finish();
        return v;
      },
      (e: unknown) => {
        this.finish();
        throw e;
      },
    );
  }

  /** Ends the operation without a result (the module's final call, output discarded). */
  async abort(): Promise<void> {
    if (this.finished) return;
    try {
      await this.step('abort', (raw, h) => this.finalForAbort(raw, h), true);
    } catch {
      // Whatever the module answers, the operation is over and the session is released.
    }
  }

  protected abstract finalForAbort(raw: PKCS11, h: Ulong): Promise<unknown>;

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.release();
  }
}

export class SignOperation extends Operation {
  update(data: Bytes): Promise<void> {
    return this.step('update', (raw, h) => raw.C_SignUpdateAsync(h, data));
  }
  final(): Promise<Buffer> {
    return this.step('final', (raw, h) => raw.C_SignFinalAsync(h), true);
  }
  protected finalForAbort(raw: PKCS11, h: Ulong): Promise<unknown> {
    return raw.C_SignFinalAsync(h);
  }
}

export class VerifyOperation extends Operation {
  update(data: Bytes): Promise<void> {
    return this.step('update', (raw, h) => raw.C_VerifyUpdateAsync(h, data));
  }
  /** true, or false for an invalid signature. */
  final(signature: Bytes): Promise<boolean> {
    return this.step('final', (raw, h) => raw.C_VerifyFinalAsync(h, signature), true);
  }
  protected finalForAbort(raw: PKCS11, h: Ulong): Promise<unknown> {
    return raw.C_VerifyFinalAsync(h, Buffer.alloc(1));
  }
}

export class DigestOperation extends Operation {
  update(data: Bytes): Promise<void> {
    return this.step('update', (raw, h) => raw.C_DigestUpdateAsync(h, data));
  }
  final(): Promise<Buffer> {
    return this.step('final', (raw, h) => raw.C_DigestFinalAsync(h), true);
  }
  protected finalForAbort(raw: PKCS11, h: Ulong): Promise<unknown> {
    return raw.C_DigestFinalAsync(h);
  }
}

export class CipherOperation extends Operation {
  /** @internal */
  constructor(
    session: Session,
    release: () => void,
    private readonly direction: 'encrypt' | 'decrypt',
  ) {
    super(session, release);
  }
  update(data: Bytes): Promise<Buffer> {
    return this.step('update', (raw, h) => (this.direction === 'encrypt' ? raw.C_EncryptUpdateAsync(h, data) : raw.C_DecryptUpdateAsync(h, data)));
  }
  final(): Promise<Buffer> {
    return this.step('final', (raw, h) => (this.direction === 'encrypt' ? raw.C_EncryptFinalAsync(h) : raw.C_DecryptFinalAsync(h)), true);
  }
  protected finalForAbort(raw: PKCS11, h: Ulong): Promise<unknown> {
    return this.direction === 'encrypt' ? raw.C_EncryptFinalAsync(h) : raw.C_DecryptFinalAsync(h);
  }
}
