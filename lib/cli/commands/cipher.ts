// encrypt and decrypt a file (or stdin) with a token key. Output formats (documented in docs/cli.md):
//   AES-GCM      iv (12 bytes, random) || ciphertext || tag (16 bytes)
//   AES-CBC-PAD  iv (16 bytes, random) || ciphertext (PKCS#7 padded)
//   RSA-OAEP     the ciphertext alone (modulus length; single-part, input at most k - 2·hLen - 2 bytes)
// The AES modes stream through the multi-part operation (session.encryptStream/decryptStream), so
// big files are not held in memory (SoftHSM itself buffers GCM decryption until the tag is checked).
import { Command, Option } from 'commander';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PrivateKey, PublicKey, SecretKey } from '../../index';
import type { HashName, MechanismSpec, Session } from '../../index';
import type { CommonOptions, Target } from '../context';
import { withCommon, withTarget } from '../common';
import { CliError, EXIT, UsageError } from '../errors';
import { inputSize, inputStream, printJson, readInput } from '../output';
import { Progress, withProgress } from '../progress';

export type CipherName = 'AES-GCM' | 'AES-CBC-PAD' | 'RSA-OAEP';
export const CIPHERS: readonly CipherName[] = ['AES-GCM', 'AES-CBC-PAD', 'RSA-OAEP'];
const HASH_CHOICES: readonly HashName[] = ['SHA-1', 'SHA-224', 'SHA-256', 'SHA-384', 'SHA-512'];
const HASH_BYTES: Record<HashName, number> = { 'SHA-1': 20, 'SHA-224': 28, 'SHA-256': 32, 'SHA-384': 48, 'SHA-512': 64 };

export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;
export const CBC_IV_BYTES = 16;

/** A command-line cipher name: AES-GCM, aes_gcm, CKM_AES_GCM, AES-CBC-PAD, RSA-OAEP, CKM_RSA_PKCS_OAEP. */
export function cipherName(s: string): CipherName {
  const n = s.trim().toUpperCase().replace(/^CKM_/, '').replace(/_/g, '-');
  if (n === 'AES-GCM') return 'AES-GCM';
  if (n === 'AES-CBC-PAD' || n === 'AES-CBC') return 'AES-CBC-PAD';
  if (n === 'RSA-OAEP' || n === 'RSA-PKCS-OAEP') return 'RSA-OAEP';
  throw new UsageError(`unknown cipher '${s}' (${CIPHERS.join(', ')})`);
}

export function hashName(s: string): HashName {
  const m = /^SHA-?(1|224|256|384|512)$/.exec(s.trim().toUpperCase());
  if (!m) throw new UsageError(`unknown hash '${s}' (${HASH_CHOICES.join(', ')})`);
  return `SHA-${m[1]}` as HashName;
}

/** The default cipher for a key type. */
function defaultCipher(keyType: unknown): CipherName {
  if (keyType === 'aes') return 'AES-GCM';
  if (keyType === 'rsa') return 'RSA-OAEP';
  throw new UsageError(`no default cipher for key type '${String(keyType)}': give --mechanism`);
}

/** The mechanism spec of a cipher with its IV. */
export function cipherSpec(name: CipherName, iv: Buffer | undefined, hash: HashName, aad: Buffer | undefined): MechanismSpec {
  if (name === 'AES-GCM') return { name: 'AES-GCM', iv: iv!, tagLength: GCM_TAG_BYTES * 8, additionalData: aad };
  if (name === 'AES-CBC-PAD') return { name: 'AES-CBC', iv: iv!, padding: true };
  return { name: 'RSA-OAEP', hash };
}

/** The first `n` bytes of a source, and the rest as a source of its own. */
async function splitPrefix(source: AsyncIterable<Buffer>, n: number): Promise<{ prefix: Buffer; rest: AsyncIterable<Buffer> }> {
  const it = source[Symbol.asyncIterator]();
  const parts: Buffer[] = [];
  let have = 0;
  while (have < n) {
    const r = await it.next();
    if (r.done) break;
    const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    parts.push(b);
    have += b.length;
  }
  const all = Buffer.concat(parts);
  const tail = all.subarray(Math.min(n, all.length));
  async function* rest(): AsyncGenerator<Buffer> {
    if (tail.length) yield tail;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value as Buffer;
  }
  return { prefix: all.subarray(0, Math.min(n, all.length)), rest: rest() };
}

/**
 * A failed GCM check says so: SoftHSM reports a wrong tag as CKR_GENERAL_ERROR from
 * C_DecryptFinal, which alone does not tell the user what went wrong. Still exit 2 with the CKR name.
 */
function authenticationHint(e: unknown): unknown {
  const x = e as { rvName?: unknown; function?: unknown };
  if (x && (x.rvName === 'CKR_ENCRYPTED_DATA_INVALID' || x.rvName === 'CKR_GENERAL_ERROR') && typeof x.function === 'string') {
    return new CliError(`${x.rvName} (${x.function}): the data did not authenticate (wrong key, tag or --aad, or damaged input)`, EXIT.pkcs11);
  }
  return e;
}

interface CipherOptions extends CommonOptions {
  mechanism?: string;
  hash: string;
  aad?: string;
  out?: string;
}

/** Where the output goes: --out (removed again when the command fails) or stdout. */
function openOutput(out: string | undefined): { sink: Writable; toStdout: boolean; discard(): void } {
  if (out === undefined || out === '-') return { sink: process.stdout, toStdout: true, discard: () => undefined };
  const sink = fs.createWriteStream(out);
  return { sink, toStdout: false, discard: () => fs.rmSync(out, { force: true }) };
}

