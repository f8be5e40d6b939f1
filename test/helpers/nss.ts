// The NSS softoken fixture (scripts/nss.js): throw-away databases, and (from nss-env.ts) the
// loaded + initialized raw module, the way helpers/softhsm.ts does it for SoftHSM. Softoken allows ONE database per process: close the
// returned env (mod.close(), then the temp dir is removed) before opening another.

export interface NssDb {
  dir: string;
  modulePath: string;
  libraryParameters: string;
  password: string;
  /** Slot 2, "NSS Certificate DB": the database token (no login with the empty password). */
  slot: number;
  /** Slot 1, "NSS Generic Crypto Services": session objects only. */
  cryptoSlot: number;
  cleanup(): void;
}

// eslint-disable-next-line @typescript-eslint/no-var-requires
const scripts = require('../../scripts/nss.js') as {
  createNssDb(opts?: { password?: string }): NssDb;
  ensureNss(): { modulePath: string };
};

/** A new throw-away NSS database (certutil only: softoken is not loaded in this process). */
export function createNssDb(opts?: { password?: string }): NssDb {
  return scripts.createNssDb(opts);
}

// The loaded + initialized module env lives in nss-env.ts (one implementation for all NSS tests).
export { openNss } from './nss-env';
export type { NssEnv } from './nss-env';
