// The `p11bridge` command: PKCS#11 modules, tokens, objects and operations from the shell.
//   p11bridge list-tokens --module /usr/lib/softhsm/libsofthsm2.so
//   p11bridge sign 'pkcs11:token=t;object=k1?module-name=softhsm2' data.bin --pin-source env:PIN
// Exit codes: 0 ok, 1 error, 2 PKCS#11 error (stderr: `error: CKR_X (C_Fn)`), 3 invalid signature, 64 usage.
import { Command, CommanderError, Option } from 'commander';
import { Module, PrivateKey, PublicKey, SecretKey, curveOfParams, derToEcdsa, ecdsaToDer, formatUri, matchesToken } from '../index';
import type { Pkcs11Object, TemplateObject } from '../index';
import * as crypto from 'node:crypto';
import { CommonOptions, Target } from './context';
import { CliError, describeError, EXIT, UsageError } from './errors';
import { defaultSignatureSpec, digestSpec, keygenSpec, signatureSpec } from './mechanisms';
import { noAdminPinError, obtainAdminPin, pinBuffer } from './pin';
import { decodeBytes, encodingOf, inputStream, printFields, printJson, printTable, readInput, writeBytes } from './output';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const VERSION = (require('../../package.json') as { version: string }).version;

function withCommon(cmd: Command, opts: { token?: boolean; pin?: boolean } = {}): Command {
  cmd.option('-m, --module <path>', 'PKCS#11 module (else the URI\'s module-path / module-name, or $P11BRIDGE_MODULE)');
  if (opts.token !== false) {
    cmd.option('--slot <id>', 'slot ID');
    cmd.option('--token <label>', 'token label (same as token= in the URI)');
  }
  if (opts.pin) cmd.option('--pin-source <source>', 'PIN from file:/path or env:VAR (else the URI\'s pin-source, else a prompt)');
  cmd.option('--json', 'JSON output');
  return cmd;
}

/** Runs a command body with its Target, closing the module afterwards. */
async function withTarget<T>(uri: string | undefined, o: CommonOptions, fn: (t: Target) => Promise<T>): Promise<T> {
  const t = await Target.open(uri, o);
  try {
    return await fn(t);
  } finally {
    await t.close();
  }
}

const OBJECT_ATTRIBUTES = ['class', 'label', 'id', 'keyType', 'token', 'private', 'sensitive', 'extractable', 'modulusBits', 'ecParams', 'valueLen'] as const;

async function describeObject(t: Target, o: Pkcs11Object, withPublic: boolean): Promise<Record<string, unknown>> {
  const a = (await o.getAttributes(OBJECT_ATTRIBUTES)) as Record<string, unknown>;
  const row: Record<string, unknown> = {
    uri: await t.objectUri(a),
    class: a.class,
    label: a.label,
    id: a.id,
    keyType: a.keyType,
    token: a.token,
    private: a.private,
  };
  if (a.sensitive !== undefined) row.sensitive = a.sensitive;
  if (a.extractable !== undefined) row.extractable = a.extractable;
  if (a.modulusBits !== undefined) row.size = Number(a.modulusBits);
  else if (Buffer.isBuffer(a.ecParams)) row.curve = curveOfParams(a.ecParams) ?? a.ecParams.toString('hex');
  else if (a.valueLen !== undefined) row.size = Number(a.valueLen) * 8;
  if (withPublic && o instanceof PublicKey) {
    try {
      row.publicKey = await o.toSpki('pem');
    } catch {
      // a key type node:crypto cannot encode: listed without it
    }
  }
  return row;
}

function keyDetail(r: Record<string, unknown>): string {
  if (r.curve !== undefined) return String(r.curve);
  if (r.size !== undefined) return `${String(r.size)} bits`;
  return '';
}

