// `p11bridge doctor`: what a bug report needs, as text or --json. The runtime (Node, platform,
// libc), the addon binary in use, and for each module (discovered, and/or given with --module):
// its C_GetInfo, interfaces, function count, slots, token flags and mechanism count, or what
// failed and why. It never logs in and never reads an object, so no PIN and no object value can
// reach the report. Each module is probed in a child process with a deadline: a module that hangs
// in C_Initialize or crashes the process is reported as such instead of taking doctor down.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Option } from 'commander';
import type { Command } from 'commander';
import { Module, ModuleLoadError, Pkcs11Error, discover } from '../../index';
import type { DiscoveredModule } from '../../index';
import { BINDING_PATH } from '../../raw';
import { UsageError } from '../errors';
import { printJson } from '../output';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const VERSION = (require('../../../package.json') as { version: string }).version;

/** Library parameters reach the probe through the environment, never through argv or the report. */
const PARAMS_ENV = 'P11BRIDGE_DOCTOR_LIBRARY_PARAMETERS';
/** The probe writes its result to this file descriptor, so a module printing to stdout cannot garble it. */
const RESULT_FD = 3;

export interface ErrorReport {
  name: string;
  message: string;
  /** ModuleLoadError code (MODULE_NOT_FOUND …) or the CKR name of a Pkcs11Error. */
  code?: string;
  function?: string;
}

export interface SlotReport {
  id: string;
  description?: string;
  manufacturerID?: string;
  flags?: string[];
  token?: {
    label: string;
    manufacturerID: string;
    model: string;
    serialNumber: string;
    flags: string[];
    sessions: { max: string; rwMax: string };
    pinLength: { min: string; max: string };
    mechanismCount?: number;
    mechanismError?: ErrorReport;
  };
  error?: ErrorReport;
}

export interface ModuleReport {
  name: string;
  path: string;
  realPath?: string;
  /** Where it came from: a discovery source, or 'command line'. */
  source: string;
  status: 'ok' | 'failed' | 'timeout' | 'crashed' | 'missing' | 'skipped';
  /** Why a module failed, was skipped or is missing. */
  error?: ErrorReport;
  /** What the module wrote to stderr while failing (last 2000 characters). */
  stderr?: string;
  libraryParameters?: 'given';
  info?: {
    cryptokiVersion: string;
    manufacturerID: string;
    description: string;
    libraryVersion: string;
    functionCount: number;
    /** "PKCS 11" when the function list came from C_GetInterface. */
    interface: string | null;
  };
  interfaces?: Array<{ name: string | null; version: string; flags: string }>;
  interfacesError?: ErrorReport;
  slots?: SlotReport[];
  slotsError?: ErrorReport;
  durationMs?: number;
}

export interface DoctorReport {
  p11bridge: string;
  node: { version: string; napi: string | undefined; modules: string | undefined; v8: string };
  platform: NodeJS.Platform;
  arch: string;
  os: { type: string; release: string };
  libc: { family: 'glibc' | 'musl' | null; version: string | null };
  addon: { path: string; kind: 'prebuild' | 'build' | 'other'; target: string | null; tags: string[]; bytes: number | null; sha256: string | null };
  modules: ModuleReport[];
  discoveryIssues: string[];
}

// ---------------------------------------------------------------------------------------------
// The runtime and the addon

function libcOf(): DoctorReport['libc'] {
  if (process.platform !== 'linux') return { family: null, version: null };
  // process.report's header has the glibc version; a musl process has none but maps ld-musl.
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string }; sharedObjects?: string[] } | undefined;
  const glibc = report?.header?.glibcVersionRuntime;
  if (glibc) return { family: 'glibc', version: glibc };
  const musl = (report?.sharedObjects ?? []).find((p) => /ld-musl-/.test(p));
  if (musl) return { family: 'musl', version: null };
  return { family: null, version: null };
}

