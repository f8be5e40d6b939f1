// The PKCS11 class of pkcs11js 2.1.7 on p11bridge's native core: the same methods, argument
// order, argument checks (pkcs11js's TypeError texts), handles as Buffers, caller-supplied output
// buffers and the views of them it returns, callback and Promise forms, and errors. Each method
// converts its handles, calls the core's function of the same name and converts the result.
import binding from '../../binding/native';
import type { PKCS11 as CoreModule, LoadOptions, Template as CoreTemplate, Ulong } from '../../binding/raw-types';
import { CKF_OS_LOCKING_OK } from '../../constants/generated';
import { rvError, toCompatError } from './errors';
import { fromHandle, toHandle } from './handles';
import { mechanismInfo, moduleInfo, sessionInfo, slotInfo, tokenInfo, u32 } from './info';
import { toMechanism } from './mechanism';
import { call, checkArity, checkBytes, checkNumber, checkString, checkTemplate, wantsCallback, withCallback, withPromise } from './support';
import type { Callback, Handle, InitializationOptions, KeyPair, Mechanism, MechanismInfo, ModuleInfo, SessionInfo, SlotInfo, Template, TemplateResult, TokenInfo } from './types';

/** A pin argument: pkcs11js's index.d.ts makes it optional; absent means the protected path. */
function pinArg(v: unknown, index: number): string | null {
  if (v === undefined || v === null) return null;
  checkString(v, index);
  return v as string;
}

const handles = (list: Ulong[]): Handle[] => list.map(toHandle);

/** Loads a PKCS#11 module and calls its functions, as pkcs11js's PKCS11 class does. */
export class PKCS11 {
  /** Path given to load(); set once loading succeeded. */
  libPath!: string;
  /**
   * The `p11bridge/raw` object this one drives (not in pkcs11js): the same loaded module and the
   * same sessions, with numbers for handles, every PKCS#11 3.x function and a Promise form of each.
   * For moving off the pkcs11js API one call at a time (docs/migrating.md).
   */
  readonly raw: CoreModule;

  constructor(libPath?: string) {
    this.raw = new binding.PKCS11();
    if (libPath) this.load(libPath);
  }

  /**
   * Loads the module (dlopen + C_GetFunctionList; no C_Initialize). As pkcs11js does, the module
   * is opened without RTLD_DEEPBIND by default, so it binds the same OpenSSL as under pkcs11js
   * (Node's, where the module links libcrypto). `options` (not in pkcs11js) are p11bridge's load
   * options; `{ deepBind: true }`, or P11BRIDGE_PKCS11JS_DEEPBIND=1 in the environment for code that
   * cannot pass it, keeps a module's own libcrypto (p11bridge's default elsewhere).
   */
  load(path: string, options?: LoadOptions): void {
    const deepBind = options?.deepBind ?? process.env.P11BRIDGE_PKCS11JS_DEEPBIND === '1';
    this.raw.load(path, { ...options, deepBind });
    this.libPath = path;
  }

  /** Closes this object's sessions, drops its C_Initialize and unloads the module. */
  close(): void {
    this.raw.close();
  }

  C_Initialize(options?: InitializationOptions): void {
    let flags: number = CKF_OS_LOCKING_OK;
    let libraryParameters: string | undefined;
    if (options !== undefined && options !== null) {
      if (typeof options !== 'object') throw new TypeError('Argument 0 has wrong type. Should be an Object');
      // The core runs calls on several threads (the async forms), so the module must lock: the
      // default is CKF_OS_LOCKING_OK where pkcs11js passed 0; flags given explicitly are kept.
      if (options.flags !== undefined) flags = options.flags;
      if ('libraryParameters' in options) {
        if (typeof options.libraryParameters !== 'string') {
          throw new TypeError("Argument 0 has wrong type. Property 'libraryParameters' should be a String");
        }
        libraryParameters = options.libraryParameters;
      }
    }
    call('C_Initialize', () => this.raw.C_Initialize(libraryParameters === undefined ? { flags } : { flags, libraryParameters }));
  }

  C_Finalize(): void {
    call('C_Finalize', () => this.raw.C_Finalize());
  }

  C_GetInfo(): ModuleInfo {
    return moduleInfo(call('C_GetInfo', () => this.raw.C_GetInfo()));
  }

  // ---- slots and tokens ----

  C_GetSlotList(tokenPresent?: boolean): Handle[] {
    if (arguments.length > 0 && typeof tokenPresent !== 'boolean') {
      throw new TypeError('Argument 0 has wrong type. Should be a Boolean');
    }
    return handles(call('C_GetSlotList', () => this.raw.C_GetSlotList(tokenPresent === true)));
  }

