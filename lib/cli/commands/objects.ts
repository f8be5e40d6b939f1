// import and export: certificates, keys and data objects between files and the token.
//   p11bridge import 'pkcs11:token=t;object=web;id=%01' cert.pem
//   p11bridge import 'pkcs11:token=t;object=web;id=%01' key.pem --with-public
//   p11bridge export 'pkcs11:token=t;object=web;type=cert' web.pem
// Files are parsed by node:crypto (X509Certificate, createPrivateKey, createPublicKey); nothing
// here encodes DER by hand.
import { Command, Option } from 'commander';
import * as crypto from 'node:crypto';
import { Certificate, Data, PrivateKey, PublicKey, SecretKey, storeCertificate } from '../../index';
import type { Pkcs11Object, Session, TemplateObject } from '../../index';
import type { CommonOptions } from '../context';
import { describeObject, hexId, withCommon, withTarget } from '../common';
import { CliError, UsageError } from '../errors';
import { printJson, readInput, writeBytes } from '../output';

type Kind = 'cert' | 'private' | 'public' | 'secret' | 'data';
const KINDS: readonly Kind[] = ['cert', 'private', 'public', 'secret', 'data'];

/** What a file holds, read with node:crypto. */
type Parsed =
  | { kind: 'cert'; cert: crypto.X509Certificate }
  | { kind: 'private'; key: crypto.KeyObject }
  | { kind: 'public'; key: crypto.KeyObject }
  | { kind: 'secret' | 'data'; bytes: Buffer };

const PEM_LABEL = /-----BEGIN ([A-Z0-9 ]+)-----/;

function tryParse<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

function parseAs(kind: 'cert' | 'private' | 'public', bytes: Buffer, pem: boolean): Parsed {
  try {
    if (kind === 'cert') return { kind, cert: new crypto.X509Certificate(bytes) };
    if (kind === 'private') return { kind, key: pem ? crypto.createPrivateKey(bytes) : crypto.createPrivateKey({ key: bytes, format: 'der', type: 'pkcs8' }) };
    return { kind, key: pem ? crypto.createPublicKey(bytes) : crypto.createPublicKey({ key: bytes, format: 'der', type: 'spki' }) };
  } catch (e) {
    const what = kind === 'cert' ? 'an X.509 certificate' : kind === 'private' ? 'a PKCS#8 private key' : 'an SPKI public key';
    const why = (e as { code?: string }).code === 'ERR_MISSING_PASSPHRASE' ? ': encrypted private keys are not supported (decrypt it first, e.g. openssl pkcs8)' : '';
    throw new CliError(`the file is not ${what} (PEM or DER)${why}`);
  }
}

/**
 * The kind of `bytes`: `kind` when given, else from the PEM label, else by trying the DER forms
 * in turn (certificate, PKCS#8, SPKI).
 */
export function parseImport(bytes: Buffer, kind: Kind | undefined): Parsed {
  if (kind === 'secret' || kind === 'data') return { kind, bytes };
  const label = PEM_LABEL.exec(bytes.subarray(0, 4096).toString('latin1'))?.[1];
  if (kind) return parseAs(kind, bytes, label !== undefined);
  if (label !== undefined) {
    if (/CERTIFICATE$/.test(label)) return parseAs('cert', bytes, true);
    if (label === 'ENCRYPTED PRIVATE KEY') throw new CliError('encrypted private keys are not supported (decrypt it first, e.g. openssl pkcs8)');
    if (/PRIVATE KEY$/.test(label)) return parseAs('private', bytes, true);
    if (/PUBLIC KEY$/.test(label)) return parseAs('public', bytes, true);
    throw new CliError(`cannot import a PEM '${label}': give --type`);
  }
  const cert = tryParse(() => new crypto.X509Certificate(bytes));
  if (cert) return { kind: 'cert', cert };
  const priv = tryParse(() => crypto.createPrivateKey({ key: bytes, format: 'der', type: 'pkcs8' }));
  if (priv) return { kind: 'private', key: priv };
  const pub = tryParse(() => crypto.createPublicKey({ key: bytes, format: 'der', type: 'spki' }));
  if (pub) return { kind: 'public', key: pub };
  throw new CliError('cannot tell what the file holds (not a certificate, PKCS#8 or SPKI key in PEM or DER): give --type secret or --type data for raw bytes');
}

