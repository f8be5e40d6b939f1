// RFC 7512 PKCS#11 URIs: parse, format, and match against what the typed layer reads (module,
// slot and token info) or turn into a find() template. Standalone: loads no native code.
//
//   pkcs11:token=My%20Token;object=k1;type=private;id=%01%02?pin-source=file:/run/pin&module-name=softhsm2
//
// Attribute names in the parsed object are camelCase (libraryManufacturer, slotId, pinValue…);
// vendor attributes (x-…) keep their names under `vendor`. The PIN (pin-value) never appears in an
// error message, and format() leaves it out unless asked (includePin: true).
import type { Ulong, Version } from '../binding/raw-types';
import type { ModuleInfo } from '../core/module';
import type { SlotInfo, TokenInfo } from '../core/token';

/** The object types of the `type` attribute. */
export type UriObjectType = 'cert' | 'data' | 'private' | 'public' | 'secret-key';

export interface Pkcs11Uri {
  // Path: token (CK_TOKEN_INFO)
  token?: string;
  manufacturer?: string;
  serial?: string;
  model?: string;
  // Path: library (CK_INFO)
  libraryManufacturer?: string;
  libraryDescription?: string;
  /** `library-version=M` is read as M.0. */
  libraryVersion?: Version;
  // Path: slot (CK_SLOT_INFO, CK_SLOT_ID)
  slotManufacturer?: string;
  slotDescription?: string;
  /** A number, or a bigint when it does not fit in a safe integer. */
  slotId?: Ulong;
  // Path: object
  /** CKA_LABEL. */
  object?: string;
  type?: UriObjectType;
  /** CKA_ID, as bytes. */
  id?: Buffer;
  // Query
  pinSource?: string;
  pinValue?: string;
  moduleName?: string;
  modulePath?: string;
  /** Vendor attributes (x-…), by their URI names; values percent-decoded as UTF-8. */
  vendor?: { path?: Record<string, string>; query?: Record<string, string> };
}

export type Pkcs11UriErrorCode =
  | 'ERR_P11_URI_SCHEME'
  | 'ERR_P11_URI_SYNTAX'
  | 'ERR_P11_URI_CHARACTER'
  | 'ERR_P11_URI_PERCENT'
  | 'ERR_P11_URI_UTF8'
  | 'ERR_P11_URI_UNKNOWN_ATTRIBUTE'
  | 'ERR_P11_URI_DUPLICATE_ATTRIBUTE'
  | 'ERR_P11_URI_VALUE';

/** A malformed PKCS#11 URI. `attribute` names the attribute at fault, when there is one. */
export class Pkcs11UriError extends URIError {
  readonly code: Pkcs11UriErrorCode;
  readonly attribute: string | undefined;
  constructor(code: Pkcs11UriErrorCode, message: string, attribute?: string) {
    super(`invalid PKCS#11 URI: ${message}`);
    this.name = 'Pkcs11UriError';
    this.code = code;
    this.attribute = attribute;
  }
}

// ---- the attribute tables ------------------------------------------------------------------

type TextKey = Exclude<keyof Pkcs11Uri, 'libraryVersion' | 'slotId' | 'type' | 'id' | 'vendor'>;

/** Path attributes, in the order format() writes them (library → slot → token → object). */
const PATH_ATTRIBUTES: ReadonlyArray<readonly [string, keyof Pkcs11Uri]> = [
  ['library-manufacturer', 'libraryManufacturer'],
  ['library-description', 'libraryDescription'],
  ['library-version', 'libraryVersion'],
  ['slot-manufacturer', 'slotManufacturer'],
  ['slot-description', 'slotDescription'],
  ['slot-id', 'slotId'],
  ['manufacturer', 'manufacturer'],
  ['model', 'model'],
  ['serial', 'serial'],
  ['token', 'token'],
  ['object', 'object'],
  ['type', 'type'],
  ['id', 'id'],
];

