// Document signatures with token keys: sign-cms, sign-pdf, sign-xml and verify-cms.
//   p11bridge sign-cms 'pkcs11:token=t;object=signer;type=private?module-name=softhsm2' report.pdf -o report.p7s
// The key is named by a URI; the certificate is --cert (a PEM/DER file or a pkcs11: URI of a
// certificate object), else the certificate on the token with the key's CKA_ID. Keys with
// CKA_ALWAYS_AUTHENTICATE take the PIN again (--context-pin-source, else the login PIN's source,
// else a prompt). CMS input streams (a progress line for large files); PDF and XML are read whole.
import { Command, Option } from 'commander';
import * as fs from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { Certificate, PrivateKey } from '../../index';
import type { Session } from '../../index';
import { signCms, signPdf, signXml, verifyCms, DOCUMENT_HASHES } from '../../documents';
import type { CertificateInput, DocumentHash, RsaScheme } from '../../documents';
import type { CommonOptions, Target } from '../context';
import { uriArgument } from '../context';
import { withCommon, withTarget } from '../common';
import { CliError, EXIT, UsageError } from '../errors';
import { inputSize, inputStream, printJson, readInput } from '../output';
import { withProgress } from '../progress';
import { noPinError, obtainPin, readPinSource } from '../pin';

interface SignOptions extends CommonOptions {
  cert?: string;
  chain?: string[];
  digest: string;
  out?: string;
  contextPinSource?: string;
}

function digestOption(s: string): DocumentHash {
  const n = s
    .trim()
    .toUpperCase()
    .replace(/^SHA-?/, 'SHA-');
  if (!(DOCUMENT_HASHES as readonly string[]).includes(n)) throw new UsageError(`unknown digest '${s}' (${DOCUMENT_HASHES.join(', ')})`);
  return n as DocumentHash;
}