/** What node-gyp-build chose: a prebuild (prebuilds/<platform>-<arch>/<name>.<tags>.node) or build/. */
export function describeAddon(file: string): DoctorReport['addon'] {
  const parts = file.split(/[\\/]/);
  const base = parts[parts.length - 1] ?? '';
  let kind: DoctorReport['addon']['kind'] = 'other';
  let target: string | null = null;
  let tags: string[] = [];
  const at = parts.lastIndexOf('prebuilds');
  if (at >= 0 && at === parts.length - 3) {
    kind = 'prebuild';
    target = parts[at + 1];
    tags = base
      .replace(/\.node$/, '')
      .split('.')
      .slice(1);
  } else if (parts.includes('build')) {
    kind = 'build';
    target = parts[parts.lastIndexOf('build') + 1] ?? null; // Release / Debug
  }
  let bytes: number | null = null;
  let sha256: string | null = null;
  try {
    const data = fs.readFileSync(file);
    bytes = data.length;
    sha256 = createHash('sha256').update(data).digest('hex');
  } catch {
    // reported as nulls: the file was loaded, so this is only a read permission matter
  }
  return { path: file, kind, target, tags, bytes, sha256 };
}

function runtimeReport(): Omit<DoctorReport, 'modules' | 'discoveryIssues'> {
  return {
    p11bridge: VERSION,
    node: { version: process.version, napi: process.versions.napi, modules: process.versions.modules, v8: process.versions.v8 },
    platform: process.platform,
    arch: process.arch,
    os: { type: os.type(), release: os.release() },
    libc: libcOf(),
    addon: describeAddon(BINDING_PATH),
  };
}

// ---------------------------------------------------------------------------------------------
// Probing one module (in the probe child)

function errorReport(e: unknown): ErrorReport {
  if (e instanceof ModuleLoadError) return { name: e.name, code: e.code, message: e.message };
  if (e instanceof Pkcs11Error) return { name: e.name, code: e.rvName, function: e.function, message: e.message };
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: 'Error', message: String(e) };
}

const ver = (v: { major: number; minor: number }): string => `${v.major}.${v.minor}`;
const limit = (v: unknown): string => (typeof v === 'bigint' || typeof v === 'number' ? String(v) : v === null || v === undefined ? '' : String(v));
const setFlags = (flags: Record<string, boolean>): string[] => Object.keys(flags).filter((k) => flags[k]);