const QUERY_ATTRIBUTES: ReadonlyArray<readonly [string, keyof Pkcs11Uri]> = [
  ['pin-source', 'pinSource'],
  ['pin-value', 'pinValue'],
  ['module-name', 'moduleName'],
  ['module-path', 'modulePath'],
];

const PATH_BY_NAME = new Map(PATH_ATTRIBUTES);
const QUERY_BY_NAME = new Map(QUERY_ATTRIBUTES);

const OBJECT_TYPES: readonly UriObjectType[] = ['cert', 'data', 'private', 'public', 'secret-key'];

/** URI `type` → the object class names of lib/template/attributes.ts. */
const TYPE_TO_CLASS: Record<UriObjectType, string> = {
  cert: 'certificate',
  data: 'data',
  private: 'privateKey',
  public: 'publicKey',
  'secret-key': 'secretKey',
};

const VENDOR_NAME = /^x-[A-Za-z0-9_-]+$/;

// RFC 7512 §2.3: pk11-pchar = unreserved / pk11-res-avail / pct-encoded, and pk11-qchar adds
// "/" "?" "|" to what may stand unencoded in a query value.
const UNRESERVED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';
const RES_AVAIL = ":[]@!$'()*+,=";
const PATH_CHARS = new Set(UNRESERVED + RES_AVAIL);
const QUERY_CHARS = new Set(UNRESERVED + RES_AVAIL + '/?|');

// ---- parse ----------------------------------------------------------------------------------

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** What an error may say about a value: never the PIN. */
function shown(name: string, raw: string): string {
  if (name === 'pin-value') return '(value hidden)';
  return JSON.stringify(raw.length > 64 ? raw.slice(0, 64) + '…' : raw);
}

function decodeBytes(name: string, raw: string, allowed: Set<string>): Buffer {
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === '%') {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
        const where = name === 'pin-value' ? '' : ` at ${JSON.stringify(raw.slice(i, i + 3))}`;
        throw new Pkcs11UriError('ERR_P11_URI_PERCENT', `bad percent escape in '${name}'${where}: expected %XX with two hex digits`, name);
      }
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (allowed.has(c)) {
      out.push(c.charCodeAt(0));
    } else {
      const what = name === 'pin-value' ? 'a character' : `character ${JSON.stringify(c)}`;
      throw new Pkcs11UriError('ERR_P11_URI_CHARACTER', `${what} in '${name}' must be percent-encoded`, name);
    }
  }
  return Buffer.from(out);
}

function decodeText(name: string, raw: string, allowed: Set<string>): string {
  const bytes = decodeBytes(name, raw, allowed);
  try {
    return utf8.decode(bytes);
  } catch {
    throw new Pkcs11UriError('ERR_P11_URI_UTF8', `'${name}' is not valid UTF-8 once percent-decoded`, name);
  }
}

/** Splits "name=value"; the name is what comes before the first '='. */
function splitAttribute(part: string, where: 'path' | 'query'): [string, string] {
  const eq = part.indexOf('=');
  if (eq <= 0) {
    const name = eq < 0 ? part : '';
    // A bare word might be a PIN typed in the wrong place: show it only when it is a known name.
    const hint = PATH_BY_NAME.has(name) || QUERY_BY_NAME.has(name) ? ` '${name}'` : '';
    throw new Pkcs11UriError(
      'ERR_P11_URI_SYNTAX',
      part === '' ? `empty ${where} attribute (a stray '${where === 'path' ? ';' : '&'}'?)` : `${where} attribute${hint} is not of the form name=value`,
    );
  }
  return [part.slice(0, eq), part.slice(eq + 1)];
}

function checkVendorName(name: string): void {
  if (!VENDOR_NAME.test(name)) {
    throw new Pkcs11UriError('ERR_P11_URI_SYNTAX', `vendor attribute name '${name.slice(0, 64)}' may hold only letters, digits, '-' and '_'`, name);
  }
}

