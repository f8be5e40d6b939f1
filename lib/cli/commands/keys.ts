// Key commands: export-public, random, digest, sign, verify, keygen and delete.
import { Command, Option } from 'commander';
import { PrivateKey, PublicKey, SecretKey, curveOfParams, derToEcdsa, ecdsaToDer } from '../../index';
import type { Pkcs11Object, TemplateObject } from '../../index';
import * as crypto from 'node:crypto';
import type { CommonOptions } from '../context';
import { describeObject, hexId, withCommon, withTarget } from '../common';
import { CliError, EXIT, UsageError } from '../errors';
import { defaultSignatureSpec, digestSpec, keygenSpec, signatureSpec } from '../mechanisms';
import { collect, decodeBytes, encodingOf, inputSize, inputStream, printJson, readInput, writeBytes } from '../output';
import { pipeline } from 'node:stream/promises';
import { withProgress } from '../progress';

export function registerKeyCommands(program: Command): void {
  withCommon(program.command('export-public <uri>').description('a public key as SPKI (PEM or DER) or JWK'))
    .addOption(new Option('--format <format>', 'output format').choices(['pem', 'der', 'jwk']).default('pem'))
    .option('-o, --out <file>', 'write to a file')
    .action(async (uri: string, o: CommonOptions & { format: string; out?: string }) =>
      withTarget(uri, o, async (t) => {
        const session = await t.session({ login: 'never' });
        const key = await t.findOne(session, ['publicKey'], 'public key');
        if (!(key instanceof PublicKey)) throw new CliError('not a public key');
        if (o.format === 'jwk') writeBytes(Buffer.from(JSON.stringify(await key.toJwk()) + '\n'), 'raw', o.out);
        else if (o.format === 'der') writeBytes(await key.toSpki('der'), 'raw', o.out);
        else writeBytes(Buffer.from(await key.toSpki('pem')), 'raw', o.out);
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
    .option('-e, --encoding <encoding>', 'signature output: raw, base64 or hex', 'base64')
    .option('--der', 'ECDSA: a DER signature instead of raw r||s')
    .option('-o, --out <file>', 'write the signature to a file')
    .action(async (uri: string, file: string, o: CommonOptions & { mechanism?: string; encoding: string; der?: boolean; out?: string }) => {
      const enc = encodingOf(o.encoding);
      const named = o.mechanism !== undefined ? signatureSpec(o.mechanism) : undefined;
      return withTarget(uri, o, async (t) => {
        const session = await t.session({ login: 'required' });
        const key = await t.findOne(session, ['privateKey', 'secretKey'], 'signing key');
        if (!(key instanceof PrivateKey) && !(key instanceof SecretKey)) throw new CliError('not a private or secret key');
        const spec = named ?? defaultSignatureSpec(await key.getAttribute('keyType'));
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
        if (o.json) return printJson({ mechanism: o.mechanism ?? (spec as { name: string }).name, signature: sig.toString('base64') });
        writeBytes(sig, enc, o.out);
      });
    });

  withCommon(program.command('verify <uri> <file>').description('verifies a signature of a file (or stdin, for -) with the public key the URI names; exit 3 when invalid'))
    .requiredOption('-s, --signature <file>', 'the signature file')
    .option('--mechanism <name>', 'as for sign (default: by key type)')
    .option('-e, --encoding <encoding>', 'signature file encoding: raw, base64 or hex', 'base64')
    .option('--der', 'ECDSA: the signature is DER instead of raw r||s')
    .action(async (uri: string, file: string, o: CommonOptions & { signature: string; mechanism?: string; encoding: string; der?: boolean; pinSource?: string }) => {
      const enc = encodingOf(o.encoding);
      const data = await readInput(file);
      let sig = decodeBytes(await readInput(o.signature), enc, 'the signature');
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
        if (o.json) printJson({ valid: ok });
        else process.stdout.write(ok ? 'signature valid\n' : 'signature INVALID\n');
        if (!ok) process.exitCode = EXIT.invalidSignature;
      });
    });

  withCommon(program.command('keygen [uri]').description('generates a key (pair) as token objects'), { pin: true })
    .requiredOption('--type <type>', 'EC:P-256, EC:P-384, RSA:2048, Ed25519, AES:256, generic:32')
    .option('--label <label>', 'CKA_LABEL (default: the URI\'s object=)')
    .option('--id <hex>', 'CKA_ID in hex (default: the URI\'s id=, else 8 random bytes)')
    .option('--extractable', 'a secret or private key that can be wrapped')
    .action(async (uri: string | undefined, o: CommonOptions & { type: string; label?: string; id?: string; extractable?: boolean }) => {
      const plan = keygenSpec(o.type);
      const givenId = hexId(o.id);
      return withTarget(uri, o, async (t) => {
        const label = o.label ?? t.uri.object;
        const id = givenId ?? t.uri.id ?? crypto.randomBytes(8);
        const session = await t.session({ write: true, login: 'required' });
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
    .action(async (uri: string, o: CommonOptions & { dryRun?: boolean }) =>
      withTarget(uri, o, async (t) => {
        if (t.uri.object === undefined && t.uri.id === undefined) throw new UsageError('name the objects to delete with object= and/or id= in the URI');
        const session = await t.session({ write: true, login: 'required' });
        const found = await t.findObjects(session);
        if (found.length === 0) throw new CliError('no object matches the URI');
        const rows = [];
        for (const obj of found) {
          const row = await describeObject(t, obj, false);
          if (!o.dryRun) await obj.destroy();
          rows.push(row);
        }
        if (o.json) return printJson({ deleted: o.dryRun ? [] : rows.map((r) => r.uri), matched: rows.map((r) => r.uri) });
        for (const r of rows) process.stdout.write(`${o.dryRun ? 'would delete' : 'deleted'} ${String(r.class)}: ${String(r.uri)}\n`);
      }),
    );
}
