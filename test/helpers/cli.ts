// The CLI tests' common ground: a throw-away SoftHSM of the file's own (SOFTHSM2_CONF passed to
// the children only), a temp directory, and running `bin/p11bridge.js` in a child process.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { createSoftHSM } = require('../../scripts/softhsm.js') as {
  createSoftHSM(o: { tokens: Array<{ label: string; soPin: string; userPin: string }>; setEnv: boolean }): { conf: string; modulePath: string; cleanup(): void };
};

export const ROOT = path.join(__dirname, '..', '..');
export const CLI_BIN = path.join(ROOT, 'bin', 'p11bridge.js');

export interface CliFixture {
  modulePath: string;
  conf: string;
  /** The children's environment: SOFTHSM2_CONF and CLI_PIN set, P11BRIDGE_MODULE removed. */
  env: NodeJS.ProcessEnv;
  tmp: string;
  cleanup(): void;
}

/** One token labelled `label` with user PIN `pin` (SO PIN 12345678), and a temp directory. */
export function cliFixture(label: string, pin: string, tmpPrefix: string): CliFixture {
  const fx = createSoftHSM({ tokens: [{ label, soPin: '12345678', userPin: pin }], setEnv: false });
  const env: NodeJS.ProcessEnv = { ...process.env, SOFTHSM2_CONF: fx.conf, CLI_PIN: pin };
  delete env.P11BRIDGE_MODULE;
  delete env.P11BRIDGE_PROGRESS_DELAY;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
  return {
    modulePath: fx.modulePath,
    conf: fx.conf,
    env,
    tmp,
    cleanup() {
      fx.cleanup();
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}

export interface CliResult {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs the command with `env`; stdout stays bytes (exported keys, ciphertext). */
export function runCli(env: NodeJS.ProcessEnv, args: string[], input: string | Buffer = ''): CliResult {
  const r = spawnSync(process.execPath, [CLI_BIN, ...args], { cwd: ROOT, env, input, timeout: 60000, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}