/** The URI's type= as an import kind. */
function kindOfUriType(type: string | undefined): Kind | undefined {
  switch (type) {
    case 'cert':
      return 'cert';
    case 'private':
      return 'private';
    case 'public':
      return 'public';
    case 'secret-key':
      return 'secret';
    case 'data':
      return 'data';
    default:
      return undefined;
  }
}

interface ImportOptions extends CommonOptions {
  type?: Kind;
  keyType?: 'aes' | 'generic';
  application?: string;
  withPublic?: boolean;
  label?: string;
  id?: string;
  extractable?: boolean;
  private?: boolean;
}

async function importParsed(session: Session, p: Parsed, common: TemplateObject, o: ImportOptions): Promise<Pkcs11Object[]> {
  switch (p.kind) {
    case 'cert':
      return [await storeCertificate(session, p.cert, { ...common, private: false })];
    case 'private': {
      const made: Pkcs11Object[] = [await session.importKey(p.key, { ...common, private: true, sensitive: true, extractable: !!o.extractable })];
      if (o.withPublic) made.push(await session.importKey(crypto.createPublicKey(p.key), { ...common }));
      return made;
    }
    case 'public':
      return [await session.importKey(p.key, { ...common })];
    case 'secret': {
      const keyType = o.keyType ?? 'aes';
      if (keyType === 'aes' && ![16, 24, 32].includes(p.bytes.length))
        throw new CliError(`an AES key is 16, 24 or 32 bytes; the file has ${p.bytes.length} (--key-type generic for other sizes)`);
      if (p.bytes.length === 0) throw new CliError('the key file is empty');
      const template: TemplateObject = { ...common, keyType: keyType === 'aes' ? 'aes' : 'genericSecret', sensitive: true, extractable: !!o.extractable };
      return [await session.importKey(crypto.createSecretKey(p.bytes), template)];
    }
    case 'data':
      return [await session.createObject({ ...common, class: 'data', private: !!o.private, application: o.application, value: p.bytes })];
  }
}

/** Objects an export may take when the URI has no type=: a matching private key is left out. */
function exportable(found: Pkcs11Object[]): Pkcs11Object[] {
  const rest = found.filter((f) => !(f instanceof PrivateKey));
  return rest.length > 0 ? rest : found;
}

