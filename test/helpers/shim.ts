// The fault-injecting PKCS#11 shim (test/shim/p11shim.c): a small module that wraps a real one
// (the run's SoftHSM) and fails, delays, lies or "pulls the token" as its rules file says.
//
// Native code does not see a jest test file's `process.env` (a sandboxed copy), so the shim is
// configured by sidecar files instead: every `shimModule()` gets its own directory holding a copy
// of the built .so, `p11shim.target` (the real module's path) and `p11shim.rules`. The copy has its
// own real path, so the addon's per-path registry gives it its own dlopen and its own shim state.
// (`env` is for child processes that load `buildShim()` itself, where P11SHIM_MODULE and
// P11SHIM_RULES are read with getenv.)
//
//   const shim = shimModule(['rv C_Login CKR_DEVICE_ERROR times 1']);
//   mod.load(shim.path); mod.C_Initialize();
//   shim.setRules(['removed 1']);        // takes effect at the next call into the module
//   shim.cleanup();                      // after mod.close()
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fixture } from './softhsm';

const repoRoot = path.join(__dirname, '..', '..');
const sourceDir = path.join(repoRoot, 'test', 'shim');
const headerDir = path.join(repoRoot, 'src-native', 'pkcs11');
const buildDir = path.join(repoRoot, '.tmp', 'p11shim');
const builtPath = path.join(buildDir, 'p11shim.so');

function newestSource(): number {
  let newest = 0;
  for (const dir of [sourceDir, headerDir]) {
    for (const name of fs.readdirSync(dir)) {
      if (!/\.[ch]$/.test(name)) continue;
      newest = Math.max(newest, fs.statSync(path.join(dir, name)).mtimeMs);
    }
  }
  return newest;
}

/**
 * Builds test/shim/*.c into .tmp/p11shim/p11shim.so with gcc when a source or header is newer than
 * it; returns its path. Safe when jest workers race: each builds to its own file, then renames.
 */
export function buildShim(): string {
  let built = 0;
  try {
    built = fs.statSync(builtPath).mtimeMs;
  } catch {
    /* not built yet */
  }
  if (built >= newestSource()) return builtPath;
  fs.mkdirSync(buildDir, { recursive: true });
  const tmp = `${builtPath}.${process.pid}.${Date.now()}.tmp`;
  const sources = fs
    .readdirSync(sourceDir)
    .filter((n) => n.endsWith('.c'))
    .map((n) => path.join(sourceDir, n));
  const args = ['-std=c99', '-O2', '-g', '-Wall', '-Wextra', '-fPIC', '-shared', '-fvisibility=hidden'];
  args.push('-I', headerDir, '-o', tmp, ...sources, '-ldl', '-lpthread');
  try {
    execFileSync('gcc', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`building the PKCS#11 shim failed: ${err.stderr?.toString() || err.message}`, { cause: e });
  }
  fs.renameSync(tmp, builtPath);
  return builtPath;
}

export interface ShimModule {
  /** The .so to pass to `load()`: this configuration's own copy. */
  path: string;
  dir: string;
  rulesFile: string;
  /** The real module the shim forwards to. */
  target: string;
  /**
   * Replaces the rules (atomically: write + rename, so the shim's stat sees a new inode even when
   * the size and mtime match the old file). The shim notices at its next call.
   */
  setRules(rules: string[]): void;
  /** For a child process loading `buildShim()` directly (env mode): P11SHIM_MODULE, P11SHIM_RULES. */
  env: Record<string, string>;
  /** Removes the directory; call after the module is closed. */
  cleanup(): void;
}

let counter = 0;

/** A shim over `target` (default: the run's SoftHSM) with these rules, in its own temp directory. */
export function shimModule(rules: string[] = [], opts: { target?: string } = {}): ShimModule {
  const so = buildShim();
  const target = opts.target ?? fixture().modulePath;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `p11shim-${process.pid}-${++counter}-`));
  const copy = path.join(dir, 'p11shim.so');
  fs.copyFileSync(so, copy);
  fs.writeFileSync(path.join(dir, 'p11shim.target'), target + '\n');
  const rulesFile = path.join(dir, 'p11shim.rules');
  let writes = 0;
  const setRules = (lines: string[]): void => {
    const tmp = `${rulesFile}.${++writes}.tmp`;
    fs.writeFileSync(tmp, lines.join('\n') + '\n');
    fs.renameSync(tmp, rulesFile);
  };
  setRules(rules);
  return {
    path: copy,
    dir,
    rulesFile,
    target,
    setRules,
    env: { P11SHIM_MODULE: target, P11SHIM_RULES: rulesFile },
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