  C_GetSlotInfo(slot: Handle): SlotInfo {
    checkArity(arguments.length, 1);
    const id = fromHandle(slot, 0);
    return slotInfo(call('C_GetSlotInfo', () => this.raw.C_GetSlotInfo(id)));
  }

  C_GetTokenInfo(slot: Handle): TokenInfo {
    checkArity(arguments.length, 1);
    const id = fromHandle(slot, 0);
    return tokenInfo(call('C_GetTokenInfo', () => this.raw.C_GetTokenInfo(id)));
  }

  C_GetMechanismList(slot: Handle): number[] {
    checkArity(arguments.length, 1);
    const id = fromHandle(slot, 0);
    return call('C_GetMechanismList', () => this.raw.C_GetMechanismList(id)).map(u32);
  }

  C_GetMechanismInfo(slot: Handle, mech: number): MechanismInfo {
    checkArity(arguments.length, 2);
    const id = fromHandle(slot, 0);
    checkNumber(mech, 1);
    return mechanismInfo(call('C_GetMechanismInfo', () => this.raw.C_GetMechanismInfo(id, mech)));
  }

  /** pkcs11js's index.d.ts says it returns a string; it returns undefined, and so does this. */
  C_InitToken(slot: Handle, pin?: string, label?: string): void {
    const id = fromHandle(slot, 0);
    const p = pinArg(pin, 1);
    if (label !== undefined) checkString(label, 2);
    call('C_InitToken', () => this.raw.C_InitToken(id, p, label ?? ''));
  }

  C_InitPIN(session: Handle, pin?: string): void {
    const s = fromHandle(session, 0);
    const p = pinArg(pin, 1);
    call('C_InitPIN', () => this.raw.C_InitPIN(s, p));
  }

  C_SetPIN(session: Handle, oldPin: string, newPin: string): void {
    checkArity(arguments.length, 3);
    const s = fromHandle(session, 0);
    checkString(oldPin, 1);
    checkString(newPin, 2);
    call('C_SetPIN', () => this.raw.C_SetPIN(s, oldPin, newPin));
  }

  // ---- sessions ----

  C_OpenSession(slot: Handle, flags: number): Handle {
    checkArity(arguments.length, 2);
    const id = fromHandle(slot, 0);
    checkNumber(flags, 1);
    return toHandle(call('C_OpenSession', () => this.raw.C_OpenSession(id, flags)));
  }

  C_CloseSession(session: Handle): void {
    checkArity(arguments.length, 1);
    const s = fromHandle(session, 0);
    call('C_CloseSession', () => this.raw.C_CloseSession(s));
  }

  C_CloseAllSessions(slot: Handle): void {
    checkArity(arguments.length, 1);
    const id = fromHandle(slot, 0);
    call('C_CloseAllSessions', () => this.raw.C_CloseAllSessions(id));
  }

  C_GetSessionInfo(session: Handle): SessionInfo {
    if (arguments.length !== 1) checkArity(arguments.length, 1);
    const s = fromHandle(session, 0);
    let info;
    try {
      info = this.raw.C_GetSessionInfo(s);
    } catch (e) {
      throw toCompatError(e, 'C_GetSessionInfo');
    }
    return sessionInfo(info);
  }

  C_GetOperationState(session: Handle): Buffer {
    checkArity(arguments.length, 1);
    const s = fromHandle(session, 0);
    return call('C_GetOperationState', () => this.raw.C_GetOperationState(s));
  }

  C_SetOperationState(session: Handle, state: Buffer, encryptionKey: Handle, authenticationKey: Handle): void {
    checkArity(arguments.length, 4);
    const s = fromHandle(session, 0);
    checkBytes(state, 1);
    const ek = fromHandle(encryptionKey, 2);
    const ak = fromHandle(authenticationKey, 3);
    call('C_SetOperationState', () => this.raw.C_SetOperationState(s, state, ek, ak));
  }

  C_Login(session: Handle, userType: number, pin?: string): void {
    const s = fromHandle(session, 0);
    checkNumber(userType, 1);
    const p = pinArg(pin, 2);
    call('C_Login', () => this.raw.C_Login(s, userType, p));
  }

  C_Logout(session: Handle): void {
    checkArity(arguments.length, 1);
    const s = fromHandle(session, 0);
    call('C_Logout', () => this.raw.C_Logout(s));
  }

  // ---- objects ----

