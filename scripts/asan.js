#!/usr/bin/env node
// Runs the jest suite against an AddressSanitizer (+ UndefinedBehaviorSanitizer) build of the addon
// and reports every sanitizer error, split into errors in p11bridge's own code and the rest.
//
// The repository's build/ and prebuilds/ are never touched: the sources are copied to a separate
// tree (default /tmp/p11bridge-asan, node_modules is a symlink back to the repository), the addon is
// built there with node-gyp (-Dp11_asan=1 from binding.gyp, which also turns off RTLD_DEEPBIND:
// the sanitizer runtime refuses it), dist/ is compiled there, and jest runs in that tree, so
// lib/native.ts (node-gyp-build) and the child-process fixtures load the instrumented
// build/Release/p11bridge.node.
//
// Node itself is not instrumented, so the ASan runtime is LD_PRELOADed (it must come first in the
// process's library list) into node and everything it spawns (jest workers, child fixtures).
// Reports go to per-process log files (log_path), recovery is on (-fsanitize-recover +
// halt_on_error=0) so one run counts every error instead of stopping at the first.
//
//   node scripts/asan.js                 the raw-layer and typed-layer tests (the default set below)
//   node scripts/asan.js --all           every test file except test/package.test.ts
//   node scripts/asan.js -- test/key     jest path patterns of your own after --
//   node scripts/asan.js --leaks         LeakSanitizer on too (jest then runs --runInBand: its
//                                        workers are killed before a leak check could finish)
//   --no-ubsan   ASan only          --dir DIR   the copy (never the repository itself)
//   --clean      rebuild the copy from scratch  --no-build   reuse the copy's build as it is
//   --soak N     run scripts/soak.js (N calls) under the sanitizers instead of jest
//   --baseline   also run the same tests on a plain build in DIR-plain, to tell failures caused by
//                the sanitizers from failures that happen anyway
//   --canary     self-test, in DIR-canary: plants a heap overflow, a signed overflow and a leak in
//                the copy's C_GetInfo and checks that the sanitizers pin them on the addon
//                (with --tsan: an unsynchronized counter that concurrent async calls race on)
//   --tsan       ThreadSanitizer instead of ASan/UBSan (default copy /tmp/p11bridge-tsan): the call
//                threads, the completion queue and the lifecycle, over the TSAN_TESTS below.
//                Node is not instrumented: races inside node/V8 alone are reported as "other".
//
// Every report is classified by its first frame outside the sanitizer runtime (for a leak: the
// allocating frame): "addon" (p11bridge.node's own code), "called" (the addon is on the stack but
// the fault is in code it called: a PKCS#11 module, node's N-API), "other" (no addon frame).
// Prints a JSON summary last (also DIR/logs/summary.json); exit code 1 when a report is the
// addon's, 2 when only jest (or the soak) failed, 0 otherwise. See docs/reliability.md.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

const repo = path.join(__dirname, '..');

// The raw-layer tests and the typed layer (issue 5): everything that drives the addon in-process,
// through workers or through child processes.
const DEFAULT_TESTS = [
  'general', 'slot-token', 'session', 'object', 'marshal', 'crypto', 'key', 'async', 'arguments',
  'workers', 'v3-functions', 'interfaces', 'mechanisms-[^/]*', 'typed-[^/]*',
];

// ThreadSanitizer's set: everything that runs calls on several threads at once.
const TSAN_TESTS = ['engine', 'async', 'workers', 'lifecycle-races', 'fuzz-regressions', 'typed-pool'];

