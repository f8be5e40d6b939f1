// A loaded and initialized PKCS#11 module: the entry point of the typed layer.
import { PKCS11 } from './raw';
import type { InitializeOptions, LoadOptions, Ulong, Version } from './raw-types';
import { Slot } from './slot';
import { tracked } from './util/stack';
import { asyncDispose } from './util/dispose';

export interface ModuleOpenOptions {
  /** C_Initialize options: flags (CKF_OS_LOCKING_OK by default), NSS-style libraryParameters. */
  initialize?: InitializeOptions;
  load?: LoadOptions;
}

export interface ModuleInfo {
  cryptokiVersion: Version;
  manufacturerID: string;
  description: string;
  libraryVersion: Version;
  /** The function list in use: 68 (2.x), 92 (3.0) or 104 (3.2) functions. */
  functionCount: number;
  /** "PKCS 11" when found through C_GetInterface, null for C_GetFunctionList. */
  interface: string | null;
  path: string;
}

export class Module {
  private readonly slotCache = new Map<string, Slot>();
  private closing: Promise<void> | null = null;

  private constructor(
    readonly raw: PKCS11,
    readonly path: string,
  ) {}

  /** Loads the module and initializes it (off the event loop: some modules take seconds). */
  static async open(path: string, options: ModuleOpenOptions = {}): Promise<Module> {
    const raw = new PKCS11();
    raw.load(path, options.load);
    try {
      await tracked(() => raw.C_InitializeAsync(options.initialize));
    } catch (e) {
      raw.close();
      throw e;
    }
    return new Module(raw, path);
  }

  async info(): Promise<ModuleInfo> {
    const i = await tracked(() => this.raw.C_GetInfoAsync());
    const m = this.raw.moduleInfo();
    return {
      cryptokiVersion: i.cryptokiVersion,
      manufacturerID: i.manufacturerID,
      description: i.libraryDescription,
      libraryVersion: i.libraryVersion,
      functionCount: m?.functionCount ?? 0,
      interface: m?.interface ?? null,
      path: m?.path ?? this.path,
    };
  }

  /** Slots, by default only those with a token present. The same Slot object is returned each time. */
  async slots(options: { tokenPresent?: boolean } = {}): Promise<Slot[]> {
    const ids = await tracked(() => this.raw.C_GetSlotListAsync(options.tokenPresent ?? true));
    return ids.map((id) => this.slot(id));
  }

  /** The Slot for an ID (not checked against the module until used). */
  slot(id: Ulong): Slot {
    const key = String(id);
    let s = this.slotCache.get(key);
    if (!s) {
      s = new Slot(this, id);
      this.slotCache.set(key, s);
    }
    return s;
  }

  /** The first slot whose token has this label. */
  async findSlot(label: string): Promise<Slot | undefined> {
    for (const s of await this.slots()) if ((await s.tokenInfo()).label === label) return s;
    return undefined;
  }

  /**
   * Finalizes and unloads. Waits for work in flight (C_Finalize waits for async calls queued
   * before it); sessions still open are closed by the module. Safe to call twice.
   */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        try {
          await tracked(() => this.raw.C_FinalizeAsync());
        } finally {
          this.raw.close();
          for (const s of this.slotCache.values()) s.loginState = null;
        }
      })();
    }
    return this.closing;
  }

  /** True once close() has started. */
  get isClosed(): boolean {
    return this.closing !== null;
  }

  async [asyncDispose](): Promise<void> {
    await this.close();
  }
}