export function buildProgram(): Command {
  const program = new Command('p11bridge');
  program
    .description('PKCS#11 modules, tokens and keys from the command line (p11bridge)')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (str) => process.stderr.write(str) })
    .addHelpText(
      'after',
      `
Objects and tokens are named by PKCS#11 URIs (RFC 7512), e.g.
  'pkcs11:token=my-token;object=k1;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so'
Exit codes: 0 ok, 1 error, 2 PKCS#11 error (CKR_… on stderr), 3 invalid signature, 64 usage.`,
    );

  withCommon(program.command('list-modules').description('modules installed here (p11-kit configs, well-known paths)'), { token: false })
    .option('--all', 'also modules p11-kit would not load, and missing files')
    .action(async (o: CommonOptions & { all?: boolean }) => {
      const found = await Module.discover({ includeDisabled: !!o.all });
      const list = o.all ? found : found.filter((m) => m.exists && m.enabled);
      if (o.json) return printJson(list);
      printTable(
        [
          ['name', 'NAME'],
          ['path', 'PATH'],
          ['source', 'SOURCE'],
          ['enabled', 'ENABLED'],
          ['exists', 'EXISTS'],
        ],
        list as unknown as Record<string, unknown>[],
      );
    });

  withCommon(program.command('info [uri]').description('module information (C_GetInfo, interfaces)'), { token: false }).action(async (uri: string | undefined, o: CommonOptions) =>
    withTarget(uri, o, async (t) => {
      const info = await t.mod.info();
      const interfaces = await t.mod.interfaces();
      if (o.json) return printJson({ ...info, interfaces });
      printFields([
        ['path', info.path],
        ['cryptoki version', info.cryptokiVersion],
        ['manufacturer', info.manufacturerID],
        ['description', info.description],
        ['library version', info.libraryVersion],
        ['functions', info.functionCount],
        ['interfaces', interfaces.map((i) => `${i.name} ${i.version.major}.${i.version.minor}`).join(', ') || '(none: PKCS#11 2.x)'],
      ]);
    }),
  );

  withCommon(program.command('list-slots [uri]').description('slots (C_GetSlotList, C_GetSlotInfo)'), { token: false })
    .option('--all', 'also slots without a token')
    .action(async (uri: string | undefined, o: CommonOptions & { all?: boolean }) =>
      withTarget(uri, o, async (t) => {
        const rows = [];
        for (const s of await t.mod.slots({ tokenPresent: !o.all })) rows.push({ id: s.id, ...(await s.info()) });
        if (o.json) return printJson(rows);
        printTable(
          [
            ['id', 'ID'],
            ['token', 'TOKEN'],
            ['manufacturerID', 'MANUFACTURER'],
            ['description', 'DESCRIPTION'],
          ],
          rows.map((r) => ({ ...r, token: r.flags.tokenPresent })),
        );
      }),
    );

  withCommon(program.command('list-tokens [uri]').description('tokens (C_GetTokenInfo), with their URIs'), { token: false }).action(async (uri: string | undefined, o: CommonOptions) =>
    withTarget(uri, o, async (t) => {
      const rows = [];
      for (const s of await t.mod.slots()) {
        const info = await s.tokenInfo();
        if (!matchesToken(t.uri, info)) continue;
        rows.push({ slot: s.id, ...info, uri: formatUri({ token: info.label, manufacturer: info.manufacturerID, serial: info.serialNumber, model: info.model }) });
      }
      if (o.json) return printJson(rows);
      printTable(
        [
          ['slot', 'SLOT'],
          ['label', 'LABEL'],
          ['manufacturerID', 'MANUFACTURER'],
          ['model', 'MODEL'],
          ['serialNumber', 'SERIAL'],
          ['state', 'STATE'],
        ],
        rows.map((r) => ({ ...r, state: !r.flags.tokenInitialized ? 'uninitialized' : r.flags.userPinLocked ? 'PIN locked' : r.flags.userPinInitialized ? 'ready' : 'no user PIN' })),
      );
    }),
  );

  withCommon(program.command('list-mechanisms [uri]').description("the token's mechanisms (C_GetMechanismList, C_GetMechanismInfo)")).action(async (uri: string | undefined, o: CommonOptions) =>
    withTarget(uri, o, async (t) => {
      const mechs = await (await t.slot()).mechanisms();
      if (o.json) return printJson(mechs);
      printTable(
        [
          ['name', 'MECHANISM'],
          ['keySizes', 'KEY SIZES'],
          ['uses', 'FLAGS'],
        ],
        mechs.map((m) => ({
          name: m.name,
          keySizes: `${String(m.minKeySize)}-${String(m.maxKeySize)}`,
          uses: Object.entries(m.flags)
            .filter(([, v]) => v)
            .map(([k]) => k)
            .join(','),
        })),
      );
    }),
  );

  withCommon(program.command('list-objects [uri]').description("the token's objects (filtered by the URI's object, id and type)"), { pin: true })
    .option('--login', 'log in first (asks for the PIN when no source is given)')
    .option('--no-public-keys', 'leave SPKI PEM public keys out of --json')
    .action(async (uri: string | undefined, o: CommonOptions & { publicKeys: boolean }) =>
      withTarget(uri, o, async (t) => {
        const session = await t.session({ login: 'optional' });
        const rows = [];
        for (const obj of await t.findObjects(session)) rows.push(await describeObject(t, obj, o.json === true && o.publicKeys));
        if (o.json) return printJson(rows);
        printTable(
          [
            ['class', 'CLASS'],
            ['keyType', 'TYPE'],
            ['detail', 'SIZE'],
            ['label', 'LABEL'],
            ['id', 'ID'],
            ['uri', 'URI'],
          ],
          rows.map((r) => ({ ...r, detail: keyDetail(r) })),
        );
      }),
    );

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
        const op = await session.digestInit(spec);
        await op.updateAll(inputStream(file));
        const d = await op.final();
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
      const data = await readInput(file);
      return withTarget(uri, o, async (t) => {
        const session = await t.session({ login: 'required' });
        const key = await t.findOne(session, ['privateKey', 'secretKey'], 'signing key');
        if (!(key instanceof PrivateKey) && !(key instanceof SecretKey)) throw new CliError('not a private or secret key');
        const spec = o.mechanism !== undefined ? signatureSpec(o.mechanism) : defaultSignatureSpec(await key.getAttribute('keyType'));
        let sig = await key.sign(spec, data);
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
      if (o.id !== undefined && !/^([0-9a-fA-F]{2})+$/.test(o.id.replace(/:/g, ''))) throw new UsageError('--id takes hex bytes (e.g. 01a2 or 01:a2)');
      return withTarget(uri, o, async (t) => {
        const label = o.label ?? t.uri.object;
        const id = o.id !== undefined ? Buffer.from(o.id.replace(/:/g, ''), 'hex') : (t.uri.id ?? crypto.randomBytes(8));
        const session = await t.session({ write: true, login: 'required' });
        const common: TemplateObject = { token: true, label, id };
        const made: Pkcs11Object[] = [];
        if (plan.kind === 'pair') {
          const { publicKey, privateKey } = await session.generateKeyPair(plan.spec, {
            publicKey: { ...common },
            privateKey: { ...common, extractable: !!o.extractable },
          });
          made.push(publicKey, privateKey);
        } else {
          made.push(await session.generateKey(plan.spec, { ...common, extractable: !!o.extractable }));
        }
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

  // Token administration. PINs come from file:/env: sources or a prompt (a new PIN is asked twice),
  // are wiped after use and never printed.
  const soPinOption = '--so-pin-source <source>';
  const newPinOption = '--new-pin-source <source>';

  withCommon(program.command('init-token <uri>').description('initializes (erases!) a token: C_InitToken with the SO PIN and a label; needs --yes'))
    .requiredOption('--label <label>', 'the new token label (at most 32 bytes)')
    .option(soPinOption, 'SO PIN from file:/path or env:VAR (else a prompt). A fresh token takes it as its new SO PIN; an initialized one needs its current SO PIN')
    .option('--yes', 'confirms that every object on the token is destroyed')
    .addHelpText('after', '\nWith no --slot, --token or token attributes in the URI, the only uninitialized token is chosen.\nThen set the user PIN with init-pin.')
    .action(async (uri: string, o: CommonOptions & { label: string; soPinSource?: string; yes?: boolean }) => {
      if (!o.yes) throw new UsageError('init-token erases the token and every object on it: add --yes to go ahead');
      if (Buffer.byteLength(o.label, 'utf8') > 32) throw new UsageError('--label: a token label is at most 32 bytes');
      return withTarget(uri, o, async (t) => {
        const slot = await t.slot({ uninitialized: true });
        const before = await slot.tokenInfo();
        const name = before.flags.tokenInitialized ? `token '${before.label}'` : `the token in slot ${String(slot.id)}`;
        const soPin = await obtainAdminPin(o.soPinSource, `SO PIN for ${name}: `, !before.flags.tokenInitialized);
        if (!soPin) throw noAdminPinError('the SO PIN', '--so-pin-source');
        try {
          await slot.initToken(soPin, o.label);
        } finally {
          soPin.fill(0);
        }
        const info = await slot.tokenInfo();
        const tokenUri = formatUri({ token: info.label, manufacturer: info.manufacturerID, serial: info.serialNumber, model: info.model });
        if (o.json) return printJson({ slot: slot.id, label: info.label, serialNumber: info.serialNumber, uri: tokenUri });
        process.stdout.write(`initialized token '${info.label}' (serial ${info.serialNumber}): ${tokenUri}\n`);
      });
    });

  /** init-pin and unlock-pin: the SO logs in and sets the user PIN (C_InitPIN). */
  const initUserPin =
    (verb: string) =>
    async (uri: string, o: CommonOptions & { soPinSource?: string; newPinSource?: string }): Promise<void> =>
      withTarget(uri, o, async (t) => {
        const slot = await t.slot();
        const label = (await slot.tokenInfo()).label;
        const session = await t.session({ write: true, login: 'never' });
        const soPin = await obtainAdminPin(o.soPinSource, `SO PIN for token '${label}': `);
        if (!soPin) throw noAdminPinError('the SO PIN', '--so-pin-source');
        try {
          await session.login(soPin, { user: 'so' });
        } finally {
          soPin.fill(0);
        }
        const newPin = await obtainAdminPin(o.newPinSource, `New user PIN for token '${label}': `, true);
        if (!newPin) throw noAdminPinError('the new user PIN', '--new-pin-source');
        try {
          await session.initPin(newPin);
        } finally {
          newPin.fill(0);
        }
        await session.logout();
        if (o.json) return printJson({ token: label, userPin: verb });
        process.stdout.write(`user PIN ${verb} on token '${label}'\n`);
      });

  withCommon(program.command('init-pin <uri>').description("sets the user PIN: the SO logs in (--so-pin-source) and calls C_InitPIN with the new PIN"))
    .option(soPinOption, 'SO PIN from file:/path or env:VAR (else a prompt)')
    .option(newPinOption, 'the new user PIN from file:/path or env:VAR (else a prompt, twice)')
    .action(initUserPin('set'));

  withCommon(program.command('unlock-pin <uri>').description('unlocks a locked (or forgotten) user PIN: the SO logs in and sets a new user PIN (C_InitPIN), as init-pin does'))
    .option(soPinOption, 'SO PIN from file:/path or env:VAR (else a prompt)')
    .option(newPinOption, 'the new user PIN from file:/path or env:VAR (else a prompt, twice)')
    .action(initUserPin('reset'));

  withCommon(program.command('change-pin <uri>').description('changes the user PIN (or with --so the SO PIN): C_SetPIN with the current and the new PIN'), { pin: true })
    .option('--so', "change the SO PIN (the current one from --so-pin-source or --pin-source)")
    .option(soPinOption, 'with --so: the current SO PIN from file:/path or env:VAR')
    .option(newPinOption, 'the new PIN from file:/path or env:VAR (else a prompt, twice)')
    .action(async (uri: string, o: CommonOptions & { so?: boolean; soPinSource?: string; newPinSource?: string }) => {
      if (o.so && o.soPinSource !== undefined && o.pinSource !== undefined) throw new UsageError('change-pin --so: give the current SO PIN with --so-pin-source or --pin-source, not both');
      if (!o.so && o.soPinSource !== undefined) throw new UsageError('--so-pin-source is for change-pin --so; the current user PIN comes from --pin-source');
      return withTarget(uri, o, async (t) => {
        const slot = await t.slot();
        const label = (await slot.tokenInfo()).label;
        const who = o.so ? 'SO' : 'user';
        // The user's current PIN may also come from the URI's pin-source / pin-value.
        const oldSource = o.so ? (o.soPinSource ?? o.pinSource) : (o.pinSource ?? t.uri.pinSource);
        let oldPin = await obtainAdminPin(oldSource, `Current ${who} PIN for token '${label}': `);
        if (!oldPin && !o.so && oldSource === undefined && t.uri.pinValue !== undefined) oldPin = pinBuffer(Buffer.from(t.uri.pinValue, 'utf8'));
        if (!oldPin) throw noAdminPinError(`the current ${who} PIN`, o.so ? '--so-pin-source' : '--pin-source');
        let newPin: Buffer | undefined;
        try {
          newPin = await obtainAdminPin(o.newPinSource, `New ${who} PIN for token '${label}': `, true);
          if (!newPin) throw noAdminPinError(`the new ${who} PIN`, '--new-pin-source');
          const session = await t.session({ write: true, login: 'never' });
          // C_SetPIN changes the PIN of who is logged in; in a R/W public session, the user's.
          if (o.so) await session.login(oldPin, { user: 'so' });
          await session.setPin(oldPin, newPin);
          if (o.so) await session.logout();
        } finally {
          oldPin.fill(0);
          newPin?.fill(0);
        }
        if (o.json) return printJson({ token: label, changed: who });
        process.stdout.write(`${who} PIN changed on token '${label}'\n`);
      });
    });

  return program;
}

/** Runs the command line; resolves to the exit code. */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[]);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; commander printed its own message for usage errors
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const { message, exitCode } = describeError(e);
    process.stderr.write(message + '\n');
    if (process.env.P11BRIDGE_DEBUG && e instanceof Error && !('rvName' in e)) process.stderr.write(String(e.stack) + '\n');
    return exitCode;
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
