// A loaded and initialized PKCS#11 module: the entry point of the typed layer.
import { PKCS11 } from '../binding/pkcs11';
import type { InitializeOptions, LoadOptions, Ulong, Version } from '../binding/raw-types';
import { Slot } from './slot';
import { ModuleClosedError } from '../errors/library';
import { appendCallerStack, tracked } from '../util/stack';
import { applyVendorErrors, vendorErrorTable, vendorErrorTableFor, VendorErrorTable } from '../errors/vendors';
import { asyncDispose } from '../util/dispose';
import { SlotEventOptions, SlotWatcher } from './events';
import { matchesModule, matchesSlot, matchesToken, parse as parseUri, Pkcs11Uri } from '../locate/uri';
import { discover, DiscoveredModule, DiscoverOptions } from '../locate/discovery';
import { callChannel, traceCall } from './diagnostics';

/** 'softhsm2' for /usr/lib/softhsm/libsofthsm2.so, as RFC 7512's module-name compares it. */
function moduleBaseName(p: string): string {
  return (p.split(/[\\/]/).pop() ?? p).replace(/\.(so(\.\d+)*|dylib|dll)$/i, '').replace(/^lib/, '');
}

export interface ModuleOpenOptions {
  /** C_Initialize options: flags (CKF_OS_LOCKING_OK by default), NSS-style libraryParameters. */
  initialize?: InitializeOptions;
  load?: LoadOptions;
  /**
   * Names for vendor CKR codes: a table, a registered table's name ('rutoken'), or false for none.
   * By default the table is chosen by the module's manufacturer ID.
   */
  vendorErrors?: VendorErrorTable | string | false;
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

/**
 * One raw call: on failure, the vendor's name for a vendor code and the caller's stack. The stack
 * is taken in the catch, where V8's async stack trace names the functions awaiting this call —
 * taking it before every call cost more than the rest of the typed layer together (bench/typed).
 */
async function callNamed<T>(table: VendorErrorTable | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const here: { stack?: string } = {};
    Error.captureStackTrace(here, callNamed);
    throw appendCallerStack(applyVendorErrors(e, table), here);
  }
}

export { ModuleClosedError };

export class Module {
  private readonly slotCache = new Map<string, Slot>();
  private closing: Promise<void> | null = null;
  private readonly watchers = new Set<SlotWatcher>();

  private constructor(
    readonly raw: PKCS11,
    readonly path: string,
    /** The vendor table naming this module's vendor codes, if any. */
    readonly vendorErrors: VendorErrorTable | undefined,
  ) {}

  /**
   * @internal Runs an async raw call: its rejection gets the caller's stack and, for vendor codes,
   * the vendor's name.
   */
  call<T>(fn: () => Promise<T>, trace?: { fn: string; slot?: Ulong; session?: Ulong }): Promise<T> {
    if (this.finalizing) return Promise.reject(new ModuleClosedError());
    // Made while reinitialize() runs: after it, on the new initialization (or its failure).
    if (this.reinitializing)
      return this.reinitializing.then(
        () => this.call(fn, trace),
        () => this.call(fn, trace),
      );
    // `trace` names the typed operation for the p11bridge:call channel (core/diagnostics.ts);
    // untraced, it costs the one property read.
    if (trace && callChannel.hasSubscribers) return callNamed(this.vendorErrors, () => traceCall(trace.fn, trace.slot, trace.session, fn));
    return callNamed(this.vendorErrors, fn);
  }

  /**
   * @internal Runs a call issued before close() was called: close() lets such calls finish,
   * even those still waiting for their session. A counter, not a reaction on the call's promise:
   * a second reaction would cut V8's async stack trace (the caller's frames in errors).
   */
  async admit<T>(run: () => Promise<T>): Promise<T> {
    this.enter();
    try {
      return await run();
    } finally {
      this.leave();
    }
  }

  /** @internal admit() in two halves, for a hot path that is one async function already. */
  enter(): void {
    this.inflight++;
  }

  /** @internal */
  leave(): void {
    if (--this.inflight === 0) for (const w of this.drainWaiters.splice(0)) w();
  }

  /**
   * @internal What call() does to a failure (vendor name, caller's stack), for a hot path that
   * makes its raw calls itself; `at` is the function whose caller the stack should start from.
   */
  nameError(e: unknown, at: (...args: never[]) => unknown): unknown {
    const here: { stack?: string } = {};
    Error.captureStackTrace(here, at);
    return appendCallerStack(applyVendorErrors(e, this.vendorErrors), here);
  }

