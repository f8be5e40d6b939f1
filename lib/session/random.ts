// Random numbers from the token (rust-cryptoki's random.rs). Installed by session/index.ts.
import type { CallOptions, Session } from './session';

declare module './session' {
  interface Session {
    /** `length` random bytes from the token's generator. */
    random(length: number, options?: CallOptions): Promise<Buffer>;
  }
}

export const randomMethods = {
  /** `length` random bytes from the token's generator. */
  random(this: Session, length: number, options: CallOptions = {}): Promise<Buffer> {
    if (!Number.isSafeInteger(length) || length < 0) return Promise.reject(new RangeError("random: argument 'length' must be a non-negative integer"));
    return this.run('random', (raw, h) => raw.C_GenerateRandomAsync(h, length), options.signal);
  },
};