  C_CreateObject(session: Handle, template: Template): Handle {
    checkArity(arguments.length, 2);
    const s = fromHandle(session, 0);
    checkTemplate(template, 1);
    return toHandle(call('C_CreateObject', () => this.raw.C_CreateObject(s, template as CoreTemplate)));
  }

  C_CopyObject(session: Handle, object: Handle, template: Template): Handle {
    checkArity(arguments.length, 3);
    const s = fromHandle(session, 0);
    const o = fromHandle(object, 1);
    checkTemplate(template, 2);
    return toHandle(call('C_CopyObject', () => this.raw.C_CopyObject(s, o, template as CoreTemplate)));
  }

  C_DestroyObject(session: Handle, object: Handle): void {
    checkArity(arguments.length, 2);
    const s = fromHandle(session, 0);
    const o = fromHandle(object, 1);
    call('C_DestroyObject', () => this.raw.C_DestroyObject(s, o));
  }

  C_GetObjectSize(session: Handle, object: Handle): number {
    checkArity(arguments.length, 2);
    const s = fromHandle(session, 0);
    const o = fromHandle(object, 1);
    return u32(call('C_GetObjectSize', () => this.raw.C_GetObjectSize(s, o)));
  }

  C_FindObjectsInit(session: Handle, template: Template): void {
    checkArity(arguments.length, 2);
    const s = fromHandle(session, 0);
    checkTemplate(template, 1);
    call('C_FindObjectsInit', () => this.raw.C_FindObjectsInit(s, template as CoreTemplate));
  }

  /** With a count: up to that many handles. Without: the next handle, or null when none is left. */
  C_FindObjects(session: Handle, maxObjectCount: number): Handle[];
  C_FindObjects(session: Handle): Handle | null;
  C_FindObjects(session: Handle, maxObjectCount?: number): Handle[] | Handle | null {
    const n = arguments.length;
    if (n !== 1) checkArity(n, 2);
    const s = fromHandle(session, 0);
    if (n === 1) {
      const one = call('C_FindObjects', () => this.raw.C_FindObjects(s, 1));
      return one.length ? toHandle(one[0]) : null;
    }
    checkNumber(maxObjectCount, 1);
    return handles(call('C_FindObjects', () => this.raw.C_FindObjects(s, maxObjectCount)));
  }

  C_FindObjectsFinal(session: Handle): void {
    checkArity(arguments.length, 1);
    const s = fromHandle(session, 0);
    call('C_FindObjectsFinal', () => this.raw.C_FindObjectsFinal(s));
  }

  /**
   * Reads the attributes and sets each element's `value` in `template` itself, which it returns
   * (as pkcs11js does). A sensitive or unknown attribute fails the call with its CKR_ code.
   */
  C_GetAttributeValue(session: Handle, object: Handle, template: Template): TemplateResult {
    checkArity(arguments.length, 3);
    const s = fromHandle(session, 0);
    const o = fromHandle(object, 1);
    checkTemplate(template, 2);
    const got = call('C_GetAttributeValue', () => this.raw.C_GetAttributeValue(s, o, template));
    // pkcs11js gets the module's CK_RV for the whole template; the core reads every attribute
    // and reports each one's status. SoftHSM answers CKR_ATTRIBUTE_SENSITIVE when both kinds fail.
    if (got.some((r) => r.status === 'sensitive')) throw rvError(0x11, 'C_GetAttributeValue');
    if (got.some((r) => r.status === 'typeInvalid')) throw rvError(0x12, 'C_GetAttributeValue');
    for (let i = 0; i < got.length; i++) {
      (template[i] as { value?: unknown }).value = got[i].status === 'ok' ? got[i].value : undefined;
    }
    return template as TemplateResult;
  }

  C_SetAttributeValue(session: Handle, object: Handle, template: Template): void {
    checkArity(arguments.length, 3);
    const s = fromHandle(session, 0);
    const o = fromHandle(object, 1);
    checkTemplate(template, 2);
    call('C_SetAttributeValue', () => this.raw.C_SetAttributeValue(s, o, template as CoreTemplate));
  }

  // ---- keys ----

