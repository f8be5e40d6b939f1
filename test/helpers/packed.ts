// The package as a user gets it: `npm pack` of the working tree (dist/, esm/ and prebuilds/ as
// built), installed from the tarball into an empty app with install scripts off (npm 11's default
// for dependencies), so nothing is compiled and only the tarball's files are there.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const repoRoot = path.join(__dirname, '..', '..');

export interface PackedFile {
  path: string;
  size: number;
}

export interface Installed {
  /** Temporary directory holding the tarball and the app; remove it with cleanup(). */
  dir: string;
  tarball: string;
  /** npm pack --json: every file in the tarball, the tarball's bytes and the unpacked bytes. */
  files: PackedFile[];
  size: number;
  unpackedSize: number;
  /** The app that installed the tarball, and the installed package inside it. */
  app: string;
  pkg: string;
  cleanup(): void;
}

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Packs the repository and installs the tarball; `prefix` names the temporary directory. */
export function packAndInstall(prefix: string): Installed {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `p11bridge-${prefix}-`));
  try {
    const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], repoRoot)) as Array<{
      filename: string;
      files: PackedFile[];
      size: number;
      unpackedSize: number;
    }>;
    const tarball = path.join(dir, packed.filename);
    const app = path.join(dir, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    npm(['install', '--ignore-scripts', '--no-audit', '--no-fund', tarball], app);
    return {
      dir,
      tarball,
      files: packed.files,
      size: packed.size,
      unpackedSize: packed.unpackedSize,
      app,
      pkg: path.join(app, 'node_modules', 'p11bridge'),
      cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