/** Opens one module, reads what the report shows, closes it. Never throws. */
export async function probeModule(modulePath: string, libraryParameters?: string): Promise<Omit<ModuleReport, 'name' | 'source'>> {
  const started = Date.now();
  const out: Omit<ModuleReport, 'name' | 'source'> = { path: modulePath, status: 'ok' };
  if (libraryParameters) out.libraryParameters = 'given';
  let mod: Module;
  try {
    mod = await Module.open(modulePath, libraryParameters ? { initialize: { libraryParameters } } : {});
  } catch (e) {
    return { ...out, status: 'failed', error: errorReport(e), durationMs: Date.now() - started };
  }
  try {
    const i = await mod.info();
    out.info = {
      cryptokiVersion: ver(i.cryptokiVersion),
      manufacturerID: i.manufacturerID,
      description: i.description,
      libraryVersion: ver(i.libraryVersion),
      functionCount: i.functionCount,
      interface: i.interface,
    };
    try {
      out.interfaces = (await mod.interfaces()).map((f) => ({ name: f.name, version: ver(f.version), flags: `0x${BigInt(f.flags).toString(16)}` }));
    } catch (e) {
      out.interfacesError = errorReport(e);
    }
    try {
      out.slots = [];
      for (const slot of await mod.slots({ tokenPresent: false })) {
        const s: SlotReport = { id: String(slot.id) };
        out.slots.push(s);
        try {
          const si = await slot.info();
          Object.assign(s, { description: si.description, manufacturerID: si.manufacturerID, flags: setFlags(si.flags) });
          if (!si.flags.tokenPresent) continue;
          const t = await slot.tokenInfo();
          s.token = {
            label: t.label,
            manufacturerID: t.manufacturerID,
            model: t.model,
            serialNumber: t.serialNumber,
            flags: setFlags(t.flags),
            sessions: { max: limit(t.maxSessionCount), rwMax: limit(t.maxRwSessionCount) },
            pinLength: { min: limit(t.minPinLength), max: limit(t.maxPinLength) },
          };
          try {
            s.token.mechanismCount = (await mod.raw.C_GetMechanismListAsync(slot.id)).length;
          } catch (e) {
            s.token.mechanismError = errorReport(e);
          }
        } catch (e) {
          s.error = errorReport(e);
        }
      }
    } catch (e) {
      delete out.slots;
      out.slotsError = errorReport(e);
    }
  } catch (e) {
    out.status = 'failed';
    out.error = errorReport(e);
  } finally {
    await mod.close().catch(() => undefined);
  }
  out.durationMs = Date.now() - started;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Running probes in child processes

/** The compiled CLI entry a probe child runs; undefined when running from sources (ts-jest). */
function cliEntry(): string | undefined {
  const js = path.join(__dirname, '..', 'main.js');
  return fs.existsSync(js) ? js : undefined;
}

async function probeInChild(entry: string, modulePath: string, libraryParameters: string | undefined, timeoutMs: number): Promise<Omit<ModuleReport, 'name' | 'source'>> {
  const env = { ...process.env };
  if (libraryParameters) env[PARAMS_ENV] = libraryParameters;
  else delete env[PARAMS_ENV];
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [entry, 'doctor', '--probe', modulePath], { env, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let result = '';
    let timedOut = false;
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-4000);
    });
    (child.stdio[RESULT_FD] as NodeJS.ReadableStream).on('data', (d: Buffer) => {
      result += d.toString('utf8');
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ path: modulePath, status: 'failed', error: errorReport(e), durationMs: Date.now() - started });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const durationMs = Date.now() - started;
      // A module may echo its initialization string in a message: never let it into the report.
      const scrubbed = libraryParameters ? stderr.split(libraryParameters).join('[library parameters]') : stderr;
      const tail = scrubbed.trim().slice(-2000) || undefined;
      if (timedOut) {
        resolve({
          path: modulePath,
          status: 'timeout',
          error: { name: 'TimeoutError', message: `no answer within ${timeoutMs / 1000} s (the probe was killed)` },
          stderr: tail,
          durationMs,
        });
        return;
      }
      try {
        const parsed = JSON.parse(result) as Omit<ModuleReport, 'name' | 'source'>;
        if (parsed.status !== 'ok') parsed.stderr = tail;
        resolve(parsed);
      } catch {
        const how = signal ? `killed by ${signal}` : `exited with code ${String(code)}`;
        resolve({ path: modulePath, status: 'crashed', error: { name: 'ProbeCrashed', message: `the probe process ${how} before reporting` }, stderr: tail, durationMs });
      }
    });
  });
}