function parseArgs(argv) {
  const o = { dir: '/tmp/p11bridge-asan', ubsan: true, leaks: false, all: false, clean: false, build: true, jestArgs: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { o.jestArgs = argv.slice(i + 1); break; }
    else if (a === '--dir') o.dir = argv[++i];
    else if (a === '--no-ubsan') o.ubsan = false;
    else if (a === '--leaks') o.leaks = true;
    else if (a === '--all') o.all = true;
    else if (a === '--clean') o.clean = true;
    else if (a === '--no-build') o.build = false;
    else if (a === '--canary') o.canary = true;
    else if (a === '--tsan') o.tsan = true;
    else if (a === '--baseline') o.baseline = true;
    else if (a === '--soak') {
      o.soak = Number(argv[++i]);
      if (!Number.isSafeInteger(o.soak) || o.soak < 1) throw new Error('--soak needs a call count');
    }
    else if (a === '-h' || a === '--help') {
      const lines = fs.readFileSync(__filename, 'utf8').split('\n').slice(1);
      process.stdout.write(lines.slice(0, lines.findIndex((l) => !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
      process.exit(0);
    } else throw new Error('unknown option ' + a + ' (see --help)');
  }
  if (o.tsan) {
    o.ubsan = false;
    o.leaks = false;
    if (o.dir === '/tmp/p11bridge-asan') o.dir = '/tmp/p11bridge-tsan';
  }
  // The self-test gets a tree of its own, so the real copy's build stays clean.
  if (o.canary) {
    o.dir = path.resolve(o.dir) + '-canary';
    if (!o.jestArgs.length) o.jestArgs = [o.tsan ? 'test/tsan-canary\\.test\\.ts$' : 'test/general\\.test\\.ts$'];
  }
  o.dir = path.resolve(o.dir);
  return o;
}

function log(msg) {
  process.stderr.write(`[asan] ${msg}\n`);
}

// ---- 1. the copy ---------------------------------------------------------------------------------

const SKIP_TOP = new Set(['build', 'prebuilds', 'node_modules', '.git', '.tmp', 'dist', 'logs']);

function syncTree(dir, clean) {
  const real = (p) => (fs.existsSync(p) ? fs.realpathSync(p) : path.resolve(p));
  if (real(dir) === real(repo) || real(dir).startsWith(real(repo) + path.sep)) {
    throw new Error(`--dir ${dir} is the repository or inside it: the copy must live elsewhere`);
  }
  // The copy is wiped and refilled: only a directory this script made (its marker file) or an
  // empty/new one is accepted, so a mistyped --dir cannot empty anything else.
  const marker = path.join(dir, '.p11bridge-sanitizer-copy');
  if (fs.existsSync(dir) && fs.readdirSync(dir).length && !fs.existsSync(marker)) {
    throw new Error(`--dir ${dir} exists and is not a copy made by scripts/asan.js (no ${path.basename(marker)})`);
  }
  if (clean) fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(marker, `copy of ${repo} for scripts/asan.js\n`);
  // Drop the previous copy's sources (files deleted in the repository must go too); keep build/
  // so make only recompiles what changed.
  for (const e of fs.readdirSync(dir)) {
    if (e === 'build' || e === 'node_modules' || e === path.basename(marker)) continue;
    fs.rmSync(path.join(dir, e), { recursive: true, force: true });
  }
  for (const e of fs.readdirSync(repo)) {
    if (SKIP_TOP.has(e)) continue;
    // preserveTimestamps: make compares them with the objects already in the copy's build/.
    fs.cpSync(path.join(repo, e), path.join(dir, e), { recursive: true, preserveTimestamps: true });
  }
  const nm = path.join(dir, 'node_modules');
  if (!fs.existsSync(nm)) fs.symlinkSync(path.join(repo, 'node_modules'), nm, 'dir');
}

// The --canary self-test: two deliberate bugs in the copy (never in the repository) that every
// C_GetInfo call hits, one for each sanitizer.
function plantCanary(dir, tsan) {
  const file = path.join(dir, 'src-native', 'functions', 'general.cc');
  const src = fs.readFileSync(file, 'utf8');
  const re = /(struct Op_C_GetInfo : OpBase \{[\s\S]*?CK_RV Run\(const FunctionTable& f\) \{)/;
  if (!re.test(src)) throw new Error('--canary: Op_C_GetInfo::Run not found in ' + file);
  // ThreadSanitizer: a plain counter every C_GetInfo bumps, on whichever call thread runs it.
  const race = ['', '    static long canary = 0;  // P11 TSAN CANARY: data race', '    canary = canary + 1;'].join('\n');
  const bug = tsan ? race : [
    '',
    '    char* canary = new char[8];  // P11 ASAN CANARY: heap-buffer-overflow',
    '    volatile char c = canary[8 + (info.flags & 1)];',
    '    (void)c;',
    '    delete[] canary;',
    '    volatile int big = 0x7fffffff;  // P11 ASAN CANARY: signed integer overflow',
    '    volatile int r = big + 1 + static_cast<int>(info.flags);',
    '    (void)r;',
    '    char* volatile lost = new char[24];  // P11 ASAN CANARY: leak (reported with --leaks)',
    '    (void)lost;',
  ].join('\n');
  if (tsan) fs.writeFileSync(path.join(dir, 'test', 'tsan-canary.test.ts'), TSAN_CANARY_TEST);
  fs.writeFileSync(file, src.replace(re, `$1${bug}`));
}

// Calls C_GetInfo from many call threads at once, so the planted counter is raced on.
const TSAN_CANARY_TEST = `import { PKCS11 } from '../lib/raw';
import { fixture } from './helpers/softhsm';
test('concurrent C_GetInfoAsync (tsan canary)', async () => {
  const m = new PKCS11();
  m.load(fixture().modulePath);
  m.C_Initialize();
  await Promise.all(Array.from({ length: 400 }, () => m.C_GetInfoAsync()));
  m.C_Finalize();
  m.close();
});
`;

// ---- 2. the instrumented build -------------------------------------------------------------------

function nodedir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null;
}

function sanitizerFlags(ubsan, tsan) {
  // binding.gyp's p11_tsan=1 adds -fsanitize=thread and defines P11_TSAN (no RTLD_DEEPBIND). It
  // also links with -Bsymbolic: otherwise the addon's calls to libstdc++'s out-of-line template
  // code (shared_ptr's _M_release) bind to node's uninstrumented copies, TSan never sees those
  // atomics, and every shared_ptr hand-over between threads is reported as a race.
  if (tsan) return { CXXFLAGS: '-g -O1 -fno-omit-frame-pointer', LDFLAGS: '-fsanitize=thread' };
  // binding.gyp's p11_asan=1 adds -fsanitize=address -fno-omit-frame-pointer and defines P11_ASAN.
  // Extra flags go through CXXFLAGS/LDFLAGS, which gyp's make generator appends to its own.
  const cxx = ['-g', '-O1', '-fno-omit-frame-pointer', '-fsanitize-recover=address'];
  const ld = ['-fsanitize=address'];
  if (ubsan) {
    // vptr needs RTTI, which node-gyp turns off.
    cxx.push('-fsanitize=undefined', '-fno-sanitize=vptr', '-fsanitize-recover=undefined');
    // UBSan's runtime goes inside the addon, its symbols kept local. With the shared libubsan,
    // its calls to __sanitizer_set_report_path bind to the preloaded libasan, so its own reports
    // ignore log_path and end up on stderr, which tests that spawn children swallow.
    ld.push('-fsanitize=undefined', '-static-libubsan', '-Wl,--exclude-libs,ALL');
  }
  return { CXXFLAGS: cxx.join(' '), LDFLAGS: ld.join(' ') };
}

function build(dir, { sanitize, ubsan, tsan }) {
  const gyp = path.join(repo, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const flags = sanitize ? sanitizerFlags(ubsan, tsan) : { CXXFLAGS: '', LDFLAGS: '' };
  const variable = tsan ? 'p11_tsan' : 'p11_asan';
  const env = { ...process.env, ...flags };
  delete env.LD_PRELOAD;
  const nd = nodedir();
  const common = nd ? ['--nodedir=' + nd] : [];
  log(`node-gyp configure + build in ${dir}${sanitize ? ` (-D${variable}=1 CXXFLAGS=${flags.CXXFLAGS})` : ' (no sanitizer: the baseline)'}`);
  const opts = { cwd: dir, env, stdio: ['ignore', 'ignore', 'inherit'] };
  execFileSync(process.execPath, [gyp, 'configure', '--loglevel=warn', ...common, '--', `-D${variable}=${sanitize ? 1 : 0}`], opts);
  execFileSync(process.execPath, [gyp, 'build', '--loglevel=warn', '-j', '2', ...common], opts);
  log('tsc -> dist/ in ' + dir);
  execFileSync(process.execPath, [path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], opts);
  if (sanitize && buildShim(dir, tsan)) log(`test/shim built with ${tsan ? 'TSan' : 'ASan'} into .tmp/p11shim (no RTLD_DEEPBIND)`);
}

// The test fault-injection shim (test/shim, built by test/helpers/shim.ts into .tmp/p11shim when
// stale) dlopens SoftHSM with RTLD_DEEPBIND unless __SANITIZE_ADDRESS__ is defined, and the ASan
// runtime aborts any process that asks for DEEPBIND. Built here first, with ASan, newer than its
// sources, so the helper uses it as it is. It is test code: its reports count as "other".
function buildShim(dir, tsan) {
  const src = path.join(dir, 'test', 'shim');
  if (!fs.existsSync(src)) return null;
  const out = path.join(dir, '.tmp', 'p11shim', 'p11shim.so');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const sources = fs.readdirSync(src).filter((n) => n.endsWith('.c')).map((n) => path.join(src, n));
  const args = ['-std=c99', '-O1', '-g', '-fPIC', '-shared', '-fvisibility=hidden', tsan ? '-fsanitize=thread' : '-fsanitize=address', '-fno-omit-frame-pointer'];
  args.push('-I', path.join(dir, 'src-native', 'pkcs11'), '-o', out, ...sources, '-ldl', '-lpthread');
  execFileSync('gcc', args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, LD_PRELOAD: '' } });
  return out;
}

function checkInstrumented(addon) {
  const ldd = execFileSync('ldd', [addon], { encoding: 'utf8', env: { ...process.env, LD_PRELOAD: '' } });
  const m = /lib[at]san\.so[.\d]*\s*=>\s*(\S+)/.exec(ldd);
  if (!m) throw new Error(`${addon} is not linked with libasan or libtsan:\n${ldd}`);
  const syms = execFileSync('nm', [addon], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: { ...process.env, LD_PRELOAD: '' } });
  return { libasan: m[1], ubsan: /__ubsan_handle_/.test(syms) };
}

// ---- 3. the run ----------------------------------------------------------------------------------

function writeLeakSuppressions(file) {
  // Global state these libraries allocate once and free never (OpenSSL's tables, SoftHSM's and
  // NSS's singletons) would fill the logs. A suppression matches any frame of an allocation
  // stack; the addon's own allocations never have these libraries above them (they call no
  // p11bridge code back), so no addon leak can hide behind one.
  fs.writeFileSync(
    file,
    [
      'leak:libcrypto.so', // SoftHSM's OpenSSL: global tables freed by no one
      'leak:libsofthsm2.so', // SoftHSM keeps its singletons (configuration, slot manager)
      'leak:libnss3.so', 'leak:libsoftokn3.so', 'leak:libnspr4.so', 'leak:libsqlite3.so',
      'leak:pkcs11-spy.so', 'leak:libp11-kit.so',
      '',
    ].join('\n'),
  );
}

const FRAME_FORMAT = '"    #%n %p %F %L <%m>"';

function sanitizerEnv(o, logsDir, libasan) {
  if (o.tsan) {
    // report_signal_unsafe: node's and the modules' signal handlers are not ours to judge.
    // exitcode=0: jest's own exit status says whether the tests passed; the reports are counted here.
    const tsan = ['halt_on_error=0', 'exitcode=0', `log_path=${path.join(logsDir, 'tsan')}`, 'report_signal_unsafe=0', 'second_deadlock_stack=1', `stack_trace_format=${FRAME_FORMAT}`];
    if (fs.existsSync('/usr/bin/llvm-symbolizer')) tsan.push('external_symbolizer_path=/usr/bin/llvm-symbolizer');
    return { LD_PRELOAD: libasan, TSAN_OPTIONS: tsan.join(':') };
  }
  const asan = [
    `detect_leaks=${o.leaks ? 1 : 0}`,
    'halt_on_error=0',
    `log_path=${path.join(logsDir, 'asan')}`,
    'symbolize=1',
    'detect_stack_use_after_return=0',
    // Node's own handlers (V8's WebAssembly trap handler) stay in charge of SIGSEGV.
    'allow_user_segv_handler=1',
    'print_suppressions=0',
    // Every frame names its module, so code inlined from system headers (std::vector in the
    // addon) is still recognized as the addon's.
    `stack_trace_format=${FRAME_FORMAT}`,
  ];
  if (o.leaks) asan.push('fast_unwind_on_malloc=0', 'malloc_context_size=40');
  const env = {
    LD_PRELOAD: libasan,
    ASAN_OPTIONS: asan.join(':'),
    // UBSan's runtime is linked into the addon (see sanitizerFlags) with its own log files; its
    // signal handlers stay off (ASan's and node's are in charge).
    UBSAN_OPTIONS: `print_stacktrace=1:halt_on_error=0:handle_segv=0:handle_sigbus=0:handle_abort=0:handle_sigill=0:handle_sigfpe=0:stack_trace_format=${FRAME_FORMAT}:log_path=${path.join(logsDir, 'ubsan')}`,
  };
  if (o.leaks) {
    const supp = path.join(logsDir, 'lsan.supp');
    writeLeakSuppressions(supp);
    env.LSAN_OPTIONS = `suppressions=${supp}:print_suppressions=0`;
  }
  if (fs.existsSync('/usr/bin/llvm-symbolizer')) env.ASAN_SYMBOLIZER_PATH = '/usr/bin/llvm-symbolizer';
  return env;
}

function jestPatterns(o) {
  if (o.jestArgs.length) return o.jestArgs;
  if (o.tsan && !o.all) return [`test/(${TSAN_TESTS.join('|')})\\.test\\.ts$`];
  return o.all ? ['--testPathIgnorePatterns', 'test/package\\.test\\.ts$'] : [`test/(${DEFAULT_TESTS.join('|')})\\.test\\.ts$`];
}

/** jest in the copy; sanEnv adds the sanitizer runtime (null: the plain baseline run). */
function runJest(dir, o, logsDir, sanEnv) {
  const env = { ...process.env, ...(sanEnv || {}), P11BRIDGE_FIXTURE: '' };
  if (!sanEnv) delete env.LD_PRELOAD;
  const patterns = jestPatterns(o);
  const jestJson = path.join(logsDir, 'jest.json');
  // Leak checking happens at exit and takes seconds on a big heap: jest's workers are killed (500
  // ms after they are told to end) before LSan can report, so with --leaks everything runs in
  // jest's own process, which exits on its own.
  const band = o.leaks ? ['--runInBand'] : [];
  const args = [path.join(dir, 'node_modules', 'jest', 'bin', 'jest.js'), '--ci', ...band, '--json', '--outputFile=' + jestJson, ...patterns];
  log(`jest ${patterns.join(' ')} in ${dir}${sanEnv ? ` under LD_PRELOAD=${sanEnv.LD_PRELOAD}` : ' (baseline, no sanitizer)'}`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, args, { cwd: dir, env, stdio: ['ignore', 'inherit', 'inherit'] });
  const seconds = (Date.now() - t0) / 1000;
  let jest = null;
  if (fs.existsSync(jestJson)) {
    const j = JSON.parse(fs.readFileSync(jestJson, 'utf8'));
    jest = {
      suites: j.numTotalTestSuites,
      passed: j.numPassedTests,
      failed: j.numFailedTests,
      failedSuites: j.numFailedTestSuites,
      runtimeErrorSuites: j.numRuntimeErrorTestSuites,
      failures: j.testResults
        .filter((t) => t.status !== 'passed')
        .map((t) => ({
          file: path.relative(dir, t.name),
          tests: t.assertionResults.filter((a) => a.status === 'failed').map((a) => a.fullName),
          message: t.assertionResults.length ? undefined : (t.message || '').slice(0, 500),
        })),
    };
  }
  return { status: r.status, signal: r.signal, seconds, jest };
}

/** scripts/soak.js of the copy (so it loads the copy's dist/ and instrumented addon). */
function runSoak(dir, o, sanEnv) {
  const env = { ...process.env, ...sanEnv };
  // RSS means little under ASan (quarantine, shadow memory): the limit is off, the other checks stay.
  const args = [path.join(dir, 'scripts', 'soak.js'), '--calls', String(o.soak), '--max-rss-growth-mb', '100000'];
  log(`soak.js --calls ${o.soak} in ${dir} under LD_PRELOAD=${sanEnv.LD_PRELOAD}`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, args, { cwd: dir, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 });
  let summary = null;
  try {
    summary = JSON.parse((r.stdout || '').trim().split('\n').pop());
  } catch {
    /* no summary: reported through status */
  }
  return { status: r.status, signal: r.signal, seconds: (Date.now() - t0) / 1000, summary };
}

// ---- 4. the reports ------------------------------------------------------------------------------

// Frames of the sanitizer runtime itself (interceptors such as memmove, operator new, free).
const RUNTIME_FRAME = /libsanitizer\/|\/lib[atu]+san\.so|__interceptor_|\bsanitizer_common\b/;
// p11bridge's own code: its sources and node-addon-api's header, which is compiled into it.
const ADDON_FRAME = /p11bridge\.node|src-native\/|node-addon-api\//;
const DEEPBIND = /RTLD_DEEPBIND flag which is incompatible with sanitizer runtime/;

/** Stack traces of one report: arrays of frame lines, in order (access, freed by, allocated by). */
function stacks(text) {
  const out = [];
  let cur = null;
  for (const line of text.split('\n')) {
    if (/^\s*#\d+ /.test(line)) {
      if (!cur) out.push((cur = []));
      cur.push(line.trim());
    } else cur = null;
  }
  return out;
}

/** Where the code that did it lives: the first frame that is not the sanitizer runtime. */
function culprit(frames) {
  return frames.find((f) => !RUNTIME_FRAME.test(f)) || frames[0] || '?';
}

function libraryOf(frame) {
  const mod = /<([^<>]+)>\s*$/.exec(frame);
  if (mod) return path.basename(mod[1]);
  const m = /\((\/[^)+]+)\+0x[0-9a-f]+\)\s*$/.exec(frame);
  if (m) return path.basename(m[1]);
  const s = / (\S+):\d+(?::\d+)?$/.exec(frame);
  return s ? s[1] : '?';
}

function parseAsanLog(text, file) {
  const reports = [];
  // One report per "==PID==ERROR:" header (recovery mode prints several into one file).
  const parts = text.split(/(?=^==\d+==ERROR: )/m).filter((p) => /^==\d+==ERROR: /.test(p));
  for (const p of parts) {
    const kind = /^==\d+==ERROR: (\w+): ([\w-]+)/.exec(p);
    if (kind && kind[1] === 'LeakSanitizer') {
      // One leak report holds many leaks; each "Direct/Indirect leak of" block is its own entry.
      for (const b of p.split(/(?=^(?:Direct|Indirect) leak of )/m).slice(1)) {
        const body = b.split(/^SUMMARY: /m)[0];
        const frames = stacks(body)[0] || [];
        const head = body.split('\n')[0];
        const bytes = Number((/leak of (\d+) byte/.exec(head) || [0, 0])[1]);
        reports.push({ tool: 'LeakSanitizer', type: /^Direct/.test(head) ? 'direct-leak' : 'indirect-leak', bytes, file, text: body.trim(), access: frames, related: [] });
      }
      continue;
    }
    // The report ends at its SUMMARY line (a UBSan report may follow in the same file).
    const end = p.search(/^SUMMARY: .*$/m);
    const body = end < 0 ? p : p.slice(0, p.indexOf('\n', end) + 1 || p.length);
    const st = stacks(body);
    reports.push({ tool: kind ? kind[1] : 'AddressSanitizer', type: kind ? kind[2] : 'unknown', file, text: body.trim(), access: st[0] || [], related: st.slice(1).flat() });
  }
  return reports;
}

// GCC's TSan runtime leaves frames in a dlopened library unsymbolized ("#0 0x… (lib+0x…) <lib>"):
// llvm-symbolizer, run here over all of them at once, names their function, file and line.
function symbolizeLeftovers(text) {
  const re = /^(\s*#\d+ 0x[0-9a-f]+) +\((\/[^)+]+)\+(0x[0-9a-f]+)\)( <[^<>]+>)$/gm;
  const want = new Map();
  for (const m of text.matchAll(re)) {
    if (!want.has(m[2])) want.set(m[2], new Set());
    want.get(m[2]).add(m[3]);
  }
  if (!want.size || !fs.existsSync('/usr/bin/llvm-symbolizer')) return text;
  const names = new Map();
  for (const [obj, offs] of want) {
    const list = [...offs];
    const r = spawnSync('/usr/bin/llvm-symbolizer', ['--obj=' + obj, ...list], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) continue;
    // One block per address: function/location pairs (inlined frames first), then a blank line.
    const blocks = r.stdout.trim().split(/\n\s*\n/);
    list.forEach((off, i) => {
      const lines = (blocks[i] || '').split('\n');
      if (lines.length >= 2 && lines[0] !== '??') names.set(`${obj}+${off}`, `${lines[0]} ${lines[1].replace(/^.*?\/build\/\.\.\//, '')}`);
    });
  }
  return text.replace(re, (all, head, obj, off, mod) => {
    const n = names.get(`${obj}+${off}`);
    return n ? `${head} in ${n}${mod}` : all;
  });
}

// ThreadSanitizer: one report per "WARNING: ThreadSanitizer: <kind>" block. A race has two
// accesses; `access` is the first stack, `related` holds the other (see classify).
function parseTsanLog(text, file) {
  text = symbolizeLeftovers(text);
  const reports = [];
  for (const p of text.split(/(?=^WARNING: ThreadSanitizer: )/m).slice(1)) {
    const kind = /^WARNING: ThreadSanitizer: ([^(\n]+?)\s*(?:\(|$)/m.exec(p);
    const end = p.search(/^SUMMARY: .*$/m);
    const body = end < 0 ? p : p.slice(0, p.indexOf('\n', end) + 1 || p.length);
    const st = stacks(body);
    reports.push({ tool: 'ThreadSanitizer', type: kind ? kind[1].replace(/ /g, '-') : 'unknown', file, text: body.trim(), access: st[0] || [], related: st.slice(1).flat(), stacks: st });
  }
  return reports;
}

function parseUbsanLog(text, file) {
  const reports = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/ runtime error: /.test(lines[i])) continue;
    const block = [lines[i]];
    let j = i + 1;
    while (j < lines.length && !/ runtime error: |^={10,}$|^==\d+==/.test(lines[j])) block.push(lines[j++]);
    const body = block.join('\n');
    // The location line first: "src-native/x.cc:12:5: runtime error: …".
    const frames = [lines[i].replace(/: runtime error: .*/, ''), ...(stacks(body)[0] || [])];
    reports.push({ tool: 'UndefinedBehaviorSanitizer', type: lines[i].replace(/^.*runtime error: /, '').replace(/0x[0-9a-f]+/g, '0x…').slice(0, 80), file, text: body.trim(), access: frames, related: [] });
    i = j - 1;
  }
  return reports;
}

/**
 * addon:  the faulting (or allocating, for a leak) code is p11bridge's own.
 * called: the addon is on the stack but the fault is in code it called (a PKCS#11 module, node's
 *         N-API, libc): a bug there, or bad arguments from the addon — read the report.
 * other:  the addon is nowhere on the stacks (node, V8, tools the tests run).
 */
function classify(r) {
  // A race is the addon's when either of its two accesses is made by the addon's own code.
  if (r.tool === 'ThreadSanitizer' && r.stacks) {
    const own = r.stacks.slice(0, 2).map(culprit).find((f) => ADDON_FRAME.test(f));
    if (own) return { ...r, class: 'addon', where: own };
  }
  const at = culprit(r.access);
  if (ADDON_FRAME.test(at)) return { ...r, class: 'addon', where: at };
  const via = r.access.find((f) => ADDON_FRAME.test(f)) || r.related.find((f) => ADDON_FRAME.test(f));
  if (via) return { ...r, class: 'called', where: at, library: libraryOf(at), via };
  return { ...r, class: 'other', where: at, library: libraryOf(at) };
}

function analyze(logsDir) {
  const reports = [];
  const deepBindRefusals = [];
  for (const f of fs.readdirSync(logsDir).sort()) {
    if (!/^(asan|ubsan|tsan)\.\d+$/.test(f)) continue;
    const text = fs.readFileSync(path.join(logsDir, f), 'utf8');
    // Not an error report: the runtime killed a process that dlopened with DEEPBIND.
    const m = /dlopen a (\S+) shared library with RTLD_DEEPBIND/.exec(text);
    if (DEEPBIND.test(text)) deepBindRefusals.push(`${f}: ${m ? m[1] : '?'}`);
    reports.push(...(f.startsWith('tsan') ? parseTsanLog(text, f) : [...parseAsanLog(text, f), ...parseUbsanLog(text, f)]));
  }
  const classified = reports.map(classify);
  // Identical reports (the same site hit by many tests) are grouped by kind and place.
  const group = (list) => {
    const m = new Map();
    for (const r of list) {
      const where = r.where.replace(/^#\d+ 0x[0-9a-f]+ /, '').replace(/ <[^<>]+>$/, '').replace(/0x[0-9a-f]+/g, '0x…');
      const key = `${r.tool} ${r.type} @ ${where}`;
      const g = m.get(key) || { key, count: 0, bytes: 0, library: r.library, via: r.via, logs: [], example: r.text.split('\n').slice(0, 40).join('\n') };
      g.count++;
      g.bytes += r.bytes || 0;
      if (g.logs.length < 5) g.logs.push(r.file);
      m.set(key, g);
    }
    return [...m.values()].sort((a, b) => b.count - a.count);
  };
  const byTool = {};
  const byClass = { addon: 0, called: 0, other: 0 };
  for (const r of classified) {
    byTool[`${r.tool}/${r.tool === 'UndefinedBehaviorSanitizer' ? 'runtime-error' : r.type}`] = (byTool[`${r.tool}/${r.tool === 'UndefinedBehaviorSanitizer' ? 'runtime-error' : r.type}`] || 0) + 1;
    byClass[r.class]++;
  }
  return {
    deepBindRefusals,
    total: classified.length,
    byTool,
    byClass,
    addonGroups: group(classified.filter((r) => r.class === 'addon')),
    calledGroups: group(classified.filter((r) => r.class === 'called')),
    otherGroups: group(classified.filter((r) => r.class === 'other')),
  };
}

// ---- main ----------------------------------------------------------------------------------------

function failedNames(jest) {
  if (!jest) return [];
  return jest.failures.flatMap((f) => (f.tests.length ? f.tests.map((t) => `${f.file} › ${t}`) : [`${f.file} › (suite failed to run)`]));
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  if (process.platform !== 'linux') throw new Error('the sanitizer run is Linux-only (LD_PRELOAD of libasan)');
  if (o.build) {
    syncTree(o.dir, o.clean);
    if (o.canary) plantCanary(o.dir, o.tsan);
    build(o.dir, { sanitize: true, ubsan: o.ubsan, tsan: o.tsan });
  }
  const addon = path.join(o.dir, 'build', 'Release', 'p11bridge.node');
  const inst = checkInstrumented(addon);
  const logsDir = path.join(o.dir, 'logs');
  fs.rmSync(logsDir, { recursive: true, force: true });
  fs.mkdirSync(logsDir, { recursive: true });
  const sanEnv = sanitizerEnv(o, logsDir, inst.libasan);
  const soak = o.soak ? runSoak(o.dir, o, sanEnv) : null;
  const run = o.soak ? { status: 0, signal: null, seconds: soak.seconds, jest: null } : runJest(o.dir, o, logsDir, sanEnv);
  const san = analyze(logsDir);

  // The same tests on a plain build of the same sources: a failure that happens there too is not
  // the sanitizer's doing (flaky tests, missing tools, work in progress).
  let baseline = null;
  if (o.baseline) {
    const plain = o.dir + '-plain';
    syncTree(plain, false);
    build(plain, { sanitize: false });
    const plainLogs = path.join(plain, 'logs');
    fs.rmSync(plainLogs, { recursive: true, force: true });
    fs.mkdirSync(plainLogs, { recursive: true });
    const b = runJest(plain, o, plainLogs, null);
    const plainFailed = new Set(failedNames(b.jest));
    baseline = {
      dir: plain,
      seconds: b.seconds,
      jest: b.jest && { suites: b.jest.suites, passed: b.jest.passed, failed: b.jest.failed, runtimeErrorSuites: b.jest.runtimeErrorSuites },
      failedThere: [...plainFailed],
      failedOnlyUnderSanitizers: failedNames(run.jest).filter((n) => !plainFailed.has(n)),
    };
  }

  const summary = {
    addon,
    sanitizers: o.tsan ? 'thread' : inst.ubsan ? 'address+undefined' : 'address',
    leaks: o.leaks,
    tests: o.soak ? `scripts/soak.js --calls ${o.soak}` : jestPatterns(o).join(' '),
    logs: logsDir,
    seconds: run.seconds,
    jestExit: run.status,
    jestSignal: run.signal,
    jest: run.jest,
    baseline,
    soak: soak && {
      exit: soak.status,
      signal: soak.signal,
      ok: soak.summary && soak.summary.ok,
      checks: soak.summary && soak.summary.checks,
      counted: soak.summary && soak.summary.counted,
      seconds: soak.summary && soak.summary.seconds,
      unexpectedSamples: soak.summary && soak.summary.unexpectedSamples,
    },
    // Processes the runtime aborted for asking RTLD_DEEPBIND (should be none: the addon's P11_ASAN
    // build and the shim above do not ask for it).
    deepBindRefusals: san.deepBindRefusals,
    reports: { total: san.total, byTool: san.byTool, ...san.byClass },
    addonErrors: san.addonGroups,
    // Reports in code the addon called (with the addon frame it came through): not counted against
    // the addon, listed for a human to read.
    calledCodeErrors: san.calledGroups,
    otherErrors: san.otherGroups.slice(0, 30).map((g) => ({ key: g.key, count: g.count, bytes: g.bytes || undefined, library: g.library, logs: g.logs })),
  };
  const jestOk = run.status === 0 && run.jest && run.jest.failed === 0 && run.jest.runtimeErrorSuites === 0;
  if (o.canary && o.tsan) {
    const raceSeen = san.addonGroups.some((g) => /ThreadSanitizer data-race .*general\.cc/.test(g.key));
    summary.canary = { tsanDetected: raceSeen };
    process.exitCode = raceSeen ? 0 : 1;
  } else if (o.canary) {
    // Both planted bugs must be caught and pinned on the addon.
    const asanSeen = san.addonGroups.some((g) => /AddressSanitizer heap-buffer-overflow .*general\.cc/.test(g.key));
    const ubsanSeen = !inst.ubsan || san.addonGroups.some((g) => /signed integer overflow/.test(g.key));
    const leakSeen = !o.leaks || san.addonGroups.some((g) => /LeakSanitizer direct-leak .*general\.cc/.test(g.key));
    summary.canary = { asanDetected: asanSeen, ubsanDetected: inst.ubsan ? ubsanSeen : 'not built', leakDetected: o.leaks ? leakSeen : 'run with --leaks' };
    process.exitCode = asanSeen && ubsanSeen && leakSeen ? 0 : 1;
  } else if (o.soak) {
    const soakOk = soak.status === 0 && soak.summary && soak.summary.ok;
    process.exitCode = san.byClass.addon > 0 || san.deepBindRefusals.length ? 1 : soakOk ? 0 : 2;
  } else {
    process.exitCode = san.byClass.addon > 0 || san.deepBindRefusals.length ? 1 : jestOk ? 0 : 2;
  }
  fs.writeFileSync(path.join(logsDir, 'summary.json'), JSON.stringify(summary, null, 2));
  for (const g of san.addonGroups) log(`ADDON ${g.count}x ${g.key}\n${g.example}\n`);
  for (const g of san.calledGroups) log(`CALLED CODE (${g.library}, reached from ${g.via.replace(/^#\d+ 0x[0-9a-f]+ /, '')}) ${g.count}x ${g.key}`);
  const outcome = o.soak
    ? `soak ${soak.summary ? (soak.summary.ok ? 'ok' : 'FAILED ' + JSON.stringify(soak.summary.checks)) : `exit ${soak.status}`}`
    : `jest ${run.jest ? `${run.jest.passed} passed, ${run.jest.failed} failed` : 'wrote no results'}`;
  log(`${san.byClass.addon} report(s) in the addon, ${san.byClass.called} in code it called, ${san.byClass.other} elsewhere; ${outcome}`);
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
}

main();