  private inflight = 0;
  private readonly drainWaiters: Array<() => void> = [];
  private gen = 0;
  private reinitializing: Promise<void> | null = null;
  private initOptions: InitializeOptions | undefined;

  /**
   * How many times reinitialize() has run. Sessions (and the objects reached through them) opened
   * under an earlier generation throw StaleHandleError.
   */
  get generation(): number {
    return this.gen;
  }

  /**
   * C_Finalize, then C_Initialize with the options Module.open() was given: for a module that
   * answers CKR_CRYPTOKI_NOT_INITIALIZED, or keeps failing, until it is initialized again (a
   * network HSM's client after the HSM restarted). Every Session of before, and every object
   * reached through one, throws StaleHandleError from now on (the module closed them, and their
   * numbers may name new ones); open new sessions and log in again. Calls in flight finish first
   * (C_Finalize waits for them, a hung one included); calls made meanwhile wait for the new
   * initialization. Slot objects stay valid. One at a time: a second call gets the same promise.
   * SessionPool calls it by itself under its recovery policy.
   */
  reinitialize(): Promise<void> {
    if (this.isClosed) return Promise.reject(new ModuleClosedError());
    if (!this.reinitializing) {
      // Sessions go stale now, so nothing queued behind this reaches the module with an old handle.
      this.gen++;
      for (const s of this.slotCache.values()) s.forgetSessions();
      this.reinitializing = (async () => {
        try {
          // A module that lost its state may refuse C_Finalize; C_Initialize is what matters.
          await callNamed(this.vendorErrors, () => this.raw.C_FinalizeAsync()).catch(() => undefined);
          await callNamed(this.vendorErrors, () => tracked(() => this.raw.C_InitializeAsync(this.initOptions)));
        } finally {
          this.reinitializing = null;
        }
      })();
    }
    return this.reinitializing;
  }

  /** @internal Multi-part operations still holding a session; close() aborts them. */
  readonly operations = new Set<{ abort(): Promise<void>; belongsTo(session: object): boolean }>();
  /** @internal True once close() has let earlier calls finish and is finalizing. */
  finalizing = false;

  /** Loads the module and initializes it (off the event loop: some modules take seconds). */
  /**
   * Loads a module by path, or by `{ uri }` (RFC 7512: `module-path`, else `module-name` looked
   * up among the installed modules, else every installed module whose library attributes match).
   */
  static async open(path: string | (ModuleOpenOptions & ({ uri: string | Pkcs11Uri } | { path: string })), options: ModuleOpenOptions = {}): Promise<Module> {
    if (typeof path === 'string') return Module.openPath(path, options);
    const shape = "Module.open: argument 'path' must be a string, { path } or { uri }";
    if (path === null || typeof path !== 'object') throw new TypeError(shape);
    const o = path as ModuleOpenOptions & { uri?: unknown; path?: unknown };
    if (o.uri !== undefined && o.path !== undefined) throw new TypeError("Module.open: give either 'path' or 'uri', not both");
    if (typeof o.path === 'string') return Module.openPath(o.path, { ...o, ...options });
    if (typeof o.uri === 'string' || (typeof o.uri === 'object' && o.uri !== null)) return Module.openUri(o.uri as string | Pkcs11Uri, { ...o, ...options });
    throw new TypeError(shape);
  }

  /** The modules installed here: p11-kit module files, then well-known paths (see discovery.ts). */
  static discover(options?: DiscoverOptions): Promise<DiscoveredModule[]> {
    return discover(options);
  }

  private static async openUri(uri: string | Pkcs11Uri, options: ModuleOpenOptions): Promise<Module> {
    const u = typeof uri === 'string' ? parseUri(uri) : uri;
    let candidates: string[];
    if (u.modulePath) candidates = [u.modulePath];
    else {
      const found = (await discover()).filter((m) => m.exists);
      const byName = u.moduleName ? found.filter((m) => moduleBaseName(m.path) === moduleBaseName(u.moduleName!) || m.name === u.moduleName) : found;
      candidates = byName.map((m) => m.path);
    }
    if (candidates.length === 0) throw new RangeError('Module.open: no installed module matches the URI (module-name / module-path)');
    for (const candidate of candidates) {
      let mod: Module;
      try {
        mod = await Module.openPath(candidate, options);
      } catch (e) {
        if (candidates.length === 1) throw e;
        continue;
      }
      // module-path / module-name chose the candidates; the library attributes decide.
      if (matchesModule({ ...u, modulePath: undefined, moduleName: undefined }, await mod.info())) return mod;
      await mod.close();
    }
    // Attribute names only: a URI may carry a PIN.
    throw new RangeError("Module.open: no module matches the URI's library attributes");
  }