/** Writes all of `data` to a file descriptor, riding out partial writes and EAGAIN on a pipe. */
function writeAll(fd: number, data: Buffer): void {
  for (let off = 0; off < data.length;) {
    try {
      off += fs.writeSync(fd, data, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The command

interface DoctorOptions {
  json?: boolean;
  module?: string[];
  discover: boolean;
  only?: string;
  all?: boolean;
  libraryParameters?: string[];
  timeout: string;
  jobs: string;
  probe?: string;
}

/** `--library-parameters module=text`: keyed by the resolved path (when it names a file) and as written. */
function parametersByModule(specs: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new UsageError('--library-parameters takes <module path or name>=<parameters>');
    const key = spec.slice(0, eq);
    const text = spec.slice(eq + 1);
    out.set(key, text);
    if (key.includes('/') || key.includes('\\')) out.set(path.resolve(key), text);
  }
  return out;
}

/** The modules to report on: discovered ones (filtered) and the --module paths, deduplicated. */
async function candidates(o: DoctorOptions, issues: string[]): Promise<Array<Pick<ModuleReport, 'name' | 'path' | 'realPath' | 'source' | 'status' | 'error'>>> {
  const out: Array<Pick<ModuleReport, 'name' | 'path' | 'realPath' | 'source' | 'status' | 'error'>> = [];
  const seen = new Set<string>();
  const only = o.only
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (o.discover) {
    const found: DiscoveredModule[] = await discover({ includeDisabled: true, onIssue: (i) => issues.push(`${i.file}${i.line ? ':' + i.line : ''}: ${i.message}`) });
    for (const m of found) {
      if (only && !only.includes(m.name)) continue;
      seen.add(m.realPath);
      const entry = { name: m.name, path: m.path, realPath: m.realPath, source: m.source };
      if (!m.exists) out.push({ ...entry, status: 'missing', error: { name: 'NotFound', message: 'the configured module file does not exist' } });
      else if (!m.enabled && !o.all)
        out.push({ ...entry, status: 'skipped', error: { name: 'Disabled', message: 'p11-kit would not load it in this program (enable-in/disable-in); --all probes it anyway' } });
      else out.push({ ...entry, status: 'ok' });
    }
  }
  for (const p of o.module ?? []) {
    // A bare file name is left to the system loader's search path, as Module.open does.
    const abs = /[\\/]/.test(p) ? path.resolve(p) : p;
    let real = abs;
    try {
      real = fs.realpathSync(abs);
    } catch {
      // a missing file is probed anyway: the load error says what is wrong
    }
    if (seen.has(real)) continue;
    seen.add(real);
    out.push({ name: path.basename(p).replace(/\.(so(\.\d+)*|dylib|dll)$/, ''), path: abs, realPath: real, source: 'command line', status: 'ok' });
  }
  return out;
}

function printText(r: DoctorReport): void {
  const lines: string[] = [];
  const libc = r.libc.family ? `${r.libc.family}${r.libc.version ? ' ' + r.libc.version : ''}` : r.platform === 'linux' ? 'libc unknown' : '';
  lines.push(`p11bridge ${r.p11bridge}`);
  lines.push(
    `node:     ${r.node.version} (N-API ${r.node.napi ?? '?'}, ABI ${r.node.modules ?? '?'}), ${r.platform} ${r.arch}${libc ? ', ' + libc : ''}, ${r.os.type} ${r.os.release}`,
  );
  const a = r.addon;
  lines.push(`addon:    ${a.path}`);
  lines.push(
    `          ${a.kind}${a.target ? ' ' + a.target : ''}${a.tags.length ? ', tags ' + a.tags.join('.') : ''}${a.sha256 ? ', sha256 ' + a.sha256.slice(0, 16) + '…' : ''}`,
  );
  const counts = (['ok', 'failed', 'timeout', 'crashed', 'missing', 'skipped'] as const)
    .map((status) => [status, r.modules.filter((m) => m.status === status).length] as const)
    .filter(([, n]) => n > 0);
  lines.push(`modules:  ${r.modules.length}${counts.length ? ' (' + counts.map(([k, n]) => `${n} ${k}`).join(', ') + ')' : ''}`);
  for (const m of r.modules) {
    lines.push('', `${m.name}  ${m.path}  [${m.source}]`);
    if (m.status !== 'ok') {
      lines.push(`  ${m.status.toUpperCase()}: ${m.error ? `${m.error.name}${m.error.code ? ' ' + m.error.code : ''}: ${m.error.message}` : ''}`);
      if (m.stderr)
        lines.push(
          ...m.stderr
            .split('\n')
            .slice(-5)
            .map((l) => `  | ${l}`),
        );
      continue;
    }
    if (m.info) {
      const i = m.info;
      lines.push(
        `  library:     ${i.manufacturerID} — ${i.description} ${i.libraryVersion}, Cryptoki ${i.cryptokiVersion}, ` +
          `${i.functionCount} functions${i.interface ? ' (C_GetInterface)' : ''}`,
      );
    }
    if (m.interfaces) lines.push(`  interfaces:  ${m.interfaces.map((f) => `${f.name ?? '?'} ${f.version}`).join(', ') || '(none: PKCS#11 2.x)'}`);
    if (m.interfacesError) lines.push(`  interfaces:  error ${m.interfacesError.code ?? m.interfacesError.name}`);
    if (m.slotsError) lines.push(`  slots:       error ${m.slotsError.code ?? m.slotsError.name}: ${m.slotsError.message}`);
    if (m.slots) {
      lines.push(`  slots:       ${m.slots.length}`);
      for (const s of m.slots) {
        lines.push(`  - slot ${s.id}: ${s.description ?? ''}${s.manufacturerID ? ' (' + s.manufacturerID + ')' : ''}`);
        if (s.error) lines.push(`      error ${s.error.code ?? s.error.name}: ${s.error.message}`);
        const t = s.token;
        if (!t) continue;
        const label = t.flags.includes('tokenInitialized') ? `'${t.label}'` : '(not initialized)';
        lines.push(`      token ${label} ${t.manufacturerID} ${t.model}${t.serialNumber ? ' serial ' + t.serialNumber : ''}`);
        lines.push(`      flags: ${t.flags.join(', ') || '(none)'}`);
        lines.push(
          `      mechanisms: ${t.mechanismCount ?? 'error ' + (t.mechanismError?.code ?? t.mechanismError?.name ?? '?')}, ` +
            `sessions max ${t.sessions.max || '?'} (rw ${t.sessions.rwMax || '?'}), PIN length ${t.pinLength.min}-${t.pinLength.max}`,
        );
      }
    }
  }
  if (r.discoveryIssues.length) lines.push('', 'discovery issues:', ...r.discoveryIssues.map((i) => `  ${i}`));
  process.stdout.write(lines.join('\n') + '\n');
}

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('what a bug report needs: Node, platform, libc, the addon in use, and every module with its info, slots and tokens (no PINs, no object values)')
    .option('--json', 'machine-readable output')
    .option('--module <path...>', 'also probe these module files')
    .option('--no-discover', 'only the --module paths, no discovery')
    .option('--only <names>', 'discovered modules with these names only (comma-separated, e.g. softhsm2,opensc)')
    .option('--all', 'also probe modules p11-kit would not load in this program')
    .option('--library-parameters <module=text...>', "C_Initialize library parameters (NSS softokn) for a module, by path or name: 'softokn3=configdir=…'; never printed")
    .option('--timeout <seconds>', 'deadline for each module probe', '30')
    .option('--jobs <n>', 'modules probed at the same time', '4')
    .addOption(new Option('--probe <path>', 'internal: probe one module and write the result to fd 3').hideHelp())
    .action(async (o: DoctorOptions) => {
      if (o.probe !== undefined) {
        // The probe child: one module, the result to RESULT_FD as JSON.
        const result = await probeModule(o.probe, process.env[PARAMS_ENV] || undefined);
        writeAll(RESULT_FD, Buffer.from(JSON.stringify(result)));
        return;
      }
      const seconds = Number(o.timeout);
      if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`--timeout takes a number of seconds (got '${o.timeout}')`);
      const issues: string[] = [];
      const list = await candidates(o, issues);
      const entry = cliEntry();
      const params = parametersByModule(o.libraryParameters ?? []);
      const jobs = Number(o.jobs);
      if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new UsageError(`--jobs takes a number from 1 to 64 (got '${o.jobs}')`);
      // Probes run `jobs` at a time (each in its own process when compiled; in-process one by one
      // when running from sources), and the report keeps the discovery order.
      const modules: ModuleReport[] = new Array<ModuleReport>(list.length);
      let next = 0;
      const worker = async (): Promise<void> => {
        for (let k = next++; k < list.length; k = next++) {
          const c = list[k];
          if (c.status !== 'ok') {
            modules[k] = c as ModuleReport;
            continue;
          }
          const p = params.get(c.path) ?? params.get(c.name) ?? (c.realPath !== undefined ? params.get(c.realPath) : undefined);
          const probed = entry ? await probeInChild(entry, c.path, p, seconds * 1000) : await probeModule(c.path, p);
          modules[k] = { ...c, ...probed, name: c.name, source: c.source, path: c.path };
        }
      };
      await Promise.all(Array.from({ length: entry ? Math.min(jobs, list.length) : 1 }, worker));
      const report: DoctorReport = { ...runtimeReport(), modules, discoveryIssues: issues };
      if (o.json) printJson(report);
      else printText(report);
    });
}
