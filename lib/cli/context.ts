// What a command works on: the module (--module, or the URI's module-path / module-name), the
// token (--slot, --token, or the URI's slot and token attributes), a session, and objects by URI.
import { Module, parseUri, formatUri, uriTemplate, uriTypeOf } from '../index';
import type { Pkcs11Uri, Slot, Session, Pkcs11Object, TypedTokenInfo } from '../index';
import { CliError, UsageError } from './errors';
import { noPinError, obtainPin } from './pin';

export interface CommonOptions {
  module?: string;
  slot?: string;
  token?: string;
  json?: boolean;
  /** No progress indicator. */
  quiet?: boolean;
  pinSource?: string;
  login?: boolean;
}

/** Parses a `pkcs11:` argument; undefined gives an empty URI. */
export function uriArgument(arg: string | undefined): Pkcs11Uri {
  if (arg === undefined || arg === '') return {};
  if (!/^pkcs11:/i.test(arg)) throw new UsageError('expected a PKCS#11 URI (pkcs11:…)');
  return parseUri(arg);
}

/**
 * --module takes a path, or a name from `list-modules` (a p11-kit config name or a well-known
 * name such as softhsm2), looked up when it has no '/'.
 */
export async function modulePath(arg: string): Promise<string> {
  if (arg.includes('/') || arg.endsWith('.so') || arg.endsWith('.dylib') || arg.endsWith('.dll')) return arg;
  const found = (await Module.discover()).filter((m) => m.exists);
  const hit = found.find((m) => m.name === arg) ?? found.find((m) => m.name.toLowerCase() === arg.toLowerCase());
  if (hit) return hit.path;
  const names = found.map((m) => m.name);
  throw new UsageError(
    `no module named '${arg}' here (list-modules shows ${names.length ? names.join(', ') : 'none'}): ` +
      "give a module's path, or one of those names; in a URI, module-name= works the same way",
  );
}

const TOKEN_KEYS = ['token', 'manufacturer', 'serial', 'model', 'slotManufacturer', 'slotDescription', 'slotId'] as const;

export class Target {
  private chosen: Slot | undefined;
  private readonly sessions: Session[] = [];

  private constructor(
    readonly mod: Module,
    readonly uri: Pkcs11Uri,
    private readonly options: CommonOptions,
  ) {}

  /** Opens the module the options and URI name. */
  static async open(uriArg: string | undefined, options: CommonOptions): Promise<Target> {
    const uri = uriArgument(uriArg);
    if (options.token !== undefined) uri.token = options.token;
    let mod: Module;
    if (options.module !== undefined) mod = await Module.open(await modulePath(options.module));
    else if (uri.modulePath !== undefined || uri.moduleName !== undefined) mod = await Module.open({ uri: { ...uri, pinValue: undefined } });
    else if (process.env.P11BRIDGE_MODULE) mod = await Module.open(process.env.P11BRIDGE_MODULE);
    else throw new UsageError('no module: give --module <path>, a pkcs11: URI with module-path= or module-name=, or set P11BRIDGE_MODULE');
    return new Target(mod, uri, options);
  }

  /**
   * The one token the options and URI choose; with no choice, the only initialized token (or,
   * with `uninitialized`, the only token not initialized yet: what init-token takes by default).
   */
  async slot(options: { uninitialized?: boolean } = {}): Promise<Slot> {
    if (this.chosen) return this.chosen;
    const o = this.options;
    if (o.slot !== undefined) {
      if (!/^\d+$/.test(o.slot)) throw new UsageError('--slot takes a slot ID (a number)');
      const id = BigInt(o.slot) <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(o.slot) : BigInt(o.slot);
      const s = this.mod.slot(id);
      await s.tokenInfo(); // CKR_SLOT_ID_INVALID / CKR_TOKEN_NOT_PRESENT here
      return (this.chosen = s);
    }
    if (TOKEN_KEYS.some((k) => this.uri[k] !== undefined)) {
      const s = await this.mod.findSlotByUri(this.uri);
      if (!s) throw new CliError('no token matches the URI');
      return (this.chosen = s);
    }
    const initialized: Array<{ slot: Slot; info: TypedTokenInfo }> = [];
    const fresh: Slot[] = [];
    for (const s of await this.mod.slots()) {
      const info = await s.tokenInfo();
      if (info.flags.tokenInitialized) initialized.push({ slot: s, info });
      else fresh.push(s);
    }
    if (options.uninitialized) {
      if (fresh.length === 1) return (this.chosen = fresh[0]);
      throw new UsageError(`${fresh.length === 0 ? 'no' : String(fresh.length)} uninitialized tokens: choose the token with --slot, slot-id= or token= in the URI, or --token`);
    }
    if (initialized.length === 0) throw new CliError('no initialized token');
    if (initialized.length > 1) {
      throw new UsageError(`${initialized.length} tokens (${initialized.map((t) => `'${t.info.label}'`).join(', ')}): choose one with token= in the URI, --token or --slot`);
    }
    return (this.chosen = initialized[0].slot);
  }

