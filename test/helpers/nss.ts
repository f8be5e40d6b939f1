// The NSS softoken fixture (scripts/nss.js) as a loaded + initialized raw module, the way
// helpers/softhsm.ts does it for SoftHSM. Softoken allows ONE database per process: close the
// returned env (mod.close(), then the temp dir is removed) before opening another.
import { PKCS11, CKF_RW_SESSION, CKF_SERIAL_SESSION } from '../../lib/raw';
import type { Ulong } from '../../lib/raw';

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

export interface NssEnv {
  db: NssDb;
  mod: PKCS11;
  /** The database slot (the brief's "DB slot"). */
  slot: Ulong;
  /** A read-write session on the database slot; the empty password means no C_Login. */
  session(): Ulong;
  /** mod.close() (finalizes, unloads) and removes the database directory. */
  close(): void;
}

/** `new PKCS11()`, `load`, `C_Initialize({ libraryParameters })` on a new empty-password database. */
export function openNss(): NssEnv {
  const db = scripts.createNssDb();
  const mod = new PKCS11();
  try {
    mod.load(db.modulePath);
    mod.C_Initialize({ libraryParameters: db.libraryParameters });
  } catch (e) {
    try {
      mod.close();
    } finally {
      db.cleanup();
    }
    throw e;
  }
  return {
    db,
    mod,
    slot: db.slot,
    session: () => mod.C_OpenSession(db.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION),
    close() {
      try {
        mod.close();
      } finally {
        db.cleanup();
      }
    },
  };
}
