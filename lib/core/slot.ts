// A slot and its token: information, mechanisms, sessions and token administration.
import type { Pin, Ulong } from '../binding/raw-types';
import type { UserType } from '../session/session';
import { decodeMechanismInfo, decodeSlotInfo, decodeTokenInfo, MechanismInfo, SlotInfo, TokenInfo } from './token';
import type { Module } from './module';
import { PoolOptions, SessionPool } from './pool';

export class Slot {
  private login: Exclude<UserType, 'context'> | null = null;
  /** Who is logged in on this slot's token, as far as this Module knows (login is per token). */
  get loginState(): Exclude<UserType, 'context'> | null {
    return this.login;
  }
  /** @internal Sessions, the pool, slot events and close() record logins and logouts here. */
  setLoginState(state: Exclude<UserType, 'context'> | null): void {
    this.login = state;
  }
  private readonly sessions = new Set<string>();
  private mechanismCache: Promise<Set<string>> | null = null;
  /** @internal The mechanism set once fetched, for callers that need not wait (hot paths). */
  knownMechanisms: Set<string> | null = null;

  /** @internal use Module.slots() */
  constructor(
    readonly module: Module,
    readonly id: Ulong,
  ) {}

  async info(): Promise<SlotInfo> {
    return decodeSlotInfo(await this.module.call(() => this.module.raw.C_GetSlotInfoAsync(this.id), { fn: 'slot.info', slot: this.id }));
  }

  async tokenInfo(): Promise<TokenInfo> {
    return decodeTokenInfo(await this.module.call(() => this.module.raw.C_GetTokenInfoAsync(this.id), { fn: 'slot.tokenInfo', slot: this.id }));
  }

  /** Every mechanism the token offers, with its key sizes and capabilities. */
  async mechanisms(): Promise<MechanismInfo[]> {
    const raw = this.module.raw;
    const types = await this.module.call(() => raw.C_GetMechanismListAsync(this.id), { fn: 'slot.mechanisms', slot: this.id });
    return Promise.all(
      types.map(async (t) => decodeMechanismInfo(t, await this.module.call(() => raw.C_GetMechanismInfoAsync(this.id, t), { fn: 'slot.mechanisms', slot: this.id }))),
    );
  }

  /** @internal The mechanism types the token offers (as strings), fetched once. */
  mechanismSet(): Promise<Set<string>> {
    if (!this.mechanismCache) {
      this.mechanismCache = this.module
        .call(() => this.module.raw.C_GetMechanismListAsync(this.id), { fn: 'slot.mechanisms', slot: this.id })
        .then((l) => (this.knownMechanisms = new Set(l.map(String))));
      this.mechanismCache.catch(() => (this.mechanismCache = null));
    }
    return this.mechanismCache;
  }

  async mechanismInfo(type: Ulong): Promise<MechanismInfo> {
    return decodeMechanismInfo(type, await this.module.call(() => this.module.raw.C_GetMechanismInfoAsync(this.id, type), { fn: 'slot.mechanismInfo', slot: this.id }));
  }

  // openSession() is added by session/index.ts: a Slot makes Sessions, but the session layer sits
  // above this one, so the method comes from there (docs/architecture.md).

  /** @internal Records a session opened on this slot (session/index.ts's openSession()). */
  sessionOpened(handle: Ulong): void {
    this.sessions.add(String(handle));
  }

  /** A pool of sessions on this slot (see PoolOptions). */
  pool(options: PoolOptions = {}): Promise<SessionPool> {
    return SessionPool.create(this, options);
  }

  /** Re-initializes the token (all its objects are destroyed). No session may be open on it. */
  async initToken(soPin: Pin, label: string): Promise<void> {
    await this.module.call(() => this.module.raw.C_InitTokenAsync(this.id, soPin, label), { fn: 'slot.initToken', slot: this.id });
    this.login = null;
  }

  /** @internal Module.reinitialize(): the module's sessions, and its login, ended with C_Finalize. */
  forgetSessions(): void {
    this.sessions.clear();
    this.login = null;
  }

  /** Number of sessions this Module has open on the slot. */
  get openSessionCount(): number {
    return this.sessions.size;
  }

  /** @internal Called once a session is closed; the token logs out with its last session. */
  sessionClosedCallback(handle: Ulong): () => void {
    return () => {
      this.sessions.delete(String(handle));
      if (this.sessions.size === 0) this.login = null;
    };
  }
}
