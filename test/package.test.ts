// The published shape: pack the package, install the tarball into an empty directory with
// install scripts off (npm 11's default for dependencies), and reach SoftHSM from there. The addon
// must come from prebuilds/ — no compiler, no build/ directory.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fixture } from './helpers/softhsm';

const root = path.join(__dirname, '..');

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('npm pack + install with scripts off', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-pack-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('the installed tarball loads its prebuild and calls C_GetInfo on SoftHSM', () => {
    const prebuild = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'p11bridge.node');
    expect(fs.existsSync(prebuild)).toBe(true); // made by `npm run prebuild` (pretest does it when stale)

    const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], root)) as Array<{
      filename: string;
      files: Array<{ path: string }>;
    }>;
    const files = packed[0].files.map((f) => f.path);
    expect(files).toContain(`prebuilds/${process.platform}-${process.arch}/p11bridge.node`);
    expect(files).toContain('dist/raw.js');
    expect(files).toContain('dist/raw.d.ts');
    expect(files.some((f) => f.startsWith('build/'))).toBe(false);

    const app = path.join(dir, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    npm(['install', '--ignore-scripts', '--no-audit', '--no-fund', path.join(dir, packed[0].filename)], app);
    expect(fs.existsSync(path.join(app, 'node_modules', 'p11bridge', 'build'))).toBe(false);

    const script = `
      const raw = require('p11bridge/raw');
      const m = new raw.PKCS11();
      m.load(${JSON.stringify(fixture().modulePath)});
      m.C_Initialize();
      const info = m.C_GetInfo();
      m.C_Finalize();
      m.close();
      console.log(JSON.stringify({ binding: raw.BINDING_PATH, manufacturer: info.manufacturerID, main: typeof require('p11bridge').PKCS11 }));
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: app, encoding: 'utf8' })) as {
      binding: string;
      manufacturer: string;
      main: string;
    };
    expect(out.manufacturer).toBe('SoftHSM');
    expect(out.main).toBe('function');
    expect(out.binding).toBe(
      path.join(app, 'node_modules', 'p11bridge', 'prebuilds', `${process.platform}-${process.arch}`, 'p11bridge.node'),
    );
  });
});