  /**
   * A session on the chosen token. login: 'required' logs the user in (PIN from the sources or a
   * prompt), 'optional' only when a PIN source is given (or --login), 'never' not at all.
   */
  async session(options: { write?: boolean; login: 'required' | 'optional' | 'never' }): Promise<Session> {
    const slot = await this.slot();
    const session = await slot.openSession({ write: options.write ?? false });
    this.sessions.push(session);
    let mode = options.login;
    if (mode === 'optional' && (this.options.login || this.options.pinSource !== undefined || this.uri.pinSource !== undefined || this.uri.pinValue !== undefined))
      mode = 'required';
    if (mode !== 'required' || slot.loginState === 'user') return session;
    const info = await slot.tokenInfo();
    const explicit = this.options.pinSource !== undefined || this.uri.pinSource !== undefined || this.uri.pinValue !== undefined;
    if (!info.flags.loginRequired && !this.options.login && !explicit) return session;
    if (info.flags.protectedAuthenticationPath && !explicit) {
      if (process.stderr.isTTY) process.stderr.write(`Enter the PIN on the reader of '${info.label}'\n`);
      await session.login();
      return session;
    }
    const pin = await obtainPin({ pinSource: this.options.pinSource, uriPinSource: this.uri.pinSource, uriPinValue: this.uri.pinValue, tokenLabel: info.label });
    if (!pin) throw noPinError();
    try {
      await session.login(pin);
    } finally {
      pin.fill(0);
    }
    return session;
  }

  /** The token's URI attributes, for URIs the command prints. */
  async tokenUri(): Promise<Pkcs11Uri> {
    const t = await (await this.slot()).tokenInfo();
    return { token: t.label, manufacturer: t.manufacturerID, serial: t.serialNumber, model: t.model, modulePath: this.mod.path };
  }

  /** A URI for an object of this token. */
  async objectUri(attrs: { label?: unknown; id?: unknown; class?: unknown }): Promise<string> {
    const parts: Pkcs11Uri = await this.tokenUri();
    if (typeof attrs.label === 'string') parts.object = attrs.label;
    if (Buffer.isBuffer(attrs.id) && attrs.id.length > 0) parts.id = attrs.id;
    const type = typeof attrs.class === 'string' ? uriTypeOf(attrs.class) : undefined;
    if (type) parts.type = type;
    return formatUri(parts);
  }

  /** Objects the URI's object, id and type name, with the class restricted to `classes` when given. */
  async findObjects(session: Session, classes?: readonly string[]): Promise<Pkcs11Object[]> {
    const t = uriTemplate(this.uri);
    if (classes && t.class !== undefined && !classes.includes(t.class)) {
      throw new UsageError(`the URI's type= names a ${t.class}; this command takes ${classes.join(' or ')}`);
    }
    if (t.class !== undefined || !classes) return session.findAll(t);
    const out: Pkcs11Object[] = [];
    for (const c of classes) out.push(...(await session.findAll({ ...t, class: c })));
    return out;
  }

  /** Exactly one object of `classes` that the URI names. */
  async findOne(session: Session, classes: readonly string[], what: string): Promise<Pkcs11Object> {
    if (this.uri.object === undefined && this.uri.id === undefined) throw new UsageError(`name the ${what} with object= and/or id= in the URI`);
    const found = await this.findObjects(session, classes);
    if (found.length === 0) throw new CliError(`no ${what} matches the URI`);
    if (found.length > 1) throw new CliError(`${found.length} objects match the URI: add id= or type= to choose one`);
    return found[0];
  }

  async close(): Promise<void> {
    for (const s of this.sessions) await s.close().catch(() => undefined);
    await this.mod.close();
  }
}
