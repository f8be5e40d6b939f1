// The run's SoftHSM fixture (made by test/global-setup.js: one token directory and
// SOFTHSM2_CONF per run, four tokens with known PINs) and a loaded + initialized raw module.
import * as fs from 'node:fs';
import { PKCS11, CKF_RW_SESSION, CKF_SERIAL_SESSION, CKU_USER } from '../../lib/raw';
import type { Ulong } from '../../lib/raw';

export interface TokenSpec {
  label: string;
  soPin: string;
  userPin: string;
}

export interface Fixture {
  dir: string;
  conf: string;
  modulePath: string;
  tokens: Array<TokenSpec & { slot?: number }>;
}

// eslint-disable-next-line @typescript-eslint/no-var-requires
const scripts = require('../../scripts/softhsm.js') as { ensurePkcs11Spy(): string };

export function fixture(): Fixture {
  const file = process.env.P11BRIDGE_FIXTURE;
  if (!file) throw new Error('P11BRIDGE_FIXTURE is not set: run the tests through jest (test/global-setup.js)');
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Fixture;
}

export function ensurePkcs11Spy(): string {
  return scripts.ensurePkcs11Spy();
}

export type TokenName = 'p11bridge-a' | 'p11bridge-b' | 'p11bridge-admin' | 'p11bridge-workers' | 'p11bridge-pool' | 'p11bridge-objects';

export interface Env {
  fixture: Fixture;
  mod: PKCS11;
  /** Slot of p11bridge-a (user PIN 1234, SO PIN 12345678). */
  slot: Ulong;
  /** Slot of p11bridge-b (user PIN 5678, SO PIN 87654321). */
  slot2: Ulong;
  slotOf(label: TokenName): Ulong;
  pinOf(label: TokenName): TokenSpec;
  close(): void;
}

/** `new PKCS11()`, `load`, `C_Initialize` on the run's SoftHSM; `close()` finalizes and unloads. */
export function openSoftHSM(): Env {
  const f = fixture();
  const mod = new PKCS11();
  mod.load(f.modulePath);
  mod.C_Initialize();
  const slots = mod.C_GetSlotList(true);
  const slotOf = (label: string): Ulong => {
    for (const s of slots) if (mod.C_GetTokenInfo(s).label === label) return s;
    throw new Error('token not found: ' + label);
  };
  const pinOf = (label: string): TokenSpec => {
    const t = f.tokens.find((x) => x.label === label);
    if (!t) throw new Error('unknown token ' + label);
    return t;
  };
  return {
    fixture: f,
    mod,
    slot: slotOf('p11bridge-a'),
    slot2: slotOf('p11bridge-b'),
    slotOf,
    pinOf,
    close() {
      mod.close();
    },
  };
}

/** A read-write session on p11bridge-a logged in as the user. */
export function userSession(env: Env, slot: Ulong = env.slot, pin = '1234'): Ulong {
  const s = env.mod.C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION);
  try {
    env.mod.C_Login(s, CKU_USER, pin);
  } catch (e) {
    if ((e as { rvName?: string }).rvName !== 'CKR_USER_ALREADY_LOGGED_IN') throw e;
  }
  return s;
}