/** PEM certificates of a bundle file, or one DER certificate. */
function certificatesInFile(file: string): X509Certificate[] {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new CliError(`cannot read the certificate file ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const text = bytes.toString('latin1');
  const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
  try {
    return pems ? pems.map((p) => new X509Certificate(p)) : [new X509Certificate(bytes)];
  } catch (e) {
    throw new CliError(`${file} is not a PEM or DER certificate (${(e as Error).message})`);
  }
}

/** --cert: a file, or a pkcs11: URI of a certificate object on the same token. */
async function certificateOption(session: Session, cert: string | undefined): Promise<CertificateInput | undefined> {
  if (cert === undefined) return undefined;
  if (!/^pkcs11:/i.test(cert)) return certificatesInFile(cert)[0];
  const found = await session.findAll({ ...toTemplate(cert), class: 'certificate' });
  if (found.length !== 1) throw new CliError(`${found.length === 0 ? 'no' : String(found.length)} certificate objects match --cert`);
  return new Certificate(found[0].session, found[0].handle);
}

function toTemplate(uri: string): Record<string, unknown> {
  const u = uriArgument(uri);
  const t: Record<string, unknown> = {};
  if (u.object !== undefined) t.label = u.object;
  if (u.id !== undefined) t.id = u.id;
  return t;
}

/** The signing key, and the context PIN when the key has CKA_ALWAYS_AUTHENTICATE. */
async function signingKey(t: Target, o: SignOptions): Promise<{ session: Session; key: PrivateKey; contextPin?: Buffer }> {
  const session = await t.session({ login: 'required' });
  const key = await t.findOne(session, ['privateKey'], 'private key');
  if (!(key instanceof PrivateKey)) throw new CliError('not a private key');
  if ((await key.getAttribute('alwaysAuthenticate')) !== true) return { session, key };
  const label = (await (await t.slot()).tokenInfo()).label;
  const pin =
    o.contextPinSource !== undefined
      ? readPinSource(o.contextPinSource)
      : await obtainPin({ pinSource: o.pinSource, uriPinSource: t.uri.pinSource, uriPinValue: t.uri.pinValue, tokenLabel: label });
  if (!pin) throw noPinError();
  return { session, key, contextPin: pin };
}

function chainOption(files: string[] | undefined): X509Certificate[] {
  return (files ?? []).flatMap(certificatesInFile);
}

function writeOutput(data: Buffer | string, out: string | undefined): void {
  if (out === undefined || out === '-') process.stdout.write(data);
  else fs.writeFileSync(out, data);
}

function signCommand(program: Command, name: string, what: string): Command {
  return withCommon(program.command(`${name} <uri> <file>`).description(what), { pin: true })
    .option('--cert <file-or-uri>', "the signer's certificate: a PEM/DER file or a pkcs11: URI (default: the token's certificate with the key's CKA_ID)")
    .option('--chain <file>', 'intermediate certificates to include (PEM bundle; repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .addOption(new Option('--digest <hash>', DOCUMENT_HASHES.join(', ')).default('SHA-256'))
    .option('--context-pin-source <source>', "for keys with CKA_ALWAYS_AUTHENTICATE: file:/path or env:VAR (default: the login PIN's source, else a prompt)")
    .option('-o, --out <file>', 'output file (default stdout)');
}

export function registerDocumentCommands(program: Command): void {
  signCommand(program, 'sign-cms', 'CMS / CAdES-BES signature of a file (or stdin, for -) with the private key the URI names; detached unless --attached')
    .option('--attached', 'put the content in the signature')
    .option('--pss', 'RSA keys: RSASSA-PSS instead of PKCS#1 v1.5')
    .option('--pem', 'PEM output (-----BEGIN CMS-----) instead of DER')
    .option('--no-signing-time', 'leave out the signing-time attribute')
    .action(async (uri: string, file: string, o: SignOptions & { attached?: boolean; pss?: boolean; pem?: boolean; signingTime: boolean }) => {
      const digest = digestOption(o.digest);
      const chain = chainOption(o.chain);
      await withTarget(uri, o, async (t) => {
        const { session, key, contextPin } = await signingKey(t, o);
        try {
          const certificate = await certificateOption(session, o.cert);
          const rsaScheme: RsaScheme | undefined = o.pss ? 'pss' : undefined;
          const signed = await withProgress(
            `sign-cms ${digest}`,
            o,
            (p) =>
              signCms(inputStream(file), {
                key,
                certificate,
                chain,
                digest,
                rsaScheme,
                detached: !o.attached,
                signingTime: o.signingTime,
                contextPin,
                onProgress: (n) => p.add(n),
              }),
            inputSize(file),
          );
          const out = o.pem ? `-----BEGIN CMS-----\n${signed.der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CMS-----\n` : signed.der;
          if (o.json) {
            if (o.out === undefined || o.out === '-') throw new UsageError('--json reports on stdout: give the output file with --out');
            writeOutput(out, o.out);
            return printJson({
              format: 'cms',
              detached: !o.attached,
              digest,
              bytes: signed.length,
              messageDigest: signed.digest.toString('hex'),
              signer: signed.certificate.subject,
              out: o.out,
            });
          }
          writeOutput(out, o.out);
        } finally {
          contextPin?.fill(0);
        }
      });
    });

  signCommand(program, 'sign-pdf', 'PAdES-B-B signature of a PDF with the private key the URI names (an invisible signature field)')
    .option('--reason <text>', 'the reason in the signature dictionary')
    .option('--location <text>', 'the location in the signature dictionary')
    .option('--contact <text>', 'contact information in the signature dictionary')
    .option('--name <text>', "the signer's name (default: the certificate's CN)")
    .action(async (uri: string, file: string, o: SignOptions & { reason?: string; location?: string; contact?: string; name?: string }) => {
      const digest = digestOption(o.digest);
      const chain = chainOption(o.chain);
      await withTarget(uri, o, async (t) => {
        const { session, key, contextPin } = await signingKey(t, o);
        try {
          const certificate = await certificateOption(session, o.cert);
          const signed = await withProgress(
            'sign-pdf',
            o,
            async (p) =>
              signPdf(await readInput(file), {
                key,
                certificate,
                chain,
                digest,
                contextPin,
                reason: o.reason,
                location: o.location,
                contactInfo: o.contact,
                name: o.name,
                onProgress: (n) => p.add(n),
              }),
            inputSize(file),
          );
          writeOutput(signed, o.out);
          if (o.json) printJson({ format: 'pdf', digest, bytes: signed.length, out: o.out });
        } finally {
          contextPin?.fill(0);
        }
      });
    });

  signCommand(program, 'sign-xml', 'XAdES-BES enveloped signature of an XML document with the private key the URI names').action(
    async (uri: string, file: string, o: SignOptions) => {
      const digest = digestOption(o.digest);
      const chain = chainOption(o.chain);
      await withTarget(uri, o, async (t) => {
        const { session, key, contextPin } = await signingKey(t, o);
        try {
          const certificate = await certificateOption(session, o.cert);
          const signed = await withProgress('sign-xml', o, async () => signXml(await readInput(file), { key, certificate, chain, digest, contextPin }), inputSize(file));
          writeOutput(signed, o.out);
          if (o.json) printJson({ format: 'xades-bes', digest, out: o.out });
        } finally {
          contextPin?.fill(0);
        }
      });
    },
  );

  program
    .command('verify-cms <signature> [file]')
    .description('verifies a CMS signature (DER or PEM); [file] is the content of a detached one (- for stdin). Exit 3 when invalid')
    .option('--ca-file <file>', 'trusted CA certificates (PEM bundle): the signer must chain to one')
    .option('--cert <file>', "more certificates (the signer's, intermediates), PEM bundle or DER; repeatable", (v: string, prev: string[] = []) => [...prev, v])
    .option('--json', 'JSON output')
    .option('-q, --quiet', 'no progress indicator on stderr')
    .action(async (sigFile: string, file: string | undefined, o: { caFile?: string; cert?: string[]; json?: boolean; quiet?: boolean }) => {
      const sig = await readInput(sigFile);
      const trusted = o.caFile !== undefined ? certificatesInFile(o.caFile) : undefined;
      const certificates = chainOption(o.cert);
      const text = sig.toString('latin1');
      const cms = /-----BEGIN (CMS|PKCS7)-----/.test(text) ? text : sig;
      const v = await withProgress(
        'verify-cms',
        o,
        () => verifyCms(cms, { data: file !== undefined ? inputStream(file) : undefined, trusted, certificates }),
        file !== undefined ? inputSize(file) : undefined,
      );
      if (o.json) {
        printJson({
          valid: v.valid,
          signers: v.signers.map((s) => ({
            valid: s.valid,
            reason: s.reason,
            subject: s.certificate?.subject,
            signingTime: s.signingTime?.toISOString(),
            digest: s.digest,
            signature: s.signature,
          })),
        });
      } else {
        for (const s of v.signers) {
          const who = s.certificate ? s.certificate.subject.replace(/\n/g, ', ') : 'unknown signer';
          process.stdout.write(`${s.valid ? 'valid' : 'INVALID'}: ${who}${s.signingTime ? `, signed ${s.signingTime.toISOString()}` : ''}${s.reason ? ` (${s.reason})` : ''}\n`);
        }
        if (v.content !== undefined && file === undefined && !v.valid) process.stderr.write('the content was not written: the signature is not valid\n');
      }
      // As `verify`: the report above is the output; exit 3 says invalid (no second, error report).
      if (!v.valid) process.exitCode = EXIT.invalidSignature;
    });
}