  C_GenerateKey(session: Handle, mechanism: Mechanism, template: Template): Handle;
  C_GenerateKey(session: Handle, mechanism: Mechanism, template: Template, cb: Callback<Handle>): void;
  C_GenerateKey(session: Handle, mechanism: Mechanism, template: Template, cb?: Callback<Handle>): Handle | void {
    const async = wantsCallback(arguments.length, 3, true);
    const s = fromHandle(session, 0);
    const m = toMechanism(mechanism, 1);
    checkTemplate(template, 2);
    const t = template as CoreTemplate;
    if (async) return withCallback(cb, 3, 'C_GenerateKey', () => this.raw.C_GenerateKeyAsync(s, m, t).then(toHandle));
    return toHandle(call('C_GenerateKey', () => this.raw.C_GenerateKey(s, m, t)));
  }

  C_GenerateKeyAsync(session: Handle, mechanism: Mechanism, template: Template): Promise<Handle> {
    const n = arguments.length;
    return withPromise('C_GenerateKey', () => {
      checkArity(n + 1, 4);
      const s = fromHandle(session, 0);
      const m = toMechanism(mechanism, 1);
      checkTemplate(template, 2);
      return this.raw.C_GenerateKeyAsync(s, m, template as CoreTemplate).then(toHandle);
    });
  }

  C_GenerateKeyPair(session: Handle, mechanism: Mechanism, publicTmpl: Template, privateTmpl: Template): KeyPair;
  C_GenerateKeyPair(session: Handle, mechanism: Mechanism, publicTmpl: Template, privateTmpl: Template, cb: Callback<KeyPair>): void;
  C_GenerateKeyPair(session: Handle, mechanism: Mechanism, publicTmpl: Template, privateTmpl: Template, cb?: Callback<KeyPair>): KeyPair | void {
    const async = wantsCallback(arguments.length, 4, true);
    const s = fromHandle(session, 0);
    const m = toMechanism(mechanism, 1);
    checkTemplate(publicTmpl, 2);
    checkTemplate(privateTmpl, 3);
    const pub = publicTmpl as CoreTemplate;
    const priv = privateTmpl as CoreTemplate;
    if (async) {
      return withCallback(cb, 4, 'C_GenerateKeyPair', () => this.raw.C_GenerateKeyPairAsync(s, m, pub, priv).then(keyPair));
    }
    return keyPair(call('C_GenerateKeyPair', () => this.raw.C_GenerateKeyPair(s, m, pub, priv)));
  }

  C_GenerateKeyPairAsync(session: Handle, mechanism: Mechanism, publicTmpl: Template, privateTmpl: Template): Promise<KeyPair> {
    const n = arguments.length;
    return withPromise('C_GenerateKeyPair', () => {
      checkArity(n + 1, 5);
      const s = fromHandle(session, 0);
      const m = toMechanism(mechanism, 1);
      checkTemplate(publicTmpl, 2);
      checkTemplate(privateTmpl, 3);
      return this.raw.C_GenerateKeyPairAsync(s, m, publicTmpl as CoreTemplate, privateTmpl as CoreTemplate).then(keyPair);
    });
  }

  C_WrapKey(session: Handle, mechanism: Mechanism, wrappingKey: Handle, key: Handle, wrappedKey: Buffer): Buffer;
  C_WrapKey(session: Handle, mechanism: Mechanism, wrappingKey: Handle, key: Handle, wrappedKey: Buffer, cb: Callback<Buffer>): void;
  C_WrapKey(session: Handle, mechanism: Mechanism, wrappingKey: Handle, key: Handle, wrappedKey: Buffer, cb?: Callback<Buffer>): Buffer | void {
    const async = wantsCallback(arguments.length, 5, true);
    const s = fromHandle(session, 0);
    const m = toMechanism(mechanism, 1);
    const wk = fromHandle(wrappingKey, 2);
    const k = fromHandle(key, 3);
    checkBytes(wrappedKey, 4);
    if (async) return withCallback(cb, 5, 'C_WrapKey', () => this.raw.C_WrapKeyAsync(s, m, wk, k, wrappedKey));
    return call('C_WrapKey', () => this.raw.C_WrapKey(s, m, wk, k, wrappedKey));
  }

  C_WrapKeyAsync(session: Handle, mechanism: Mechanism, wrappingKey: Handle, key: Handle, wrappedKey: Buffer): Promise<Buffer> {
    const n = arguments.length;
    return withPromise('C_WrapKey', () => {
      checkArity(n + 1, 6);
      const s = fromHandle(session, 0);
      const m = toMechanism(mechanism, 1);
      const wk = fromHandle(wrappingKey, 2);
      const k = fromHandle(key, 3);
      checkBytes(wrappedKey, 4);
      return this.raw.C_WrapKeyAsync(s, m, wk, k, wrappedKey);
    });
  }

