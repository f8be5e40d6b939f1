// Key commands: export-public, random, digest, sign, verify, keygen and delete.
import { Command, Option } from 'commander';
import { CKM_NAMES, PrivateKey, PublicKey, SecretKey, curveOfParams, derToEcdsa, ecdsaToDer, resolveMechanism } from '../../index';
import type { MechanismSpec, Pkcs11Object, Session, TemplateObject } from '../../index';
import * as crypto from 'node:crypto';
import type { CommonOptions } from '../context';
import { describeObject, hexId, withCommon, withTarget } from '../common';
import { CliError, EXIT, UsageError } from '../errors';
import { defaultSignatureSpec, digestSpec, keygenSpec, signatureSpec } from '../mechanisms';
import { collect, confirm, decodeBytes, encodingOf, inputSize, inputStream, looksLikeText, printJson, readInput, writeBytes, writeResult } from '../output';
import { pipeline } from 'node:stream/promises';
import { withProgress } from '../progress';
import { checkKeyMechanism, rememberKeyType } from '../../mechanisms/key-compat';

export function registerKeyCommands(program: Command): void {
  withCommon(program.command('export-public <uri>').description('a public key as SPKI (PEM or DER) or JWK'))
    .addOption(new Option('--format <format>', 'output format').choices(['pem', 'der', 'jwk']).default('pem'))
    .option('-o, --out <file>', 'write to a file')
    .action(async (uri: string, o: CommonOptions & { format: string; out?: string }) =>
      withTarget(uri, o, async (t) => {
        const session = await t.session({ login: 'never' });
        const key = await t.findOne(session, ['publicKey'], 'public key');
        if (!(key instanceof PublicKey)) throw new CliError('not a public key');
        const body =
          o.format === 'jwk' ? Buffer.from(JSON.stringify(await key.toJwk()) + '\n') : o.format === 'der' ? await key.toSpki('der') : Buffer.from(await key.toSpki('pem'));
        // --json: the result on stdout; the key itself in it unless it went to --out.
        const inline = o.format === 'jwk' ? { jwk: await key.toJwk() } : o.format === 'pem' ? { publicKey: body.toString() } : { der: body.toString('base64') };
        writeResult(body, o, { format: o.format }, inline);
      }),
    );

  withCommon(program.command('random <n> [uri]').description("n bytes from the token's RNG"))
    .option('-e, --encoding <encoding>', 'raw, base64 or hex', 'hex')
    .option('-o, --out <file>', 'write to a file')
    .action(async (n: string, uri: string | undefined, o: CommonOptions & { encoding: string; out?: string }) => {
      if (!/^\d+$/.test(n) || Number(n) < 1 || Number(n) > 1 << 20) throw new UsageError('random: n must be a byte count from 1 to 1048576');
      const enc = encodingOf(o.encoding);
      return withTarget(uri, o, async (t) => {
        const bytes = await (await t.session({ login: 'never' })).random(Number(n));
        if (o.json) return printJson({ bytes: bytes.toString('hex') });
        writeBytes(bytes, enc, o.out);
      });
    });

  withCommon(program.command('digest <file> [uri]').description("a file's digest (or stdin's, for -) computed on the token"))
    .option('--mechanism <name>', 'SHA-1, SHA-224, SHA-256, SHA-384, SHA-512', 'SHA-256')
    .option('-e, --encoding <encoding>', 'raw, base64 or hex', 'hex')
    .action(async (file: string, uri: string | undefined, o: CommonOptions & { mechanism: string; encoding: string }) => {
      const spec = digestSpec(o.mechanism);
      const enc = encodingOf(o.encoding);
      return withTarget(uri, o, async (t) => {
        const session = await t.session({ login: 'never' });
        const d = await withProgress(
          `digest ${(spec as { name: string }).name}`,
          o,
          async (p) => {
            const op = await session.digestInit(spec);
            await op.updateAll(p.counter()(inputStream(file)));
            return op.final();
          },
          inputSize(file),
        );
        if (o.json) return printJson({ mechanism: (spec as { name: string }).name, digest: d.toString('hex') });
        writeBytes(d, enc);
      });
    });

  withCommon(program.command('sign <uri> <file>').description('signs a file (or stdin, for -) with the private key the URI names'), { pin: true })
    .option('--mechanism <name>', 'ECDSA-SHA256, ES256, RS256, PS256, EdDSA, HMAC-SHA256, ECDSA, RSA-PKCS … (default: by key type)')
    .option('-e, --encoding <encoding>', 'signature output: raw (default), base64 or hex')
    .option('--der', 'ECDSA: a DER signature instead of raw r||s')
    .option('-o, --out <file>', 'write the signature to a file')
    .action(async (uri: string, file: string, o: CommonOptions & { mechanism?: string; encoding?: string; der?: boolean; out?: string }) => {
      const enc = encodingOf(o.encoding ?? 'raw');
      const named = o.mechanism !== undefined ? signatureSpec(o.mechanism) : undefined;
      return withTarget(uri, o, async (t) => {
        const session = await t.session({ login: 'required' });
        const key = await t.findOne(session, ['privateKey', 'secretKey'], 'signing key');
        if (!(key instanceof PrivateKey) && !(key instanceof SecretKey)) throw new CliError('not a private or secret key');
        const keyType = await key.getAttribute('keyType');
        const spec = named ?? defaultSignatureSpec(keyType);
        // A mechanism of another key family is refused here, before the token answers with
        // whatever it answers (SoftHSM: CKR_GENERAL_ERROR from C_SignFinal).
        rememberKeyType(key, keyType);
        const set = await session.slot.mechanismSet();
        checkKeyMechanism(key, resolveMechanism(spec, (m) => set.has(String(m)), 'sign').mechanism, 'sign');
        const hashed = (spec as { hash?: string }).hash !== undefined;
        let sig = await withProgress(
          `sign ${o.mechanism ?? (spec as { name: string }).name}`,
          o,
          async (p) => {
            // With a hash the input streams through the operation (hashed in Node where the token
            // cannot); EdDSA and the raw mechanisms are single-part, so the input is read whole.
            if (!hashed) return key.sign(spec, Buffer.concat(await collect(p.counter()(inputStream(file)))));
            const s = session.signStream(spec, key);
            await pipeline(p.counter()(inputStream(file)), s);
            return s.result;
          },
          inputSize(file),
        );
        if (o.der && (spec as { name: string }).name === 'ECDSA') sig = ecdsaToDer(sig);
        const used = o.json ? await mechanismUsed(session, spec) : {};
        writeResult(sig, o, used, { signature: sig.toString(enc === 'raw' ? 'base64' : enc), encoding: enc === 'raw' ? 'base64' : enc }, enc);
      });
    });

  withCommon(program.command('verify <uri> <file>').description('verifies a signature of a file (or stdin, for -) with the public key the URI names; exit 3 when invalid'))
    .requiredOption('-s, --signature <file>', 'the signature file')
    .option('--mechanism <name>', 'as for sign (default: by key type)')
    .option('-e, --encoding <encoding>', 'signature file encoding: raw (default, what sign writes), base64 or hex')
    .option('--der', 'ECDSA: the signature is DER instead of raw r||s')
    .action(async (uri: string, file: string, o: CommonOptions & { signature: string; mechanism?: string; encoding?: string; der?: boolean; pinSource?: string }) => {
      const enc = encodingOf(o.encoding ?? 'raw');
      const data = await readInput(file);
      const sigBytes = await readInput(o.signature);
      let sig = decodeBytes(sigBytes, enc, 'the signature');
      return withTarget(uri, o, async (t) => {
        // HMAC keys are secret keys and need a login; public keys do not.
        const session = await t.session({ login: t.uri.type === 'secret-key' ? 'required' : 'never' });
        const key = await t.findOne(session, t.uri.type === 'secret-key' ? ['secretKey'] : ['publicKey'], 'verification key');
        if (!(key instanceof PublicKey) && !(key instanceof SecretKey)) throw new CliError('not a public or secret key');
        const spec = o.mechanism !== undefined ? signatureSpec(o.mechanism) : defaultSignatureSpec(await key.getAttribute('keyType'));
        if (o.der && (spec as { name: string }).name === 'ECDSA') {
          const ecParams = await key.getAttribute('ecParams');
          const curve = Buffer.isBuffer(ecParams) ? curveOfParams(ecParams) : undefined;
          const size = curve === 'P-384' ? 48 : curve === 'P-521' ? 66 : 32;
          sig = derToEcdsa(sig, size);
        }
        const ok = await key.verify(spec, data, sig);
        // sign writes raw bytes: a text signature read as raw is the usual cause of "invalid".
        const text = !ok && enc === 'raw' ? looksLikeText(sigBytes) : null;
        if (text) process.stderr.write(`hint: the signature file looks like ${text} text; sign writes raw bytes unless given -e: verify with -e ${text}\n`);
        if (o.json) printJson({ valid: ok });
        else process.stdout.write(ok ? 'signature valid\n' : 'signature INVALID\n');
        if (!ok) process.exitCode = EXIT.invalidSignature;
      });
    });

  withCommon(program.command('keygen [uri]').description('generates a key (pair) as token objects'), { pin: true })
    .requiredOption('--type <type>', 'EC:P-256, EC:P-384, RSA:2048, Ed25519, AES:256, generic:32')
    .option('--label <label>', "CKA_LABEL (default: the URI's object=)")
    .option('--id <hex>', "CKA_ID in hex (default: the URI's id=, else 8 random bytes)")
    .option('--extractable', 'a secret or private key that can be wrapped')
    .option('--force', 'make the key even when the label already names a key of that kind')
    .action(async (uri: string | undefined, o: CommonOptions & { type: string; label?: string; id?: string; extractable?: boolean; force?: boolean }) => {
      const plan = keygenSpec(o.type);
      const givenId = hexId(o.id);
      return withTarget(uri, o, async (t) => {
        const label = o.label ?? t.uri.object;
        // A fresh CKA_ID when none is given, so the printed URI selects this key and no other.
        const id = givenId ?? t.uri.id ?? crypto.randomBytes(8);
        const session = await t.session({ write: true, login: 'required' });
        if (label !== undefined && !o.force) {
          const cls = plan.kind === 'pair' ? 'privateKey' : 'secretKey';
          const existing = await session.findAll({ class: cls, label });
          if (existing.length > 0) {
            const where = await describeObject(t, existing[0], false);
            throw new CliError(`a ${cls} labelled '${label}' already exists (${String(where.uri)}): choose another label, or give --force to make another one`);
          }
        }
        const common: TemplateObject = { token: true, label, id };
        const made: Pkcs11Object[] = [];
        await withProgress(`keygen ${o.type}`, o, async () => {
          if (plan.kind === 'pair') {
            const { publicKey, privateKey } = await session.generateKeyPair(plan.spec, {
              publicKey: { ...common },
              privateKey: { ...common, extractable: !!o.extractable },
            });
            made.push(publicKey, privateKey);
          } else {
            made.push(await session.generateKey(plan.spec, { ...common, extractable: !!o.extractable }));
          }
        });
        const rows = [];
        for (const m of made) rows.push(await describeObject(t, m, true));
        if (o.json) return printJson(rows);
        for (const r of rows) process.stdout.write(`${String(r.class)}: ${String(r.uri)}\n`);
      });
    });

  withCommon(program.command('delete <uri>').description('destroys the objects the URI names (object= and/or id= required)'), { pin: true })
    .option('--dry-run', 'list what would be deleted')
    .option('-y, --yes', 'delete several objects without asking')
    .action(async (uri: string, o: CommonOptions & { dryRun?: boolean; yes?: boolean }) =>
      withTarget(uri, o, async (t) => {
        if (t.uri.object === undefined && t.uri.id === undefined) throw new UsageError('name the objects to delete with object= and/or id= in the URI');
        const session = await t.session({ write: true, login: 'required' });
        const found = await t.findObjects(session);
        if (found.length === 0) throw new CliError('no object matches the URI');
        const rows = [];
        for (const obj of found) rows.push(await describeObject(t, obj, false));
        if (!o.dryRun && found.length > 1 && !o.yes) {
          const list = rows.map((r) => `  ${String(r.class)}: ${String(r.uri)}`).join('\n');
          if (!(await confirm(`the URI matches ${found.length} objects:\n${list}\ndelete them all? [y/N] `))) {
            throw new UsageError(`the URI matches ${found.length} objects: give --yes to delete them all (--dry-run lists them), or narrow it with id= or type=`);
          }
        }
        if (!o.dryRun) for (const obj of found) await obj.destroy();
        if (o.json) return printJson({ deleted: o.dryRun ? [] : rows.map((r) => r.uri), matched: rows.map((r) => r.uri) });
        for (const r of rows) process.stdout.write(`${o.dryRun ? 'would delete' : 'deleted'} ${String(r.class)}: ${String(r.uri)}\n`);
      }),
    );
}

/** The mechanism the token runs for `spec` (ECDSA with SHA-256 there, or raw ECDSA after a hash in Node). */
async function mechanismUsed(session: Session, spec: MechanismSpec): Promise<{ mechanism: string; prehash: string | null }> {
  const set = await session.slot.mechanismSet();
  const r = resolveMechanism(spec, (m) => set.has(String(m)));
  const n = Number(r.mechanism.mechanism);
  return { mechanism: CKM_NAMES[n] ?? `0x${n.toString(16)}`, prehash: r.prehash ? ((spec as { hash?: string }).hash ?? r.prehash) : null };
}