async function findCipherKey(t: Target, session: Session, decrypt: boolean): Promise<SecretKey | PrivateKey | PublicKey> {
  const classes = decrypt ? ['secretKey', 'privateKey'] : ['secretKey', 'publicKey'];
  const key = await t.findOne(session, classes, decrypt ? 'decryption key' : 'encryption key');
  if (!(key instanceof SecretKey) && !(key instanceof PrivateKey) && !(key instanceof PublicKey)) throw new CliError('not a key');
  return key;
}

async function run(decrypt: boolean, uri: string, file: string, o: CipherOptions): Promise<void> {
  const named = o.mechanism !== undefined ? cipherName(o.mechanism) : undefined;
  const hash = hashName(o.hash);
  if (o.json && (o.out === undefined || o.out === '-')) throw new UsageError('--json reports on stdout: give the output file with --out');
  const aad = o.aad !== undefined ? await readInput(o.aad) : undefined;
  await withTarget(uri, o, async (t) => {
    // An RSA public key (type=public) needs no login; secret and private keys do.
    const session = await t.session({ login: t.uri.type === 'public' ? 'never' : 'required' });
    const key = await findCipherKey(t, session, decrypt);
    const keyType = await key.getAttribute('keyType');
    const name = named ?? defaultCipher(keyType);
    if (aad !== undefined && name !== 'AES-GCM') throw new UsageError('--aad is for AES-GCM');
    if (keyType !== (name === 'RSA-OAEP' ? 'rsa' : 'aes')) throw new UsageError(`${name} does not take a '${String(keyType)}' key`);
    const verb = decrypt ? 'decrypt' : 'encrypt';
    const output = openOutput(o.out);
    let bytesIn = 0;
    let bytesOut = 0;
    const count = (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> =>
      (async function* () {
        for await (const c of source) {
          bytesOut += c.length;
          yield c;
        }
      })();
    try {
      await withProgress(
        `${verb} ${name}`,
        o,
        async (p: Progress) => {
          const input = (async function* () {
            for await (const c of p.counter()(inputStream(file))) {
              bytesIn += c.length;
              yield c;
            }
          })();
          if (name === 'RSA-OAEP') {
            const parts: Buffer[] = [];
            for await (const c of input) parts.push(c);
            const data = Buffer.concat(parts);
            let result: Buffer;
            if (decrypt) result = await (key as SecretKey | PrivateKey).decrypt(cipherSpec(name, undefined, hash, undefined), data);
            else {
              const modulus = await key.getAttribute('modulus');
              const max = Buffer.isBuffer(modulus) ? modulus.length - 2 * HASH_BYTES[hash] - 2 : undefined;
              if (max !== undefined && data.length > max) throw new CliError(`RSA-OAEP with ${hash} takes at most ${max} bytes with this key; the input has ${data.length}`);
              result = await (key as SecretKey | PublicKey).encrypt(cipherSpec(name, undefined, hash, undefined), data);
            }
            await pipeline(count(Readable.from([result])), output.sink, { end: !output.toStdout });
            return;
          }
          const ivBytes = name === 'AES-GCM' ? GCM_IV_BYTES : CBC_IV_BYTES;
          let iv: Buffer;
          let body: AsyncIterable<Buffer>;
          let prefix: Buffer[] = [];
          if (decrypt) {
            const split = await splitPrefix(input, ivBytes);
            if (split.prefix.length < ivBytes) throw new CliError(`the input is too short for ${name} (it starts with a ${ivBytes}-byte IV)`);
            [iv, body] = [split.prefix, split.rest];
          } else {
            iv = crypto.randomBytes(ivBytes);
            prefix = [iv];
            body = input;
          }
          const spec = cipherSpec(name, iv, hash, aad);
          const stream = decrypt ? session.decryptStream(spec, key) : session.encryptStream(spec, key);
          const out = async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
            yield* prefix;
            yield* source;
          };
          await pipeline(body, stream, out, count, output.sink, { end: !output.toStdout });
        },
        inputSize(file),
      );
    } catch (e) {
      output.discard();
      throw decrypt && name === 'AES-GCM' ? authenticationHint(e) : e;
    }
    if (o.json) printJson({ operation: verb, mechanism: name, ...(name === 'RSA-OAEP' ? { hash } : {}), bytesIn, bytesOut, out: o.out, bytes: bytesOut });
  });
}

export function registerCipherCommands(program: Command): void {
  for (const decrypt of [false, true]) {
    const verb = decrypt ? 'decrypt' : 'encrypt';
    withCommon(
      program
        .command(`${verb} <uri> <file>`)
        .description(
          decrypt
            ? 'decrypts a file (or stdin, for -) with the secret or private key the URI names'
            : 'encrypts a file (or stdin, for -) with the secret or public key the URI names',
        ),
      { pin: true },
    )
      .option('--mechanism <name>', `${CIPHERS.join(', ')} (default: AES-GCM for AES keys, RSA-OAEP for RSA keys)`)
      .addOption(new Option('--hash <hash>', 'RSA-OAEP: the OAEP and MGF1 hash (SoftHSM takes only SHA-1)').default('SHA-256'))
      .option('--aad <file>', 'AES-GCM: additional authenticated data from a file')
      .option('-o, --out <file>', `write the ${decrypt ? 'plaintext' : 'ciphertext'} to a file (removed on failure; default stdout)`)
      .addHelpText(
        'after',
        '\nFormats: AES-GCM iv(12) || ciphertext || tag(16); AES-CBC-PAD iv(16) || ciphertext; RSA-OAEP the ciphertext.\n' +
          'IVs are random (node:crypto). The AES modes stream; RSA-OAEP is single-part.',
      )
      .action((uri: string, file: string, o: CipherOptions) => run(decrypt, uri, file, o));
  }
}
