// The swap-in (issue 16): an empty app installs graphene-pk11 and node-webcrypto-p11 from the npm
// registry with install scripts off and "overrides": { "pkcs11js": <packages/pkcs11js packed> },
// p11bridge itself from its packed tarball. Both libraries then run unmodified on SoftHSM
// (test/helpers/pkcs11js-dropin-app.js: graphene's README walk-through, node-webcrypto-p11's
// usage, results checked with node:crypto), and pkcs11js's own addon is never loaded.
// npm's downloads are cached in /var/tmp/p11bridge-cache, so a second run needs no network.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { createSoftHSM } = require('../scripts/softhsm.js') as {
  createSoftHSM(o: { tokens: Array<{ label: string; soPin: string; userPin: string }>; setEnv: boolean }): {
    dir: string;
    conf: string;
    modulePath: string;
    cleanup(): void;
  };
};

const root = path.join(__dirname, '..');
const CACHE = '/var/tmp/p11bridge-cache';
const GRAPHENE = '2.3.6';
const WEBCRYPTO_P11 = '2.8.0';

function npm(args: string[], cwd: string, timeout = 120_000): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout, killSignal: 'SIGKILL' });
}

function pack(dir: string, dest: string): string {
  // --ignore-scripts: the tarball holds dist/, esm/ and prebuilds/ as built (the tests' premise).
  const [p] = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dest], dir)) as Array<{ filename: string }>;
  return path.join(dest, p.filename);
}

let tmp = '';
let app = '';
let fx: ReturnType<typeof createSoftHSM> | null = null;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-dropin-'));
  const core = pack(root, tmp);
  const shim = pack(path.join(root, 'packages', 'pkcs11js'), tmp);
  app = path.join(tmp, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({
      name: 'dropin-app',
      version: '1.0.0',
      private: true,
      dependencies: { 'graphene-pk11': GRAPHENE, 'node-webcrypto-p11': WEBCRYPTO_P11, p11bridge: `file:${core}` },
      // What a user writes with the published package: "pkcs11js": "npm:@p11bridge/pkcs11js@0.1.0".
      // p11bridge is overridden too, so @p11bridge/pkcs11js's dependency gets the tarball.
      overrides: { pkcs11js: `file:${shim}`, p11bridge: `file:${core}` },
    }),
  );
  npm(['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--cache', CACHE], app, 300_000);
  fs.copyFileSync(path.join(__dirname, 'helpers', 'pkcs11js-dropin-app.js'), path.join(app, 'dropin-app.js'));
  fx = createSoftHSM({ tokens: [{ label: 'dropin', soPin: '12345678', userPin: '1234' }], setEnv: false });
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      path.join(tmp, 'key.pem'),
      '-subj',
      '/CN=dropin',
      '-days',
      '2',
      '-outform',
      'DER',
      '-out',
      path.join(tmp, 'cert.der'),
    ],
    { stdio: 'ignore' },
  );
}, 420_000);

afterAll(() => {
  if (fx) fx.cleanup();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('graphene-pk11 and node-webcrypto-p11 from npm, pkcs11js overridden by @p11bridge/pkcs11js', () => {
  test('npm put @p11bridge/pkcs11js where pkcs11js goes, and no pkcs11js addon', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', 'pkcs11js', 'package.json'), 'utf8')) as { name: string };
    expect(pkg.name).toBe('@p11bridge/pkcs11js');
    const versions = ['graphene-pk11', 'node-webcrypto-p11'].map(
      (n) => (JSON.parse(fs.readFileSync(path.join(app, 'node_modules', n, 'package.json'), 'utf8')) as { version: string }).version,
    );
    expect(versions).toEqual([GRAPHENE, WEBCRYPTO_P11]);
    const nodeFiles = execFileSync('find', [path.join(app, 'node_modules'), '-name', '*.node'], { encoding: 'utf8' })
      .trim()
      .split('\n');
    expect(nodeFiles.filter((f) => !f.includes(`${path.sep}p11bridge${path.sep}prebuilds${path.sep}`))).toEqual([]);
  });

  test("graphene's walk-through and node-webcrypto-p11's usage run on SoftHSM; node:crypto agrees", () => {
    const f = fx as NonNullable<typeof fx>;
    const r = spawnSync(process.execPath, ['dropin-app.js', f.modulePath, 'dropin', '1234', path.join(tmp, 'cert.der')], {
      cwd: app,
      env: { ...process.env, SOFTHSM2_CONF: f.conf },
      encoding: 'utf8',
      timeout: 120_000,
      killSignal: 'SIGKILL',
    });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    const report = JSON.parse(r.stdout) as Record<string, Record<string, unknown>>;
    expect(report.module).toMatchObject({ libFile: f.modulePath, manufacturerID: 'SoftHSM', cryptokiVersion: { major: 2, minor: 40 } });
    expect(report.slot).toMatchObject({ token: 'dropin' });
    expect(report.slot.mechanisms as number).toBeGreaterThan(20);
    expect(report.aes).toEqual({ roundTrip: true, nodeDecrypts: true });
    expect(report.rsa).toEqual({ verifies: true, nodeVerifies: true, nodeEncryptedDecrypts: true });
    expect(report.ec).toEqual({ verifies: true, nodeVerifies: true });
    expect(report.digest).toEqual({ equalsNode: true });
    expect(report.find).toEqual({ secretKeys: 1, secretIsAes: true, privateKeys: 2 });
    expect(report.webcrypto).toEqual({ verifies: true, nodeVerifies: true, spkiMatchesJwk: true, hmacEqualsNode: true });
    expect(report.keyStorage).toEqual({ listed: true, algorithm: 'ECDSA', verifies: true });
    expect(report.certStorage).toEqual({ listed: true, sameDer: true, subject: 'CN=dropin' });
    expect(report.process).toEqual({ pkcs11jsPackage: '@p11bridge/pkcs11js', pkcs11jsNodeMapped: false, pkcs11jsNodeRequired: false, p11bridgeMapped: true });
  }, 150_000);

  test("the app's check for pkcs11js's addon does see it where it is loaded (this repository's devDependency)", () => {
    const r = spawnSync(
      process.execPath,
      [
        '-e',
        "require('pkcs11js'); const m = require('fs').readFileSync('/proc/self/maps', 'utf8'); " +
          'console.log(/pkcs11\\.node\\b/.test(m), Object.keys(require.cache).some((k) => /[\\\\/]pkcs11\\.node$/.test(k)))',
      ],
      {
        cwd: root,
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(r.stdout.trim()).toBe('true true');
  });
});