  private static async openPath(path: string, options: ModuleOpenOptions): Promise<Module> {
    const raw = new PKCS11();
    raw.load(path, options.load);
    let table: VendorErrorTable | undefined;
    try {
      await tracked(() => raw.C_InitializeAsync(options.initialize));
      const v = options.vendorErrors;
      if (typeof v === 'string') {
        table = vendorErrorTable(v);
        if (!table) throw new RangeError(`Module.open: no vendor error table named '${v}'`);
      } else if (v === undefined) {
        table = vendorErrorTableFor((await raw.C_GetInfoAsync()).manufacturerID);
      } else if (v !== false) {
        table = v;
      }
    } catch (e) {
      raw.close();
      throw e;
    }
    const mod = new Module(raw, path, table);
    mod.initOptions = options.initialize;
    return mod;
  }

  async info(): Promise<ModuleInfo> {
    const i = await this.call(() => this.raw.C_GetInfoAsync(), { fn: 'module.info' });
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

  /** The interfaces the module offers (C_GetInterfaceList); [] for a 2.x module. */
  async interfaces(): Promise<import('../binding/raw-types').InterfaceInfo[]> {
    return this.raw.has('C_GetInterfaceList') ? this.call(() => this.raw.C_GetInterfaceListAsync(), { fn: 'module.interfaces' }) : [];
  }

  /** Slots, by default only those with a token present. The same Slot object is returned each time. */
  async slots(options: { tokenPresent?: boolean } = {}): Promise<Slot[]> {
    const ids = await this.call(() => this.raw.C_GetSlotListAsync(options.tokenPresent ?? true), { fn: 'module.slots' });
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

  /** The first slot whose slot and token match a PKCS#11 URI's slot and token attributes. */
  async findSlotByUri(uri: string | Pkcs11Uri): Promise<Slot | undefined> {
    const u = typeof uri === 'string' ? parseUri(uri) : uri;
    for (const s of await this.slots()) {
      if (matchesSlot(u, await s.info(), s.id) && matchesToken(u, await s.tokenInfo())) return s;
    }
    return undefined;
  }

  /** The first slot whose token has this label. */
  async findSlot(label: string): Promise<Slot | undefined> {
    for (const s of await this.slots()) if ((await s.tokenInfo()).label === label) return s;
    return undefined;
  }

  /**
   * Watches for tokens inserted and removed: an EventEmitter ('event', 'tokenInserted',
   * 'tokenRemoved', 'error') and an async iterator, until stop() or close(). See SlotEventOptions
   * for blocking vs polling.
   */
  watchSlots(options: SlotEventOptions = {}): SlotWatcher {
    if (this.isClosed) throw new ModuleClosedError();
    const w = new SlotWatcher(this, options);
    this.watchers.add(w);
    w.once('stop', () => this.watchers.delete(w));
    // A failed first snapshot is reported by ready() and the iterator; don't leave it unhandled.
    w.ready().catch(() => undefined);
    return w;
  }

  /**
   * Finalizes and unloads. Waits for work in flight (C_Finalize waits for async calls queued
   * before it); sessions still open are closed by the module. Safe to call twice.
   */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        await this.reinitializing?.catch(() => undefined);
        // Watchers stop first; a blocking C_WaitForSlotEvent returns when C_Finalize runs.
        const watchers = [...this.watchers];
        for (const w of watchers) w.stop();
        try {
          // Calls made before close() finish first; operations left open are ended so the calls
          // queued behind them on their session can run.
          while (this.inflight > 0 || this.operations.size > 0) {
            await Promise.all([...this.operations].map((op) => op.abort()));
            if (this.inflight > 0) await new Promise<void>((r) => this.drainWaiters.push(r));
          }
          const finalized = this.call(() => this.raw.C_FinalizeAsync(), { fn: 'module.close' });
          this.finalizing = true;
          await finalized;
          // Let the woken waits report back before unloading (bounded: a module may not wake them).
          await Promise.all(watchers.map((w) => w.settled(2000)));
        } finally {
          this.finalizing = true;
          this.raw.close();
          for (const s of this.slotCache.values()) s.setLoginState(null);
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
