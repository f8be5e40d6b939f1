// bench: runs one operation N times (or for a duration) over a session pool and reports
// throughput and latency. Keys are temporary session objects, generated for the run and
// destroyed after it; they are made with private: false so a benchmark needs no PIN.
//   p11bridge bench 'pkcs11:token=t?module-path=…' --op sign --mechanism ES256 --count 1000 --concurrency 4
import { Command, Option } from 'commander';
import * as crypto from 'node:crypto';
import { PrivateKey, PublicKey, SecretKey } from '../../index';
import type { Key, MechanismSpec, Pkcs11Object, Session, TemplateObject } from '../../index';
import type { CommonOptions } from '../context';
import { withCommon, withTarget } from '../common';
import { CliError, UsageError } from '../errors';
import { digestSpec, keygenSpec, signatureSpec } from '../mechanisms';
import type { KeygenPlan } from '../mechanisms';
import { printFields, printJson } from '../output';
import { Progress } from '../progress';
import { cipherName, cipherSpec, CBC_IV_BYTES, GCM_IV_BYTES, hashName } from './cipher';

type Op = 'sign' | 'verify' | 'digest' | 'encrypt' | 'random';
const OPS: readonly Op[] = ['sign', 'verify', 'digest', 'encrypt', 'random'];

interface BenchOptions extends CommonOptions {
  op: Op;
  mechanism?: string;
  keyType?: string;
  size: string;
  count?: string;
  duration?: string;
  concurrency: string;
  hash: string;
}

interface Plan {
  mechanism: string;
  keyType?: string;
  keygen?: KeygenPlan;
  /** The key the operation uses (public for verify / RSA encrypt). */
  use?: 'private' | 'public' | 'secret';
  iteration: (key: Key | undefined, session: Session) => Promise<void>;
  /** Work done once before timing (e.g. the signature verify checks). */
  prepare?: (keys: { privateKey?: PrivateKey; publicKey?: PublicKey; secretKey?: SecretKey }) => Promise<void>;
}

/** The key a signature mechanism wants by default. */
function signKeyType(spec: MechanismSpec): string {
  switch ((spec as { name: string }).name) {
    case 'ECDSA':
      return 'EC:P-256';
    case 'EdDSA':
      return 'Ed25519';
    case 'HMAC':
      return 'generic:32';
    default:
      return 'RSA:2048';
  }
}

function positiveInt(s: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > max) throw new UsageError(`${what} must be a whole number from 1 to ${max}`);
  return Number(s);
}