export function registerObjectCommands(program: Command): void {
  withCommon(
    program.command('import <uri> <file>').description("imports a certificate, key or data object (file, or - for stdin) as token objects labelled by the URI's object= and id="),
    { pin: true },
  )
    .addOption(new Option('--type <kind>', "what the file holds (default: detected from PEM labels / DER; or the URI's type=)").choices(KINDS as string[]))
    .addOption(new Option('--key-type <type>', '--type secret: the key type').choices(['aes', 'generic']))
    .option('--application <name>', '--type data: CKA_APPLICATION')
    .option('--private', '--type data: a private data object (default public)')
    .option('--with-public', 'a private key: also store its public key (same label and id)')
    .option('--extractable', 'a private or secret key that can be wrapped later (default not)')
    .option('--label <label>', "CKA_LABEL (default: the URI's object=)")
    .option('--id <hex>', "CKA_ID in hex (default: the URI's id=)")
    .addHelpText(
      'after',
      '\nCertificates (PEM/DER X.509), private keys (PKCS#8, PKCS#1 or SEC1 PEM, PKCS#8 DER) and public keys (SPKI PEM/DER)\n' +
        "are detected; secret keys (--type secret --key-type aes|generic) and data (--type data) are the file's raw bytes.\n" +
        'Private and secret keys are private, sensitive, not extractable unless --extractable.',
    )
    .action(async (uri: string, file: string, o: ImportOptions) => {
      const id = hexId(o.id);
      const bytes = await readInput(file);
      return withTarget(uri, o, async (t) => {
        const kind = o.type ?? kindOfUriType(t.uri.type);
        // The kind may come from the URI's type=, so these checks wait for it.
        if (o.keyType !== undefined && kind !== 'secret') throw new UsageError('--key-type is for --type secret');
        if ((o.application !== undefined || o.private) && kind !== 'data') throw new UsageError('--application and --private are for --type data');
        const parsed = parseImport(bytes, kind);
        if (o.withPublic && parsed.kind !== 'private') throw new UsageError('--with-public is for a private key');
        const label = o.label ?? t.uri.object;
        const common: TemplateObject = { token: true, label, id: id ?? t.uri.id };
        // Keys and private data need the user; a certificate, public key or public data object
        // is a public object, which a read-write public session may create.
        const needsUser = parsed.kind === 'private' || parsed.kind === 'secret' || (parsed.kind === 'data' && !!o.private);
        const session = await t.session({ write: true, login: needsUser ? 'required' : 'optional' });
        const made = await importParsed(session, parsed, common, o);
        const rows = [];
        for (const m of made) rows.push(await describeObject(t, m, false));
        if (o.json) return printJson(rows);
        for (const r of rows) process.stdout.write(`imported ${String(r.class)}: ${String(r.uri)}\n`);
      });
    });

  withCommon(program.command('export <uri> [file]').description("writes a certificate, public key or data object's value to a file or stdout; private keys stay on the token"), {
    pin: true,
  })
    .option('--der', 'a certificate or public key as DER (default PEM)')
    .option('--jwk', 'a public key as a JWK')
    .option('--login', 'log in first, for private data objects and certificates')
    .action(async (uri: string, file: string | undefined, o: CommonOptions & { der?: boolean; jwk?: boolean }) => {
      if (o.der && o.jwk) throw new UsageError('--der and --jwk exclude each other');
      return withTarget(uri, o, async (t) => {
        if (t.uri.object === undefined && t.uri.id === undefined) throw new UsageError('name the object with object= and/or id= in the URI');
        const session = await t.session({ login: 'optional' });
        let found = await t.findObjects(session);
        if (t.uri.type === undefined) found = exportable(found);
        if (found.length === 0) throw new CliError('no object matches the URI');
        if (found.length > 1) throw new CliError(`${found.length} objects match the URI: add type= (cert, public, data) or id= to choose one`);
        const obj = found[0];
        const row = await describeObject(t, obj, false);
        let out: Buffer;
        let format: string;
        if (obj instanceof Certificate) {
          if (o.jwk) throw new UsageError('--jwk is for public keys');
          const x = await obj.x509();
          [out, format] = o.der ? [x.raw, 'der'] : [Buffer.from(x.toString()), 'pem'];
        } else if (obj instanceof PublicKey) {
          if (o.jwk) [out, format] = [Buffer.from(JSON.stringify(await obj.toJwk()) + '\n'), 'jwk'];
          else if (o.der) [out, format] = [await obj.toSpki('der'), 'der'];
          else [out, format] = [Buffer.from(await obj.toSpki('pem')), 'pem'];
        } else if (obj instanceof Data) {
          if (o.der || o.jwk) throw new UsageError('a data object is exported as its raw value; --der and --jwk do not apply');
          [out, format] = [await obj.value(), 'raw'];
        } else if (obj instanceof PrivateKey) {
          throw new CliError('refusing to export a private key: it does not leave the token. Export its public key with type=public (or export-public)');
        } else if (obj instanceof SecretKey) {
          const a = await obj.getAttributes(['sensitive', 'extractable', 'value']);
          if (a.sensitive !== false || a.extractable !== true || !Buffer.isBuffer(a.value))
            throw new CliError('refusing to export a sensitive or unextractable secret key: its value does not leave the token');
          [out, format] = [a.value, 'raw'];
        } else {
          throw new CliError(`cannot export a ${String(row.class)} object`);
        }
        if (o.json) {
          if (file !== undefined && file !== '-') writeBytes(out, 'raw', file);
          return printJson({
            uri: row.uri,
            class: row.class,
            format,
            file,
            ...(file === undefined || file === '-' ? { data: format === 'pem' || format === 'jwk' ? out.toString('utf8') : out.toString('base64') } : {}),
          });
        }
        writeBytes(out, 'raw', file);
      });
    });
}
