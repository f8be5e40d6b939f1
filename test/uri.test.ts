// RFC 7512 PKCS#11 URIs (lib/uri.ts): parse, format, round trips, percent-encoding, rejections,
// matching and templates; then URIs printed by tools nobody here wrote — GnuTLS's p11tool and
// p11-kit's `trust list` — checked against what pkcs11-tool and the typed layer read from the same
// throw-away SoftHSM. The typed layer runs in a child process: SoftHSM reads SOFTHSM2_CONF from
// the real environment, which jest's sandboxed process.env is not.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { format, matchesModule, matchesSlot, matchesToken, parse, Pkcs11Uri, Pkcs11UriError, toTemplate } from '../lib/locate/uri';
import { runChild, repoRoot } from './helpers/child-process';

function rejects(uri: string, code: string, attribute?: string): Pkcs11UriError {
  let err: unknown;
  try {
    parse(uri);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(Pkcs11UriError);
  expect(err).toBeInstanceOf(URIError);
  const e = err as Pkcs11UriError;
  expect(e.code).toBe(code);
  if (attribute !== undefined) expect(e.attribute).toBe(attribute);
  expect(e.message).toMatch(/^invalid PKCS#11 URI: /);
  return e;
}

describe('parse', () => {
  test('the empty URI and the scheme in any case', () => {
    expect(parse('pkcs11:')).toEqual({});
    expect(parse('PKCS11:token=a')).toEqual({ token: 'a' });
    expect(parse('pkcs11:?')).toEqual({});
  });

  test('the examples of RFC 7512 §3', () => {
    expect(parse('pkcs11:object=my-pubkey;type=public')).toEqual({ object: 'my-pubkey', type: 'public' });
    expect(parse('pkcs11:object=my-key;type=private?pin-source=file:/etc/token')).toEqual({
      object: 'my-key',
      type: 'private',
      pinSource: 'file:/etc/token',
    });
    expect(
      parse(
        'pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;' +
          'object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=?pin-source=file:/etc/token_pin',
      ),
    ).toEqual({
      token: 'The Software PKCS#11 Softtoken',
      manufacturer: 'Snake Oil, Inc.',
      model: '1.0',
      object: 'my-certificate',
      type: 'cert',
      id: Buffer.from('69953e5cf4bdec91', 'hex'),
      serial: '',
      pinSource: 'file:/etc/token_pin',
    });
    expect(parse('pkcs11:object=my-sign-key;type=private?module-name=mypkcs11')).toEqual({ object: 'my-sign-key', type: 'private', moduleName: 'mypkcs11' });
    expect(parse('pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1').modulePath).toBe('/mnt/libmypkcs11.so.1');
    expect(parse('pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin').pinValue).toBe('the-pin');
    expect(parse('pkcs11:slot-description=Sun%20Metaslot')).toEqual({ slotDescription: 'Sun Metaslot' });
    expect(parse('pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;library-version=1.23')).toEqual({
      libraryManufacturer: 'Snake Oil, Inc.',
      libraryDescription: 'Soft Token Library',
      libraryVersion: { major: 1, minor: 23 },
    });
    expect(parse('pkcs11:token=My%20token%25%20created%20by%20Joe;library-version=3;id=%01%02%03%Ba%dd%Ca%fe%04%05%06')).toEqual({
      token: 'My token% created by Joe',
      libraryVersion: { major: 3, minor: 0 },
      id: Buffer.from('010203baddcafe040506', 'hex'),
    });
    expect(parse('pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert').token).toBe('A name with a substring %;');
    expect(parse('pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;type=cert').token).toBe('Name with a small A with acute: á');
    expect(parse('pkcs11:token=my-token;object=my-certificate;type=cert;x-vend-aaa=value-a?pin-source=file:/etc/token_pin&x-vend-bbb=value-b')).toEqual({
      token: 'my-token',
      object: 'my-certificate',
      type: 'cert',
      pinSource: 'file:/etc/token_pin',
      vendor: { path: { 'x-vend-aaa': 'value-a' }, query: { 'x-vend-bbb': 'value-b' } },
    });
  });

  test('slot-id: decimal, a bigint beyond 2^53, up to a 64-bit CK_ULONG', () => {
    expect(parse('pkcs11:slot-id=0').slotId).toBe(0);
    expect(parse('pkcs11:slot-id=1676699982').slotId).toBe(1676699982);
    expect(parse('pkcs11:slot-id=18446744073709551615').slotId).toBe(18446744073709551615n);
    expect(parse('pkcs11:slot-manufacturer=SoftHSM%20project;slot-description=SoftHSM%20slot%20ID%200x2;slot-id=2')).toEqual({
      slotManufacturer: 'SoftHSM project',
      slotDescription: 'SoftHSM slot ID 0x2',
      slotId: 2,
    });
  });

  test('every type value, and each maps to the typed layer class name', () => {
    const classes = { cert: 'certificate', data: 'data', private: 'privateKey', public: 'publicKey', 'secret-key': 'secretKey' };
    for (const [type, cls] of Object.entries(classes)) {
      expect(parse(`pkcs11:type=${type}`).type).toBe(type);
      expect(toTemplate(`pkcs11:type=${type}`)).toEqual({ class: cls });
    }
  });

  test('percent-decoding: text as UTF-8, id as raw bytes, hex in either case, = and other sub-delims kept', () => {
    expect(parse('pkcs11:object=a%2fb%2Fc').object).toBe('a/b/c');
    expect(parse('pkcs11:object=%E2%82%AC%20=x').object).toBe('€ =x');
    expect(parse("pkcs11:object=:[]@!$'()*+,=-._~").object).toBe(":[]@!$'()*+,=-._~");
    expect(parse('pkcs11:id=%00%FF%80').id).toEqual(Buffer.from([0, 0xff, 0x80]));
    expect(parse('pkcs11:id=AB').id).toEqual(Buffer.from('AB', 'latin1')); // unencoded bytes are the characters' bytes
    expect(parse('pkcs11:id=').id).toEqual(Buffer.alloc(0));
    expect(parse('pkcs11:?module-path=/usr/lib/x|y?z').modulePath).toBe('/usr/lib/x|y?z');
  });
});

describe('rejections name the problem', () => {
  test('scheme', () => {
    expect(rejects('token=a', 'ERR_P11_URI_SCHEME').message).toMatch(/expected the scheme 'pkcs11:', got no scheme/);
    expect(rejects('pkcs12:token=a', 'ERR_P11_URI_SCHEME').message).toMatch(/got 'pkcs12:'/);
    rejects('', 'ERR_P11_URI_SCHEME');
    rejects(' pkcs11:', 'ERR_P11_URI_SCHEME');
    expect(() => parse(42 as unknown as string)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
  });

  test('duplicate attributes, in path, query and vendor attributes', () => {
    expect(rejects('pkcs11:token=a;object=b;token=c', 'ERR_P11_URI_DUPLICATE_ATTRIBUTE', 'token').message).toMatch(/'token' appears more than once/);
    rejects('pkcs11:?module-name=a&module-name=b', 'ERR_P11_URI_DUPLICATE_ATTRIBUTE', 'module-name');
    rejects('pkcs11:x-a=1;x-a=2', 'ERR_P11_URI_DUPLICATE_ATTRIBUTE', 'x-a');
  });

  test('bad percent escapes', () => {
    expect(rejects('pkcs11:object=a%2', 'ERR_P11_URI_PERCENT', 'object').message).toMatch(/bad percent escape in 'object' at "%2"/);
    rejects('pkcs11:id=%G1', 'ERR_P11_URI_PERCENT', 'id');
    rejects('pkcs11:id=%', 'ERR_P11_URI_PERCENT', 'id');
    rejects('pkcs11:?pin-source=%zz', 'ERR_P11_URI_PERCENT', 'pin-source');
  });

  test('characters that must be percent-encoded', () => {
    expect(rejects('pkcs11:token=my token', 'ERR_P11_URI_CHARACTER', 'token').message).toMatch(/character " " in 'token' must be percent-encoded/);
    rejects('pkcs11:object=a/b', 'ERR_P11_URI_CHARACTER', 'object'); // '/' only in the query
    rejects('pkcs11:object=a?b=c', 'ERR_P11_URI_UNKNOWN_ATTRIBUTE', 'b'); // '?' starts the query
    rejects('pkcs11:object=é', 'ERR_P11_URI_CHARACTER', 'object');
    rejects('pkcs11:object=a#frag', 'ERR_P11_URI_SYNTAX');
  });

  test('text that is not UTF-8', () => {
    rejects('pkcs11:token=%C3%28', 'ERR_P11_URI_UTF8', 'token');
    expect(parse('pkcs11:id=%C3%28').id).toEqual(Buffer.from([0xc3, 0x28])); // the id is bytes
  });

  test('values out of their domain', () => {
    expect(rejects('pkcs11:type=key', 'ERR_P11_URI_VALUE', 'type').message).toMatch(/unknown type "key": expected one of cert, data, private, public, secret-key/);
    rejects('pkcs11:type=Cert', 'ERR_P11_URI_VALUE', 'type');
    expect(rejects('pkcs11:slot-id=0x2', 'ERR_P11_URI_VALUE', 'slot-id').message).toMatch(/slot-id "0x2" is not a decimal number/);
    rejects('pkcs11:slot-id=', 'ERR_P11_URI_VALUE', 'slot-id');
    rejects('pkcs11:slot-id=-1', 'ERR_P11_URI_VALUE', 'slot-id');
    rejects('pkcs11:slot-id=18446744073709551616', 'ERR_P11_URI_VALUE', 'slot-id');
    rejects('pkcs11:library-version=1.2.3', 'ERR_P11_URI_VALUE', 'library-version');
    rejects('pkcs11:library-version=v1', 'ERR_P11_URI_VALUE', 'library-version');
    rejects('pkcs11:library-version=256', 'ERR_P11_URI_VALUE', 'library-version');
  });

  test('unknown attributes and malformed structure', () => {
    rejects('pkcs11:label=a', 'ERR_P11_URI_UNKNOWN_ATTRIBUTE', 'label');
    rejects('pkcs11:Token=a', 'ERR_P11_URI_UNKNOWN_ATTRIBUTE', 'Token');
    expect(rejects('pkcs11:module-path=/x', 'ERR_P11_URI_UNKNOWN_ATTRIBUTE').message).toMatch(/belongs in the query/);
    expect(rejects('pkcs11:?token=a', 'ERR_P11_URI_UNKNOWN_ATTRIBUTE').message).toMatch(/belongs in the path/);
    rejects('pkcs11:token=a;', 'ERR_P11_URI_SYNTAX');
    rejects('pkcs11:;token=a', 'ERR_P11_URI_SYNTAX');
    rejects('pkcs11:token', 'ERR_P11_URI_SYNTAX');
    rejects('pkcs11:=a', 'ERR_P11_URI_SYNTAX');
    rejects('pkcs11:?pin-source=a&', 'ERR_P11_URI_SYNTAX');
    rejects('pkcs11:x-=1', 'ERR_P11_URI_SYNTAX');
    rejects('pkcs11:x-a.b=1', 'ERR_P11_URI_SYNTAX');
  });

  test('the PIN never appears in an error message', () => {
    const pin = 'S3cr3tPIN';
    const bad = [
      `pkcs11:token=a b?pin-value=${pin}`,
      `pkcs11:token=a?pin-value=${pin}%`,
      `pkcs11:token=a?pin-value=${pin} x`,
      `pkcs11:token=a?pin-value=${pin}&pin-value=${pin}`,
      `pkcs11:token=a?pin-value=${pin}%FF`,
      `pkcs11:token=a;type=x?pin-value=${pin}`,
      `pkcs11:pin-value=${pin}`,
      `pkcs11:${pin}`,
      `pkcs11:token=a?${pin}`,
      `pkcs12:?pin-value=${pin}`,
      `${pin}`,
      `pkcs11:token=a?pin-value=${pin}#x`,
    ];
    for (const uri of bad) {
      let err: Error | undefined;
      try {
        parse(uri);
      } catch (e) {
        err = e as Error;
      }
      expect(err).toBeInstanceOf(Pkcs11UriError);
      expect(`${err!.message} ${err!.stack} ${JSON.stringify(err)}`).not.toContain(pin);
    }
  });
});

describe('format', () => {
  test('canonical order and encoding', () => {
    const s = format({
      id: Buffer.from('01a2ff41', 'hex'),
      type: 'private',
      object: 'k é/1;x',
      token: 'uri a/b;c?d',
      serial: '68b9d6ae1545adae',
      model: 'SoftHSM v2',
      manufacturer: 'SoftHSM project',
      slotId: 2,
      libraryVersion: { major: 2, minor: 6 },
      libraryManufacturer: 'SoftHSM',
      modulePath: '/usr/lib/softhsm/libsofthsm2.so',
      pinSource: 'file:/run/pin?x|y&z',
      vendor: { path: { 'x-a': 'v;1' }, query: { 'x-b': 'v&2/' } },
    });
    expect(s).toBe(
      'pkcs11:library-manufacturer=SoftHSM;library-version=2.6;slot-id=2;manufacturer=SoftHSM%20project;model=SoftHSM%20v2;' +
        'serial=68b9d6ae1545adae;token=uri%20a%2Fb%3Bc%3Fd;object=k%20%C3%A9%2F1%3Bx;type=private;id=%01%A2%FF%41;x-a=v%3B1' +
        '?pin-source=file:/run/pin?x|y%26z&module-path=/usr/lib/softhsm/libsofthsm2.so&x-b=v%262/',
    );
  });

  test('the id is always fully %XX-encoded; unreserved and sub-delim characters of text stay', () => {
    expect(format({ id: Buffer.from('AZaz09') })).toBe('pkcs11:id=%41%5A%61%7A%30%39');
    expect(format({ object: "A-z_0.~:[]@!$'()*+,=" })).toBe("pkcs11:object=A-z_0.~:[]@!$'()*+,=");
    expect(format({ object: '% #&/?|"<>\\^`{}\x7f\x00' })).toBe('pkcs11:object=%25%20%23%26%2F%3F%7C%22%3C%3E%5C%5E%60%7B%7D%7F%00');
    expect(format({})).toBe('pkcs11:');
    expect(format({ slotId: 18446744073709551615n })).toBe('pkcs11:slot-id=18446744073709551615');
  });

  test('pin-value only with includePin', () => {
    const parts = { token: 't', pinValue: 'S3cr3t&PIN' };
    expect(format(parts)).toBe('pkcs11:token=t');
    expect(format(parts, { includePin: true })).toBe('pkcs11:token=t?pin-value=S3cr3t%26PIN');
    expect(parse(format(parts, { includePin: true }))).toEqual(parts);
  });

  test('rejects parts it cannot write', () => {
    const bad: Array<Record<string, unknown>> = [
      { type: 'key' },
      { slotId: -1 },
      { slotId: 1.5 },
      { libraryVersion: { major: 1 } },
      { libraryVersion: { major: 1, minor: 256 } },
      { id: 'abc' },
      { token: 5 },
      { vendor: { path: { label: 'x' } } },
    ];
    for (const p of bad) expect(() => format(p as Pkcs11Uri)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }));
  });

  test('format(parse(s)) is equivalent to s: parses back to the same parts', () => {
    const samples = [
      'pkcs11:token=My%20token%25%20created%20by%20Joe;library-version=3;id=%01%02%03%Ba%dd%Ca%fe%04%05%06',
      'pkcs11:token=my-token;object=my-certificate;type=cert;x-vend-aaa=value-a?pin-source=file:/etc/token_pin&x-vend-bbb=value-b',
      'pkcs11:id=AB;object=%61%62;slot-id=007',
      'pkcs11:?module-path=/usr/lib/x|y?z&module-name=softhsm2',
    ];
    for (const s of samples) {
      const once = format(parse(s));
      expect(parse(once)).toEqual(parse(s));
      expect(format(parse(once))).toBe(once); // canonical: a fixed point
    }
    expect(format(parse('pkcs11:library-version=3'))).toBe('pkcs11:library-version=3.0');
    expect(format(parse('pkcs11:id=AB;object=%61%62'))).toBe('pkcs11:object=ab;id=%41%42');
  });

  test('parse(format(x)) equals x for any parts (property)', () => {
    const text = fc.oneof(fc.string(), fc.fullUnicodeString(), fc.constantFrom('', '%', ';', '?', '&', '/', '=', '#', ' ', '%2F'));
    const vendorName = fc.stringOf(fc.constantFrom(...'abcXYZ019-_'), { minLength: 1, maxLength: 6 }).map((s) => 'x-' + s);
    const parts = fc.record(
      {
        token: text,
        manufacturer: text,
        serial: text,
        model: text,
        libraryManufacturer: text,
        libraryDescription: text,
        libraryVersion: fc.record({ major: fc.integer({ min: 0, max: 255 }), minor: fc.integer({ min: 0, max: 255 }) }),
        slotManufacturer: text,
        slotDescription: text,
        slotId: fc.oneof(fc.nat(), fc.bigInt({ min: BigInt(Number.MAX_SAFE_INTEGER) + 1n, max: 2n ** 64n - 1n })),
        object: text,
        type: fc.constantFrom('cert', 'data', 'private', 'public', 'secret-key' as const),
        id: fc.uint8Array({ maxLength: 32 }).map((a) => Buffer.from(a)),
        pinSource: text,
        pinValue: text,
        moduleName: text,
        modulePath: text,
        vendor: fc.record(
          { path: fc.dictionary(vendorName, text, { minKeys: 1, maxKeys: 3 }), query: fc.dictionary(vendorName, text, { minKeys: 1, maxKeys: 3 }) },
          { requiredKeys: [] },
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(parts, (p) => {
        const x = p as Pkcs11Uri;
        // A vendor name used in both the path and the query would be a duplicate attribute.
        if (x.vendor?.path && x.vendor.query && Object.keys(x.vendor.path).some((k) => k in x.vendor!.query!)) return;
        if (x.vendor && !x.vendor.path && !x.vendor.query) delete x.vendor;
        const s = format(x, { includePin: true });
        expect(s).toMatch(/^pkcs11:[A-Za-z0-9\-._~:[\]@!$'()*+,=;%/?|&]*$/);
        expect(parse(s)).toEqual(x);
        expect(format(parse(s), { includePin: true })).toBe(s);
        if (x.pinValue !== undefined && x.pinValue.length >= 3) expect(format(x)).not.toContain('pin-value');
      }),
      { numRuns: 500 },
    );
  });

  test('parse never throws anything but Pkcs11UriError on arbitrary input (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.constantFrom('', 'pkcs11:', 'pkcs11:token=a;', 'pkcs11:?'), (s, prefix) => {
        try {
          parse(prefix + s);
        } catch (e) {
          expect(e).toBeInstanceOf(Pkcs11UriError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('matching and templates', () => {
  const module = { manufacturerID: 'SoftHSM', description: 'Implementation of PKCS11', libraryVersion: { major: 2, minor: 6 }, path: '/usr/lib/softhsm/libsofthsm2.so' };
  const slot = { manufacturerID: 'SoftHSM project', description: 'SoftHSM slot ID 0x2' };
  const token = { label: 'uri a/b;c?d', manufacturerID: 'SoftHSM project', model: 'SoftHSM v2', serialNumber: 'd36d3a2663f0694e' };

  test('matchesModule', () => {
    expect(matchesModule('pkcs11:', module)).toBe(true);
    expect(matchesModule('pkcs11:library-manufacturer=SoftHSM;library-version=2.6', module)).toBe(true);
    expect(matchesModule('pkcs11:library-version=2', module)).toBe(false);
    expect(matchesModule('pkcs11:library-description=Implementation%20of%20PKCS11', module)).toBe(true);
    expect(matchesModule('pkcs11:library-manufacturer=OpenSC', module)).toBe(false);
    expect(matchesModule('pkcs11:?module-name=softhsm2', module)).toBe(true);
    expect(matchesModule('pkcs11:?module-name=libsofthsm2.so', module)).toBe(true);
    expect(matchesModule('pkcs11:?module-name=opensc-pkcs11', module)).toBe(false);
    expect(matchesModule('pkcs11:?module-path=/usr/lib/softhsm/libsofthsm2.so', module)).toBe(true);
    expect(matchesModule('pkcs11:?module-path=/elsewhere/libsofthsm2.so', module)).toBe(false);
    // Token attributes say nothing about the module.
    expect(matchesModule('pkcs11:token=x;object=y', module)).toBe(true);
  });

  test('matchesSlot', () => {
    expect(matchesSlot('pkcs11:slot-id=2', slot, 2)).toBe(true);
    expect(matchesSlot('pkcs11:slot-id=2', slot, 2n)).toBe(true);
    expect(matchesSlot('pkcs11:slot-id=3', slot, 2)).toBe(false);
    expect(matchesSlot('pkcs11:slot-description=SoftHSM%20slot%20ID%200x2;slot-manufacturer=SoftHSM%20project', slot, 7)).toBe(true);
    expect(matchesSlot('pkcs11:slot-description=other', slot, 2)).toBe(false);
    expect(matchesSlot(parse('pkcs11:slot-id=18446744073709551615'), slot, 18446744073709551615n)).toBe(true);
  });

  test('matchesToken: exact values, blank padding ignored', () => {
    const uri = format({ token: token.label, manufacturer: token.manufacturerID, model: token.model, serial: token.serialNumber });
    expect(matchesToken(uri, token)).toBe(true);
    expect(matchesToken(uri, { ...token, label: token.label + '   ' })).toBe(true);
    expect(matchesToken(uri, { ...token, serialNumber: '68b9d6ae1545adae' })).toBe(false);
    expect(matchesToken('pkcs11:token=URI%20a%2Fb%3Bc%3Fd', token)).toBe(false); // case-sensitive
    expect(matchesToken('pkcs11:object=k;type=private', token)).toBe(true);
  });

  test('toTemplate: label, id and class in the typed layer names', () => {
    expect(toTemplate('pkcs11:token=t;object=k%201;type=private;id=%01%02')).toEqual({ label: 'k 1', id: Buffer.from([1, 2]), class: 'privateKey' });
    expect(toTemplate('pkcs11:token=t')).toEqual({});
    const parsed = parse('pkcs11:id=%01');
    const t = toTemplate(parsed);
    t.id![0] = 9;
    expect(parsed.id).toEqual(Buffer.from([1])); // a copy
  });
});

// ---- URIs printed by other tools --------------------------------------------------------------

interface SoftHSMFixture {
  dir: string;
  conf: string;
  modulePath: string;
  tokens: Array<{ label: string; slot?: number }>;
  cleanup(): void;
}
/* eslint-disable @typescript-eslint/no-var-requires */
const softhsm = require('../scripts/softhsm.js') as {
  createSoftHSM(o: { tokens: Array<{ label: string; soPin: string; userPin: string }>; setEnv: false }): SoftHSMFixture;
};
/* eslint-enable @typescript-eslint/no-var-requires */

function tool(cmd: string): string | null {
  for (const dir of ['/usr/bin', '/usr/local/bin', '/bin']) if (fs.existsSync(path.join(dir, cmd))) return path.join(dir, cmd);
  return null;
}

const P11TOOL = tool('p11tool');
const PKCS11_TOOL = tool('pkcs11-tool');
const TRUST = tool('trust');

// The typed layer's view of the module, its slots and tokens, and the objects a template finds.
const TYPED_CHILD = `'use strict';
const p11 = require(${JSON.stringify(path.join(repoRoot, 'dist', 'index.js'))});
const a = JSON.parse(process.argv[2]);
const big = (k, v) => (typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? v.toString('hex') : v && v.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v);
(async () => {
  const mod = await p11.Module.open(a.modulePath);
  const out = { module: await mod.info(), slots: [] };
  for (const slot of await mod.slots()) {
    const s = { id: String(slot.id), info: await slot.info(), token: await slot.tokenInfo() };
    if (a.find && s.token.label === a.find.token) {
      const session = await slot.openSession();
      await session.login(a.find.pin);
      const t = a.find.template;
      if (t.id) t.id = Buffer.from(t.id, 'hex');
      s.found = [];
      for (const o of await session.findAll(t)) s.found.push(await o.getAttributes(['class', 'label', 'id']));
      await session.logout();
      await session.close();
    }
    out.slots.push(s);
  }
  await mod.close();
  console.log(JSON.stringify(out, big));
})().catch((e) => { console.error(e && e.stack); process.exit(1); });
`;

const canRunTools = P11TOOL !== null && PKCS11_TOOL !== null && fs.existsSync(path.join(repoRoot, 'dist', 'index.js'));
const describeTools = canRunTools ? describe : describe.skip;

describeTools('URIs printed by p11tool (GnuTLS) on a throw-away SoftHSM', () => {
  const TOKENS = [
    { label: 'uri a/b;c?d', soPin: '12345678', userPin: '1234' },
    { label: 'plain', soPin: '12345678', userPin: '4321' },
  ];
  let f: SoftHSMFixture;
  let env: NodeJS.ProcessEnv;
  let childFile: string;
  let home: string;

  // p11tool exits 2 for "No matching objects found".
  function run(cmd: string, args: string[], extra: Record<string, string> = {}, okStatus = [0]): string {
    const r = spawnSync(cmd, args, { env: { ...env, ...extra }, encoding: 'utf8', timeout: 60_000 });
    if (!okStatus.includes(r.status ?? -1)) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }
  const urls = (out: string) => [...out.matchAll(/^\s*URL: (pkcs11:\S*)$/gm)].map((m) => m[1]);
  function typed(find?: { token: string; pin: string; template: Record<string, unknown> }): any {
    const r = runChild(childFile, [JSON.stringify({ modulePath: f.modulePath, find })], { env: { SOFTHSM2_CONF: f.conf } });
    if (r.status !== 0) throw new Error(r.summary);
    return r.json;
  }

  beforeAll(() => {
    f = softhsm.createSoftHSM({ tokens: TOKENS, setEnv: false });
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-uri-home-'));
    // A HOME of our own: no user p11-kit configuration; GnuTLS loads only --provider.
    env = { ...process.env, SOFTHSM2_CONF: f.conf, HOME: home };
    childFile = path.join(f.dir, 'typed-child.js');
    fs.writeFileSync(childFile, TYPED_CHILD);
    // Objects made by pkcs11-tool, with labels and ids that need percent-encoding.
    const base = ['--module', f.modulePath, '--token-label', TOKENS[0].label, '--login', '--pin', TOKENS[0].userPin];
    run(PKCS11_TOOL!, [...base, '--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'k é/1;x', '--id', '01a2ff00']);
    run(PKCS11_TOOL!, [...base, '--keygen', '--key-type', 'AES:16', '--label', 'aes?&', '--id', '5c']);
  });
  afterAll(() => {
    f?.cleanup();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  test('token URIs: fields equal what pkcs11-tool and the typed layer read, and match only their token', () => {
    const tokenUris = run(P11TOOL!, ['--provider', f.modulePath, '--list-token-urls']).trim().split('\n');
    expect(tokenUris).toHaveLength(2);
    const parsed = tokenUris.map(parse);
    // pkcs11-tool's own view of the slots.
    const slotsOut = run(PKCS11_TOOL!, ['--module', f.modulePath, '--list-token-slots']);
    const labels = [...slotsOut.matchAll(/token label\s*: (.*)$/gm)].map((m) => m[1]);
    const serials = [...slotsOut.matchAll(/serial num\s*: (.*)$/gm)].map((m) => m[1]);
    expect(parsed.map((u) => u.token).sort()).toEqual([...labels].sort());
    expect(parsed.map((u) => u.serial).sort()).toEqual([...serials].sort());
    expect(parsed.find((u) => u.token === 'uri a/b;c?d')).toBeDefined();

    const view = typed();
    // SoftHSM's spare slot holds an uninitialized token, which p11tool does not list.
    view.slots = view.slots.filter((s: any) => s.token.flags.tokenInitialized);
    expect(view.slots).toHaveLength(2);
    for (const u of parsed) {
      const mine = view.slots.filter((s: any) => matchesToken(u, s.token));
      expect(mine).toHaveLength(1);
      expect(mine[0].token).toMatchObject({ label: u.token, manufacturerID: u.manufacturer, model: u.model, serialNumber: u.serial });
      // Our canonical form of the same token URI parses to the same parts.
      expect(parse(format(u))).toEqual(u);
    }
    // Slot and module attributes built from the typed layer's info match that slot and module only.
    const [s0, s1] = view.slots;
    const slotUri = format({ slotManufacturer: s0.info.manufacturerID, slotDescription: s0.info.description, slotId: BigInt(s0.id) });
    expect(matchesSlot(slotUri, s0.info, BigInt(s0.id))).toBe(true);
    expect(matchesSlot(slotUri, s1.info, BigInt(s1.id))).toBe(false);
    const m = view.module;
    expect(matchesModule(format({ libraryManufacturer: m.manufacturerID, libraryDescription: m.description, libraryVersion: m.libraryVersion }), m)).toBe(true);
  });

  test('module attributes: p11-kit list-modules prints the values the typed layer reads', () => {
    const p11kit = tool('p11-kit');
    if (!p11kit) return;
    // p11-kit 0.24 prints no URIs, but the values under the URI attribute names.
    const conf = path.join(home, '.config', 'pkcs11');
    fs.mkdirSync(path.join(conf, 'modules'), { recursive: true });
    fs.writeFileSync(path.join(conf, 'pkcs11.conf'), 'user-config: only\n');
    fs.writeFileSync(path.join(conf, 'modules', 'uri-test.module'), `module: ${f.modulePath}\n`);
    const r = spawnSync(p11kit, ['list-modules'], { env, encoding: 'utf8', timeout: 60_000 });
    const block = r.stdout.split(/^(?=\S)/m).find((b) => b.includes('token: uri a/b;c?d'));
    expect(block).toBeDefined();
    if (!block) return;
    const field = (n: string) => new RegExp(`^    ${n}: (.*)$`, 'm').exec(block)?.[1];
    const uri = format({
      libraryManufacturer: field('library-manufacturer'),
      libraryDescription: field('library-description'),
      libraryVersion: parse(`pkcs11:library-version=${field('library-version')}`).libraryVersion,
    });
    const view = typed();
    expect(matchesModule(uri, view.module)).toBe(true);
    expect(matchesModule(uri, { ...view.module, libraryVersion: { major: 9, minor: 9 } })).toBe(false);
  });

  test('object URIs: id as bytes, label as UTF-8; toTemplate finds the same objects in the typed layer', () => {
    const out = run(P11TOOL!, ['--provider', f.modulePath, '--login', '--list-all', `pkcs11:token=${encodeURIComponent(TOKENS[0].label)}`], {
      GNUTLS_PIN: TOKENS[0].userPin,
    });
    const objs = urls(out).map(parse);
    const priv = objs.find((u) => u.type === 'private');
    const pub = objs.find((u) => u.type === 'public');
    const secret = objs.find((u) => u.type === 'secret-key');
    expect(priv).toMatchObject({ token: 'uri a/b;c?d', object: 'k é/1;x', id: Buffer.from('01a2ff00', 'hex') });
    expect(pub).toMatchObject({ object: 'k é/1;x', id: Buffer.from('01a2ff00', 'hex') });
    expect(secret).toMatchObject({ object: 'aes?&', id: Buffer.from('5c', 'hex') });

    for (const [u, cls] of [
      [priv!, 'privateKey'],
      [pub!, 'publicKey'],
      [secret!, 'secretKey'],
    ] as const) {
      const t = toTemplate(u);
      expect(t.class).toBe(cls);
      const view = typed({ token: TOKENS[0].label, pin: TOKENS[0].userPin, template: { ...t, id: t.id!.toString('hex') } });
      const slot = view.slots.find((s: any) => matchesToken(u, s.token));
      expect(slot.found).toEqual([{ class: cls, label: u.object, id: u.id!.toString('hex') }]);
    }
  });

  test('p11tool accepts the URIs format() writes and finds the same objects', () => {
    // Our canonical form: every character that needs it encoded, the id fully %XX-encoded.
    const uri = format({ token: 'uri a/b;c?d', object: 'k é/1;x', id: Buffer.from('01a2ff00', 'hex'), type: 'private' });
    expect(uri).toBe('pkcs11:token=uri%20a%2Fb%3Bc%3Fd;object=k%20%C3%A9%2F1%3Bx;type=private;id=%01%A2%FF%00');
    const out = run(P11TOOL!, ['--provider', f.modulePath, '--login', '--list-all', uri], { GNUTLS_PIN: TOKENS[0].userPin });
    const found = urls(out).map(parse);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject(parse(uri));
    // A URI for the other token finds none of these objects.
    const other = format({ token: 'plain', object: 'k é/1;x' });
    const none = run(P11TOOL!, ['--provider', f.modulePath, '--login', '--list-all', other], { GNUTLS_PIN: TOKENS[1].userPin }, [0, 2]);
    expect(urls(none)).toEqual([]);
  });
});

(TRUST ? test : test.skip)("URIs printed by p11-kit's `trust list` parse, round-trip and give certificate templates", () => {
  const r = spawnSync(TRUST!, ['list', '--filter=ca-anchors'], { encoding: 'utf8', timeout: 60_000 });
  const uris = [...(r.stdout || '').matchAll(/^(pkcs11:\S*)$/gm)].map((m) => m[1]);
  if (uris.length === 0) return; // no trust store on this machine
  for (const s of uris) {
    const u = parse(s);
    expect(u.type).toBe('cert');
    expect(u.id!.length).toBeGreaterThan(0);
    // p11-kit writes the id fully %XX-encoded in uppercase, as format() does.
    expect(s).toContain(format({ id: u.id }).slice('pkcs11:'.length));
    expect(parse(format(u))).toEqual(u);
    expect(toTemplate(u)).toEqual({ class: 'certificate', id: u.id });
  }
});