function plan(o: BenchOptions, data: Buffer): Plan {
  switch (o.op) {
    case 'random': {
      if (o.mechanism !== undefined) throw new UsageError('--op random takes no --mechanism');
      return { mechanism: 'C_GenerateRandom', iteration: async (_k, s) => void (await s.random(data.length)) };
    }
    case 'digest': {
      const spec = digestSpec(o.mechanism ?? 'SHA-256');
      return { mechanism: (spec as { name: string }).name, iteration: async (_k, s) => void (await s.digest(spec, data)) };
    }
    case 'sign':
    case 'verify': {
      const mechanism = o.mechanism ?? 'ECDSA-SHA256';
      const spec = signatureSpec(mechanism);
      const keyType = o.keyType ?? signKeyType(spec);
      const secret = (spec as { name: string }).name === 'HMAC';
      if (o.op === 'sign')
        return { mechanism, keyType, keygen: keygenSpec(keyType), use: secret ? 'secret' : 'private', iteration: async (k) => void (await (k as PrivateKey).sign(spec, data)) };
      let signature: Buffer = Buffer.alloc(0);
      return {
        mechanism,
        keyType,
        keygen: keygenSpec(keyType),
        use: secret ? 'secret' : 'public',
        prepare: async (keys) => {
          signature = await (secret ? keys.secretKey! : keys.privateKey!).sign(spec, data);
        },
        // A benchmark of a verify that fails would measure the wrong thing.
        iteration: async (k) => {
          if (!(await (k as PublicKey).verify(spec, data, signature))) throw new CliError('verify returned false for a valid signature');
        },
      };
    }
    case 'encrypt': {
      const name = cipherName(o.mechanism ?? 'AES-GCM');
      const hash = hashName(o.hash);
      const keyType = o.keyType ?? (name === 'RSA-OAEP' ? 'RSA:2048' : 'AES:256');
      return {
        mechanism: name,
        keyType,
        keygen: keygenSpec(keyType),
        use: name === 'RSA-OAEP' ? 'public' : 'secret',
        iteration: async (k) => {
          // A fresh IV per message, as the encrypt command makes.
          const iv = name === 'RSA-OAEP' ? undefined : crypto.randomBytes(name === 'AES-GCM' ? GCM_IV_BYTES : CBC_IV_BYTES);
          await (k as SecretKey).encrypt(cipherSpec(name, iv, hash, undefined), data);
        },
      };
    }
  }
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export interface BenchResult {
  op: Op;
  mechanism: string;
  keyType?: string;
  dataBytes: number;
  concurrency: number;
  operations: number;
  seconds: number;
  opsPerSecond: number;
  latencyMs: { mean: number; p50: number; p99: number; min: number; max: number };
}

async function generate(session: Session, keygen: KeygenPlan): Promise<{ made: Pkcs11Object[]; privateKey?: PrivateKey; publicKey?: PublicKey; secretKey?: SecretKey }> {
  // Session objects, public so no login is needed; sensitive all the same.
  const common: TemplateObject = { token: false, private: false, label: 'p11bridge-bench' };
  if (keygen.kind === 'pair') {
    const { publicKey, privateKey } = await session.generateKeyPair(keygen.spec, { publicKey: { ...common }, privateKey: { ...common, sensitive: true } });
    return { made: [publicKey, privateKey], publicKey, privateKey };
  }
  const extra: TemplateObject = keygen.spec.name === 'generic' ? { sign: true, verify: true } : { encrypt: true, decrypt: true };
  const secretKey = await session.generateKey(keygen.spec, { ...common, sensitive: true, ...extra });
  return { made: [secretKey], secretKey };
}

export function registerBenchCommand(program: Command): void {
  withCommon(program.command('bench [uri]').description('times an operation on the token: ops/s and latency (mean, p50, p99) over a session pool'), { pin: true })
    .addOption(new Option('--op <op>', 'the operation').choices(OPS as string[]).default('sign'))
    .option('--mechanism <name>', 'sign/verify: ES256, RS256, PS256, EdDSA, HMAC-SHA256 … (ECDSA-SHA256); digest: SHA-256 …; encrypt: AES-GCM, AES-CBC-PAD, RSA-OAEP')
    .option('--key-type <type>', 'the temporary key: EC:P-256, RSA:2048, AES:256, generic:32 … (default: by mechanism)')
    .option('--size <bytes>', 'bytes per operation (data signed, digested, encrypted; random bytes)', '32')
    .option('--count <n>', 'operations to run (default: run for --duration)')
    .option('--duration <seconds>', 'seconds to run (default 3 when no --count)')
    .option('--concurrency <n>', 'operations in flight, one pool session each', '1')
    .addOption(new Option('--hash <hash>', 'RSA-OAEP hash').default('SHA-1'))
    .option('--login', 'log in first (asks for the PIN when no source is given)')
    .action(async (uri: string | undefined, o: BenchOptions) => {
      const size = positiveInt(o.size, '--size', 1 << 24);
      const concurrency = positiveInt(o.concurrency, '--concurrency', 256);
      if (o.count !== undefined && o.duration !== undefined) throw new UsageError('give --count or --duration, not both');
      const count = o.count !== undefined ? positiveInt(o.count, '--count') : undefined;
      let durationMs: number | undefined;
      if (count === undefined) {
        const d = Number(o.duration ?? '3');
        if (!Number.isFinite(d) || d <= 0 || d > 86400) throw new UsageError('--duration is a number of seconds above 0');
        durationMs = d * 1000;
      }
      if (o.op === 'random' && size > 1 << 20) throw new UsageError('--op random: --size is at most 1048576');
      const data = crypto.randomBytes(size);
      const p = plan(o, data);
      return withTarget(uri, o, async (t) => {
        const session = await t.session({ write: false, login: 'optional' });
        const slot = await t.slot();
        const keys = p.keygen ? await generate(session, p.keygen) : { made: [] };
        const pool = await slot.pool({ size: concurrency, write: false });
        const progress = Progress.start(`bench ${o.op} ${p.mechanism}`, o);
        try {
          await p.prepare?.(keys);
          const base = p.use === 'private' ? keys.privateKey : p.use === 'public' ? keys.publicKey : p.use === 'secret' ? keys.secretKey : undefined;
          // Session objects are visible to every session of the application: each pool session
          // wraps the same handle.
          const perSession = new Map<Session, Key>();
          const keyFor = async (s: Session): Promise<Key | undefined> => {
            if (!base) return undefined;
            let k = perSession.get(s);
            if (!k) perSession.set(s, (k = (await s.object(base.handle)) as Key));
            return k;
          };
          const latencies: number[] = [];
          let started = 0;
          const t0 = process.hrtime.bigint();
          const deadline = durationMs !== undefined ? t0 + BigInt(Math.round(durationMs * 1e6)) : undefined;
          const more = (): boolean => (count !== undefined ? started < count : process.hrtime.bigint() < deadline!);
          const worker = async (): Promise<void> => {
            while (more()) {
              started++;
              await pool.use(async (s) => {
                const k = await keyFor(s);
                const a = process.hrtime.bigint();
                await p.iteration(k, s);
                latencies.push(Number(process.hrtime.bigint() - a) / 1e6);
              });
              progress.setLabel(`bench ${o.op} ${p.mechanism}: ${latencies.length}${count !== undefined ? `/${count}` : ''} ops`);
            }
          };
          await Promise.all(Array.from({ length: concurrency }, worker));
          const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
          progress.stop();
          const sorted = Float64Array.from(latencies).sort();
          const sum = latencies.reduce((x, y) => x + y, 0);
          const round = (x: number): number => Math.round(x * 1000) / 1000;
          const r: BenchResult = {
            op: o.op,
            mechanism: p.mechanism,
            ...(p.keyType !== undefined ? { keyType: p.keyType } : {}),
            dataBytes: size,
            concurrency: pool.size,
            operations: latencies.length,
            seconds: round(seconds),
            opsPerSecond: Math.round((latencies.length / seconds) * 10) / 10,
            latencyMs: {
              mean: round(latencies.length ? sum / latencies.length : 0),
              p50: round(percentile(sorted, 50)),
              p99: round(percentile(sorted, 99)),
              min: round(sorted[0] ?? 0),
              max: round(sorted[sorted.length - 1] ?? 0),
            },
          };
          if (o.json) return printJson(r);
          const l = r.latencyMs;
          printFields([
            ['operation', `${r.op} ${r.mechanism}${r.keyType ? ` (${r.keyType} session key)` : ''}, ${r.dataBytes} bytes each`],
            ['concurrency', r.concurrency],
            ['operations', `${r.operations} in ${r.seconds.toFixed(3)} s`],
            ['throughput', `${r.opsPerSecond} ops/s`],
            ['latency (ms)', `mean ${l.mean}  p50 ${l.p50}  p99 ${l.p99}  min ${l.min}  max ${l.max}`],
          ]);
        } finally {
          progress.stop();
          await pool.close();
          for (const m of keys.made) await m.destroy().catch(() => undefined);
        }
      });
    });
}