/** Parses an RFC 7512 PKCS#11 URI. Throws Pkcs11UriError (a URIError with a `code`) on any defect. */
export function parse(uri: string): Pkcs11Uri {
  if (typeof uri !== 'string') {
    throw Object.assign(new TypeError(`parse: the URI must be a string, got ${uri === null ? 'null' : typeof uri}`), { code: 'ERR_INVALID_ARG_TYPE' });
  }
  const colon = uri.indexOf(':');
  const scheme = colon < 0 ? '' : uri.slice(0, colon);
  if (scheme.toLowerCase() !== 'pkcs11') {
    const got = /^[A-Za-z][A-Za-z0-9+.-]{0,31}$/.test(scheme) ? `'${scheme}:'` : 'no scheme';
    throw new Pkcs11UriError('ERR_P11_URI_SCHEME', `expected the scheme 'pkcs11:', got ${got}`);
  }
  const rest = uri.slice(colon + 1);
  if (rest.includes('#')) throw new Pkcs11UriError('ERR_P11_URI_SYNTAX', "a PKCS#11 URI has no fragment: '#' must be percent-encoded");
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? null : rest.slice(q + 1);

  const out: Pkcs11Uri = {};
  const seen = new Set<string>();
  const vendorPath: Record<string, string> = {};
  const vendorQuery: Record<string, string> = {};
  const once = (name: string) => {
    if (seen.has(name)) throw new Pkcs11UriError('ERR_P11_URI_DUPLICATE_ATTRIBUTE', `attribute '${name}' appears more than once`, name);
    seen.add(name);
  };

  if (path !== '') {
    for (const part of path.split(';')) {
      const [name, raw] = splitAttribute(part, 'path');
      if (name.startsWith('x-')) {
        checkVendorName(name);
        once(name);
        vendorPath[name] = decodeText(name, raw, PATH_CHARS);
        continue;
      }
      const key = PATH_BY_NAME.get(name);
      if (!key) {
        const hint = QUERY_BY_NAME.has(name) ? ` ('${name}' belongs in the query, after '?')` : '';
        throw new Pkcs11UriError('ERR_P11_URI_UNKNOWN_ATTRIBUTE', `unknown path attribute '${name.slice(0, 64)}'${hint}`, name);
      }
      once(name);
      setPathValue(out, name, key, raw);
    }
  }

  if (query !== null && query !== '') {
    for (const part of query.split('&')) {
      const [name, raw] = splitAttribute(part, 'query');
      if (name.startsWith('x-')) {
        checkVendorName(name);
        once(name);
        vendorQuery[name] = decodeText(name, raw, QUERY_CHARS);
        continue;
      }
      const key = QUERY_BY_NAME.get(name);
      if (!key) {
        const hint = PATH_BY_NAME.has(name) ? ` ('${name}' belongs in the path, before '?')` : '';
        throw new Pkcs11UriError('ERR_P11_URI_UNKNOWN_ATTRIBUTE', `unknown query attribute '${name.slice(0, 64)}'${hint}`, name);
      }
      once(name);
      (out as Record<string, unknown>)[key] = decodeText(name, raw, QUERY_CHARS);
    }
  }

  if (Object.keys(vendorPath).length || Object.keys(vendorQuery).length) {
    out.vendor = {};
    if (Object.keys(vendorPath).length) out.vendor.path = vendorPath;
    if (Object.keys(vendorQuery).length) out.vendor.query = vendorQuery;
  }
  return out;
}

