// The session layer: the Session class and its operation groups, one file each (rust-cryptoki's
// `impl Session` per file; sharp's method files). The group files know Session only as a type
// and export a method table; this file installs them, and gives Slot (core/, a layer down) its
// openSession(). Everything that uses sessions imports this folder, so the methods are there.
import * as C from '../constants/generated';
import { Slot } from '../core/slot';
import { addMethods } from '../util/methods';
import { Session } from './session';
import { adminMethods } from './admin';
import { cryptoMethods } from './crypto';
import { kemMethods } from './kem';
import { keyGenerationMethods } from './key-generation';
import { messageMethods } from './messages';
import { objectMethods } from './objects';
import { randomMethods } from './random';
import { streamMethods } from './streams';
// The same files once more as bare imports: the value imports above vanish from index.d.ts, and
// with them the `declare module './session'` augmentations, so users' types would lack the
// methods. Bare imports stay in the .d.ts.
import './admin';
import './crypto';
import './kem';
import './key-generation';
import './messages';
import './objects';
import './random';
import './streams';

export interface OpenSessionOptions {
  /** A read-write session (default false: read-only). */
  write?: boolean;
}

declare module '../core/slot' {
  interface Slot {
    /** Opens a session on this slot's token (read-only unless `write`). */
    openSession(options?: OpenSessionOptions): Promise<Session>;
  }
}

const slotMethods = {
  async openSession(this: Slot, options: OpenSessionOptions = {}): Promise<Session> {
    const flags = C.CKF_SERIAL_SESSION | (options.write ? C.CKF_RW_SESSION : 0);
    const handle = await this.module.call(() => this.module.raw.C_OpenSessionAsync(this.id, flags), { fn: 'slot.openSession', slot: this.id });
    this.sessionOpened(handle);
    return new Session(this, handle, options.write === true);
  },
};

addMethods(Slot.prototype, slotMethods);
for (const methods of [cryptoMethods, randomMethods, adminMethods, objectMethods, keyGenerationMethods, streamMethods, messageMethods, kemMethods]) {
  addMethods(Session.prototype, methods);
}

export { Session };
