// PIN administration (rust-cryptoki's session_management.rs init_pin/set_pin). Installed by
// session/index.ts. PINs go straight to the module; nothing here keeps or prints them.
import type { Pin } from '../binding/raw-types';
import type { Session } from './session';

declare module './session' {
  interface Session {
    /** SO only: sets the user's PIN (C_InitPIN). */
    initPin(pin: Pin): Promise<void>;
    /** Changes the PIN of whoever is logged in (user, or SO in an SO session). */
    setPin(oldPin: Pin, newPin: Pin): Promise<void>;
  }
}

export const adminMethods = {
  /** SO only: sets the user's PIN (C_InitPIN). */
  initPin(this: Session, pin: Pin): Promise<void> {
    return this.run('initPin', (raw, h) => raw.C_InitPINAsync(h, pin));
  },

  /** Changes the PIN of whoever is logged in (user, or SO in an SO session). */
  setPin(this: Session, oldPin: Pin, newPin: Pin): Promise<void> {
    return this.run('setPin', (raw, h) => raw.C_SetPINAsync(h, oldPin, newPin));
  },
};