function setPathValue(out: Pkcs11Uri, name: string, key: keyof Pkcs11Uri, raw: string): void {
  switch (key) {
    case 'id':
      out.id = decodeBytes(name, raw, PATH_CHARS);
      return;
    case 'type': {
      const v = decodeText(name, raw, PATH_CHARS);
      if (!(OBJECT_TYPES as readonly string[]).includes(v)) {
        throw new Pkcs11UriError('ERR_P11_URI_VALUE', `unknown type ${shown(name, v)}: expected one of ${OBJECT_TYPES.join(', ')}`, name);
      }
      out.type = v as UriObjectType;
      return;
    }
    case 'slotId': {
      const v = decodeText(name, raw, PATH_CHARS);
      if (!/^[0-9]+$/.test(v)) throw new Pkcs11UriError('ERR_P11_URI_VALUE', `slot-id ${shown(name, v)} is not a decimal number`, name);
      const n = BigInt(v);
      if (n > 0xffffffffffffffffn) throw new Pkcs11UriError('ERR_P11_URI_VALUE', `slot-id ${shown(name, v)} does not fit in a CK_ULONG`, name);
      out.slotId = n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
      return;
    }
    case 'libraryVersion': {
      const v = decodeText(name, raw, PATH_CHARS);
      const m = /^([0-9]+)(?:\.([0-9]+))?$/.exec(v);
      const major = m ? Number(m[1]) : NaN;
      const minor = m && m[2] !== undefined ? Number(m[2]) : 0;
      if (!m || major > 255 || minor > 255) {
        throw new Pkcs11UriError('ERR_P11_URI_VALUE', `library-version ${shown(name, v)} is not M or M.N (decimal, each at most 255)`, name);
      }
      out.libraryVersion = { major, minor };
      return;
    }
    default:
      (out as Record<string, unknown>)[key as TextKey] = decodeText(name, raw, PATH_CHARS);
  }
}

// ---- format ---------------------------------------------------------------------------------

export interface FormatOptions {
  /** Write pin-value when the parts have one (default false: it is left out). */
  includePin?: boolean;
}

function hex2(b: number): string {
  return '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
}

function encode(bytes: Uint8Array, allowed: Set<string> | null): string {
  let s = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    s += allowed && b < 0x80 && allowed.has(c) ? c : hex2(b);
  }
  return s;
}

function formatError(message: string): TypeError {
  return Object.assign(new TypeError(`format: ${message}`), { code: 'ERR_INVALID_ARG_VALUE' });
}

function textValue(name: string, v: unknown): string {
  if (typeof v !== 'string') throw formatError(`'${name}' must be a string, got ${typeof v}`);
  return v;
}

/**
 * The canonical URI for `parts`: path attributes in a fixed order (library, slot, token, object),
 * then the query; text percent-encoded where RFC 7512 requires it (as UTF-8, uppercase hex), the
 * id always fully %XX-encoded. pin-value only with { includePin: true }.
 */