  C_UnwrapKey(session: Handle, mechanism: Mechanism, unwrappingKey: Handle, wrappedKey: Buffer, template: Template): Handle;
  C_UnwrapKey(session: Handle, mechanism: Mechanism, unwrappingKey: Handle, wrappedKey: Buffer, template: Template, cb: Callback<Handle>): void;
  C_UnwrapKey(session: Handle, mechanism: Mechanism, unwrappingKey: Handle, wrappedKey: Buffer, template: Template, cb?: Callback<Handle>): Handle | void {
    const async = wantsCallback(arguments.length, 5, true);
    const s = fromHandle(session, 0);
    const m = toMechanism(mechanism, 1);
    const uk = fromHandle(unwrappingKey, 2);
    checkBytes(wrappedKey, 3);
    checkTemplate(template, 4);
    const t = template as CoreTemplate;
    if (async) return withCallback(cb, 5, 'C_UnwrapKey', () => this.raw.C_UnwrapKeyAsync(s, m, uk, wrappedKey, t).then(toHandle));
    return toHandle(call('C_UnwrapKey', () => this.raw.C_UnwrapKey(s, m, uk, wrappedKey, t)));
  }

  C_UnwrapKeyAsync(session: Handle, mechanism: Mechanism, unwrappingKey: Handle, wrappedKey: Buffer, template: Template): Promise<Handle> {
    const n = arguments.length;
    return withPromise('C_UnwrapKey', () => {
      checkArity(n + 1, 6);
      const s = fromHandle(session, 0);
      const m = toMechanism(mechanism, 1);
      const uk = fromHandle(unwrappingKey, 2);
      checkBytes(wrappedKey, 3);
      checkTemplate(template, 4);
      return this.raw.C_UnwrapKeyAsync(s, m, uk, wrappedKey, template as CoreTemplate).then(toHandle);
    });
  }

  C_DeriveKey(session: Handle, mechanism: Mechanism, key: Handle, template: Template): Handle;
  C_DeriveKey(session: Handle, mechanism: Mechanism, key: Handle, template: Template, cb: Callback<Handle>): void;
  C_DeriveKey(session: Handle, mechanism: Mechanism, key: Handle, template: Template, cb?: Callback<Handle>): Handle | void {
    const async = wantsCallback(arguments.length, 4, true);
    const s = fromHandle(session, 0);
    const m = toMechanism(mechanism, 1);
    const k = fromHandle(key, 2);
    checkTemplate(template, 3);
    const t = template as CoreTemplate;
    if (async) return withCallback(cb, 4, 'C_DeriveKey', () => this.raw.C_DeriveKeyAsync(s, m, k, t).then(toHandle));
    return toHandle(call('C_DeriveKey', () => this.raw.C_DeriveKey(s, m, k, t)));
  }

  C_DeriveKeyAsync(session: Handle, mechanism: Mechanism, key: Handle, template: Template): Promise<Handle> {
    const n = arguments.length;
    return withPromise('C_DeriveKey', () => {
      checkArity(n + 1, 5);
      const s = fromHandle(session, 0);
      const m = toMechanism(mechanism, 1);
      const k = fromHandle(key, 2);
      checkTemplate(template, 3);
      return this.raw.C_DeriveKeyAsync(s, m, k, template as CoreTemplate).then(toHandle);
    });
  }

  // ---- random, events ----

  C_SeedRandom(session: Handle, buf: Buffer): void {
    checkArity(arguments.length, 2);
    const s = fromHandle(session, 0);
    checkBytes(buf, 1);
    call('C_SeedRandom', () => this.raw.C_SeedRandom(s, buf));
  }

  /** Fills `buf` with random bytes and returns it. */
  C_GenerateRandom(session: Handle, buf: Buffer): Buffer {
    checkArity(arguments.length, 2);
    const s = fromHandle(session, 0);
    checkBytes(buf, 1);
    call('C_GenerateRandom', () => this.raw.C_GenerateRandom(s, buf));
    return buf;
  }

  /** The slot that had an event, or null (CKR_NO_EVENT with CKF_DONT_BLOCK). */
  C_WaitForSlotEvent(flags: number): Handle | null {
    checkArity(arguments.length, 1);
    checkNumber(flags, 0);
    const slot = call('C_WaitForSlotEvent', () => this.raw.C_WaitForSlotEvent(flags));
    return slot === null ? null : toHandle(slot);
  }
}

function keyPair(k: { publicKey: Ulong; privateKey: Ulong }): KeyPair {
  return { privateKey: toHandle(k.privateKey), publicKey: toHandle(k.publicKey) };
}
