// The checked-in public API reports (etc/*.api.md, scripts/api-report.js) match the compiled
// declarations (dist/*.d.ts), and the check notices a change: to an entry point's exports, and to
// a method added by module augmentation (which API Extractor itself leaves out).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.join(__dirname, '..');
const script = path.join(root, 'scripts', 'api-report.js');

function check(...args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [script, ...args], { cwd: root, encoding: 'utf8', timeout: 170_000 });
  return { status: r.status, stderr: `${r.stderr}${r.error ? String(r.error) : ''}` };
}

// A copy of dist/'s declarations inside the project (so package imports still resolve).
function copyDeclarations(): string {
  fs.mkdirSync(path.join(root, '.tmp'), { recursive: true });
  const dir = fs.mkdtempSync(path.join(root, '.tmp', 'api-probe-'));
  const walk = (from: string, to: string): void => {
    for (const e of fs.readdirSync(from, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(from, e.name), path.join(to, e.name));
      else if (e.name.endsWith('.d.ts')) {
        fs.mkdirSync(to, { recursive: true });
        fs.copyFileSync(path.join(from, e.name), path.join(to, e.name));
      }
    }
  };
  walk(path.join(root, 'dist'), dir);
  return dir;
}

jest.setTimeout(180_000);

test('every entry point of package.json "exports" has an up-to-date report (else: npm run api:update)', () => {
  const r = check();
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: expect.not.stringContaining('changed') });
});

test.each([
  ['a new export of the entry point', 'index.d.ts', (t: string) => `${t}\nexport declare function apiReportProbe(): void;\n`],
  [
    'a new method added by module augmentation',
    'interop/keyobject.d.ts',
    (t: string) => t.replace(/interface PublicKey \{/, 'interface PublicKey {\n        apiReportProbe(): void;'),
  ],
])('the check fails on %s', (_what, file, change) => {
  const dir = copyDeclarations();
  try {
    const f = path.join(dir, file);
    const before = fs.readFileSync(f, 'utf8');
    const after = change(before);
    expect(after).not.toBe(before);
    fs.writeFileSync(f, after);
    const r = check(`--dist=${path.relative(root, dir)}`, '--only=p11bridge');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/etc\/p11bridge\.api\.md: the public API of 'p11bridge' changed/);
    expect(fs.readFileSync(path.join(root, '.tmp', 'api-report', 'p11bridge.api.md'), 'utf8')).toContain('apiReportProbe(): void;');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