export function format(parts: Pkcs11Uri, options: FormatOptions = {}): string {
  if (parts === null || typeof parts !== 'object') throw formatError('the URI parts must be an object');
  const path: string[] = [];
  for (const [name, key] of PATH_ATTRIBUTES) {
    const v = parts[key];
    if (v === undefined) continue;
    let enc: string;
    if (key === 'id') {
      if (!(v instanceof Uint8Array)) throw formatError("'id' must be a Buffer or Uint8Array");
      enc = encode(v, null);
    } else if (key === 'type') {
      if (!(OBJECT_TYPES as readonly unknown[]).includes(v)) throw formatError(`'type' must be one of ${OBJECT_TYPES.join(', ')}`);
      enc = v as string;
    } else if (key === 'slotId') {
      const ok = (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) || (typeof v === 'bigint' && v >= 0n && v <= 0xffffffffffffffffn);
      if (!ok) throw formatError("'slotId' must be a non-negative integer (number or bigint)");
      enc = String(v);
    } else if (key === 'libraryVersion') {
      const ver = v as Version;
      const byte = (n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 255;
      if (!ver || !byte(ver.major) || !byte(ver.minor)) throw formatError("'libraryVersion' must be { major, minor } with integers 0-255");
      enc = `${ver.major}.${ver.minor}`;
    } else {
      enc = encode(Buffer.from(textValue(key, v), 'utf8'), PATH_CHARS);
    }
    path.push(`${name}=${enc}`);
  }
  const query: string[] = [];
  for (const [name, key] of QUERY_ATTRIBUTES) {
    const v = parts[key];
    if (v === undefined || (key === 'pinValue' && !options.includePin)) continue;
    query.push(`${name}=${encode(Buffer.from(textValue(key, v), 'utf8'), QUERY_CHARS)}`);
  }
  const vendor = parts.vendor ?? {};
  for (const [attrs, list, allowed] of [
    [vendor.path, path, PATH_CHARS],
    [vendor.query, query, QUERY_CHARS],
  ] as const) {
    for (const [name, v] of Object.entries(attrs ?? {})) {
      if (!VENDOR_NAME.test(name)) throw formatError(`vendor attribute name '${name}' must be x- followed by letters, digits, '-' or '_'`);
      list.push(`${name}=${encode(Buffer.from(textValue(name, v), 'utf8'), allowed)}`);
    }
  }
  return 'pkcs11:' + path.join(';') + (query.length ? '?' + query.join('&') : '');
}

// ---- matching -------------------------------------------------------------------------------

function asUri(uri: Pkcs11Uri | string): Pkcs11Uri {
  return typeof uri === 'string' ? parse(uri) : uri;
}

/** CK_INFO / CK_TOKEN_INFO strings are blank-padded: compare without the padding. */
function same(want: string | undefined, have: string): boolean {
  return want === undefined || want === have.replace(/ +$/, '');
}

/** A module file's name as module-name means it: no directory, no 'lib' prefix, no extension. */
function moduleNameOf(path: string): string {
  const base = path.split(/[\\/]/).pop() ?? path;
  return base.replace(/^lib/, '').replace(/\.(so(\.[0-9.]+)?|dylib|dll)$/i, '');
}

/**
 * True when the URI's library attributes (library-manufacturer, library-description,
 * library-version) and module-path / module-name fit this module. Absent attributes match anything.
 */
export function matchesModule(uri: Pkcs11Uri | string, info: Pick<ModuleInfo, 'manufacturerID' | 'description' | 'libraryVersion'> & { path?: string }): boolean {
  const u = asUri(uri);
  if (!same(u.libraryManufacturer, info.manufacturerID) || !same(u.libraryDescription, info.description)) return false;
  if (u.libraryVersion && (u.libraryVersion.major !== info.libraryVersion.major || u.libraryVersion.minor !== info.libraryVersion.minor)) return false;
  if (info.path !== undefined) {
    if (u.modulePath !== undefined && u.modulePath !== info.path) return false;
    if (u.moduleName !== undefined && moduleNameOf(u.moduleName) !== moduleNameOf(info.path)) return false;
  }
  return true;
}

/** True when slot-manufacturer, slot-description and slot-id fit this slot. */
export function matchesSlot(uri: Pkcs11Uri | string, info: Pick<SlotInfo, 'manufacturerID' | 'description'>, slotId: Ulong): boolean {
  const u = asUri(uri);
  if (!same(u.slotManufacturer, info.manufacturerID) || !same(u.slotDescription, info.description)) return false;
  return u.slotId === undefined || BigInt(u.slotId) === BigInt(slotId);
}

/** True when token, manufacturer, model and serial fit this token. */
export function matchesToken(uri: Pkcs11Uri | string, info: Pick<TokenInfo, 'label' | 'manufacturerID' | 'model' | 'serialNumber'>): boolean {
  const u = asUri(uri);
  return same(u.token, info.label) && same(u.manufacturer, info.manufacturerID) && same(u.model, info.model) && same(u.serial, info.serialNumber);
}

/** The find() template for the URI's object attributes: { label, id, class } (only those present). */
export function toTemplate(uri: Pkcs11Uri | string): { label?: string; id?: Buffer; class?: string } {
  const u = asUri(uri);
  const t: { label?: string; id?: Buffer; class?: string } = {};
  if (u.type !== undefined) t.class = TYPE_TO_CLASS[u.type];
  if (u.object !== undefined) t.label = u.object;
  if (u.id !== undefined) t.id = Buffer.from(u.id);
  return t;
}

/** The URI's object class name for a template class name, the inverse of toTemplate's mapping. */
export function uriTypeOf(className: string): UriObjectType | undefined {
  return (Object.keys(TYPE_TO_CLASS) as UriObjectType[]).find((k) => TYPE_TO_CLASS[k] === className);
}
