// Module discovery: p11-kit module configs (precedence, user-config modes, enable-in/disable-in,
// relative names, malformed lines) in temporary directories, then the real configuration and
// well-known paths of this Debian machine, loading what was found to prove it is a PKCS#11 module.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  discover,
  readP11KitConfig,
  parseP11KitConfig,
  moduleNameFromFile,
  findWellKnownModules,
  wellKnownCandidates,
  WELL_KNOWN_MODULES,
  resolveModulePath,
  linuxLibDirs,
  DiscoveryIssue,
} from '../lib/locate/discovery';

const isDebianX64 = process.platform === 'linux' && fs.existsSync('/usr/lib/x86_64-linux-gnu') && process.arch === 'x64';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { PKCS11 } = require('../lib/raw') as typeof import('../lib/raw');

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-discovery-'));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

/** A fresh layout: system/admin/user module dirs, global configs and a module dir with fake .so files. */
function layout(files: Record<string, string>) {
  const base = fs.mkdtempSync(path.join(root, 'case-'));
  for (const [rel, text] of Object.entries(files)) {
    const p = path.join(base, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  }
  const opts = {
    systemModules: path.join(base, 'share/modules'),
    adminModules: path.join(base, 'etc/modules'),
    userModules: path.join(base, 'home/modules'),
    systemConfig: path.join(base, 'etc/pkcs11.conf'),
    userConfig: path.join(base, 'home/pkcs11.conf'),
    moduleDir: path.join(base, 'lib/pkcs11'),
    programName: 'node',
  };
  return { base, opts };
}

describe('config parsing', () => {
  test('key: value lines, comments, blanks, white space, CRLF, # inside a value, empty value', () => {
    const { values, issues } = parseP11KitConfig(
      '# a comment\r\n\n   module:  foo.so  \r\n  # indented comment\npriority:5\nx-custom : text # not a comment\nx-init-reserved:\nsetting.2: a: b\n',
      'f',
    );
    expect(values).toEqual({
      module: 'foo.so',
      priority: '5',
      'x-custom': 'text # not a comment',
      'x-init-reserved': '',
      'setting.2': 'a: b',
    });
    expect(issues).toEqual([]);
  });

  test('malformed lines are reported with their line number and skipped, not thrown', () => {
    const { values, issues } = parseP11KitConfig('module: a.so\nthis line has no colon\n: empty name\nbad name!: x\nmodule: b.so\n', 'f.module');
    expect(values).toEqual({ module: 'b.so' });
    expect(issues.map((i) => i.line)).toEqual([2, 3, 4, 5]);
    expect(issues[0]).toMatchObject({ file: 'f.module', message: expect.stringContaining('this line has no colon') });
    expect(issues[3].message).toMatch(/'module' set again/);
  });

  test('module names from file names follow p11-kit (alnum first, .module suffix)', () => {
    expect(moduleNameFromFile('opensc-pkcs11.module')).toBe('opensc-pkcs11');
    expect(moduleNameFromFile('tpm2_pkcs11.module')).toBe('tpm2_pkcs11');
    expect(moduleNameFromFile('.hidden.module')).toBeNull();
    expect(moduleNameFromFile('foo.conf')).toBeNull();
    expect(moduleNameFromFile('.module')).toBeNull();
    expect(moduleNameFromFile('a b.module')).toBeNull();
  });

  test('relative module names resolve against the module directory, absolute ones stay', () => {
    expect(resolveModulePath('x.so', '/usr/lib/x86_64-linux-gnu/pkcs11')).toBe('/usr/lib/x86_64-linux-gnu/pkcs11/x.so');
    expect(resolveModulePath('sub/x.so', '/m')).toBe('/m/sub/x.so');
    expect(resolveModulePath('/opt/x.so', '/m')).toBe('/opt/x.so');
  });
});

describe('p11-kit precedence and modes (temporary config dirs)', () => {
  const so = (name: string) => `lib/pkcs11/${name}`;

  test('user overrides admin overrides system key by key; the rest is filled in from lower levels', async () => {
    const { opts } = layout({
      'share/modules/alpha.module': 'module: alpha-sys.so\npriority: 3\nx-sys: 1\n',
      'etc/modules/alpha.module': 'module: alpha-admin.so\ncritical: yes\n',
      'home/modules/alpha.module': 'module: alpha-user.so\n',
      'share/modules/beta.module': 'module: beta.so\n',
      'etc/modules/gamma.module': 'module: /abs/gamma.so\n',
      [so('alpha-user.so')]: 'x',
      [so('beta.so')]: 'x',
    });
    const conf = await readP11KitConfig(opts);
    expect(conf.mode).toBe('merge');
    const alpha = conf.modules.find((m) => m.name === 'alpha')!;
    expect(alpha.source).toBe('p11-kit-user');
    expect(alpha.path).toBe(path.join(opts.moduleDir, 'alpha-user.so'));
    expect(alpha.config.critical).toBe(true); // from admin
    expect(alpha.config.priority).toBe(3); // from system
    expect(alpha.config.values['x-sys']).toBe('1');
    expect(alpha.config.files.map((f) => f.source)).toEqual(['p11-kit-user', 'p11-kit-admin', 'p11-kit-system']);
    expect(conf.modules.find((m) => m.name === 'beta')!.source).toBe('p11-kit-system');
    expect(conf.modules.find((m) => m.name === 'gamma')!).toMatchObject({ source: 'p11-kit-admin', path: '/abs/gamma.so' });
    // p11-kit order: higher priority first, then by name.
    expect(conf.modules.map((m) => m.name)).toEqual(['alpha', 'beta', 'gamma']);
    expect(conf.issues).toEqual([]);

    const found = await discover({ ...opts, wellKnown: false });
    expect(found.map((m) => [m.name, m.source, m.exists])).toEqual([
      ['alpha', 'p11-kit-user', true],
      ['beta', 'p11-kit-system', true],
      ['gamma', 'p11-kit-admin', false],
    ]);
  });

  test('a blank module: in the user dir switches a system module off', async () => {
    const { opts } = layout({
      'share/modules/off.module': 'module: off.so\n',
      'home/modules/off.module': '# disabled by the user\nmodule:\n',
      [so('off.so')]: 'x',
    });
    const conf = await readP11KitConfig(opts);
    expect(conf.modules).toHaveLength(1);
    expect(conf.modules[0]).toMatchObject({ name: 'off', path: null, enabled: false });
    expect(await discover({ ...opts, wellKnown: false })).toEqual([]);
    expect(await discover({ ...opts, wellKnown: false, includeDisabled: true })).toEqual([]);
  });

  test('user-config: none in the system pkcs11.conf ignores user module configs and the user pkcs11.conf', async () => {
    const { opts } = layout({
      'etc/pkcs11.conf': 'user-config: none\nmanaged: yes\n',
      'home/pkcs11.conf': 'user-config: merge\nlog-calls: yes\n',
      'share/modules/m.module': 'module: sys.so\n',
      'home/modules/m.module': 'module: user.so\n',
      'home/modules/u.module': 'module: u.so\n',
    });
    const conf = await readP11KitConfig(opts);
    expect(conf.mode).toBe('none');
    expect(conf.globals).toEqual({ 'user-config': 'none', managed: 'yes' });
    expect(conf.modules.map((m) => [m.name, m.config.module, m.source])).toEqual([['m', 'sys.so', 'p11-kit-system']]);
  });

  test('user-config: only reads user configs alone; "override" is its alias; the user file can choose it', async () => {
    for (const [sys, user] of [
      ['user-config: only\n', ''],
      ['user-config: override\n', ''],
      ['', 'user-config: only\n'],
    ]) {
      const { opts } = layout({
        'etc/pkcs11.conf': `${sys}managed: no\n`,
        'home/pkcs11.conf': user,
        'share/modules/m.module': 'module: sys.so\ncritical: yes\n',
        'etc/modules/a.module': 'module: a.so\n',
        'home/modules/m.module': 'module: user.so\n',
      });
      const conf = await readP11KitConfig(opts);
      expect(conf.mode).toBe('only');
      expect(conf.globals.managed).toBeUndefined(); // system globals replaced by the user's
      expect(conf.modules.map((m) => [m.name, m.config.module, m.config.critical])).toEqual([['m', 'user.so', false]]);
    }
  });

  test('merge (default): user globals win over system ones; the user file may itself say none', async () => {
    let { opts } = layout({
      'etc/pkcs11.conf': 'managed: yes\nlog-calls: no\n',
      'home/pkcs11.conf': 'log-calls: yes\n',
    });
    let conf = await readP11KitConfig(opts);
    expect(conf.mode).toBe('merge');
    expect(conf.globals).toEqual({ managed: 'yes', 'log-calls': 'yes' });

    ({ opts } = layout({
      'etc/pkcs11.conf': 'managed: yes\n',
      'home/pkcs11.conf': 'user-config: none\nlog-calls: yes\n',
      'home/modules/u.module': 'module: u.so\n',
      'share/modules/s.module': 'module: s.so\n',
    }));
    conf = await readP11KitConfig(opts);
    expect(conf.mode).toBe('none');
    expect(conf.globals).toEqual({ managed: 'yes' });
    expect(conf.modules.map((m) => m.name)).toEqual(['s']);
  });

  test('an invalid user-config value is reported and the previous mode kept', async () => {
    const { opts } = layout({ 'etc/pkcs11.conf': 'user-config: sometimes\n', 'home/modules/u.module': 'module: u.so\n' });
    const conf = await readP11KitConfig(opts);
    expect(conf.mode).toBe('merge');
    expect(conf.issues).toEqual([expect.objectContaining({ file: opts.systemConfig, message: expect.stringMatching(/user-config/) })]);
    expect(conf.modules.map((m) => m.name)).toEqual(['u']);
  });

  test('enable-in / disable-in against the program name (comma and/or space lists)', async () => {
    const { opts } = layout({
      'share/modules/only-ssh.module': 'module: a.so\nenable-in: seahorse, ssh\n',
      'share/modules/only-node.module': 'module: b.so\nenable-in: ssh,node\n',
      'share/modules/not-node.module': 'module: c.so\ndisable-in: firefox node\n',
      'share/modules/not-proxy.module': 'module: d.so\ndisable-in: p11-kit-proxy\n',
    });
    const conf = await readP11KitConfig(opts);
    const enabled = Object.fromEntries(conf.modules.map((m) => [m.name, m.enabled]));
    expect(enabled).toEqual({ 'only-ssh': false, 'only-node': true, 'not-node': false, 'not-proxy': true });
    expect(conf.modules.find((m) => m.name === 'only-ssh')!.config.enableIn).toEqual(['seahorse', 'ssh']);
    expect(conf.modules.find((m) => m.name === 'not-node')!.config.disableIn).toEqual(['firefox', 'node']);

    expect((await discover({ ...opts, wellKnown: false })).map((m) => m.name).sort()).toEqual(['not-proxy', 'only-node']);
    const all = await discover({ ...opts, wellKnown: false, includeDisabled: true });
    expect(all.map((m) => [m.name, m.enabled]).sort()).toEqual([
      ['not-node', false],
      ['not-proxy', true],
      ['only-node', true],
      ['only-ssh', false],
    ]);
    const asSsh = await readP11KitConfig({ ...opts, programName: 'ssh' });
    expect(
      asSsh.modules
        .filter((m) => m.enabled)
        .map((m) => m.name)
        .sort(),
    ).toEqual(['not-node', 'not-proxy', 'only-node', 'only-ssh']);
  });

  test('typed settings, invalid values reported with defaults, remote modules have no local path', async () => {
    const { opts } = layout({
      'share/modules/t.module': 'module: t.so\ncritical: yes\nmanaged: no\ntrust-policy: yes\nlog-calls: yes\npriority: -2\nx-extra: 1\n',
      'share/modules/bad.module': 'module: bad.so\ncritical: true\npriority: high\n',
      'share/modules/r.module': 'remote: |ssh host p11-kit remote /usr/lib/m.so\n',
    });
    const issues: DiscoveryIssue[] = [];
    const conf = await readP11KitConfig(opts);
    const t = conf.modules.find((m) => m.name === 't')!.config;
    expect(t).toMatchObject({ critical: true, managed: false, trustPolicy: true, logCalls: true, priority: -2 });
    const bad = conf.modules.find((m) => m.name === 'bad')!.config;
    expect(bad).toMatchObject({ critical: false, priority: 0 });
    expect(bad.issues.map((i) => i.message)).toEqual([expect.stringMatching(/invalid priority 'high'/), expect.stringMatching(/critical: true/)]);
    const r = conf.modules.find((m) => m.name === 'r')!;
    expect(r).toMatchObject({ path: null, enabled: false });
    expect(r.config.remote).toBe('|ssh host p11-kit remote /usr/lib/m.so');
    const found = await discover({ ...opts, wellKnown: false, onIssue: (i) => issues.push(i) });
    expect(found.map((m) => m.name)).toEqual(['bad', 't']);
    expect(issues).toHaveLength(2);
  });

  test('malformed files do not stop discovery; odd file names and subdirectories follow p11-kit', async () => {
    const { opts } = layout({
      'share/modules/good.module': 'module: good.so\n',
      'share/modules/broken.module': 'module: broken.so\n<<garbage>>\n\u0000binary\n',
      'share/modules/legacy.conf': 'module: legacy.so\n',
      'share/modules/sub/inner.module': 'module: inner.so\n',
      'home/modules/placeholder': '',
    });
    fs.rmSync(path.join(opts.userModules, 'placeholder'));
    const issues: DiscoveryIssue[] = [];
    const found = await discover({ ...opts, wellKnown: false, onIssue: (i) => issues.push(i) });
    // p11-kit 0.24 still loads a file without the .module suffix, under its whole name, with a warning.
    expect(found.map((m) => m.name)).toEqual(['broken', 'good', 'legacy.conf']);
    expect(issues.filter((i) => i.file.endsWith('broken.module')).map((i) => i.line)).toEqual([2, 3]);
    expect(issues.some((i) => i.file.endsWith('legacy.conf') && /invalid config file name/.test(i.message))).toBe(true);
  });

  test('missing directories and files are fine; null skips a location', async () => {
    const conf = await readP11KitConfig({
      systemModules: path.join(root, 'nope/a'),
      adminModules: null,
      userModules: path.join(root, 'nope/b'),
      systemConfig: path.join(root, 'nope/c.conf'),
      userConfig: null,
      moduleDir: '/m',
    });
    expect(conf).toMatchObject({ mode: 'merge', modules: [], issues: [], globals: {} });
  });

  test('entries naming the same file (through a symlink) are deduplicated by real path, first wins', async () => {
    const { opts } = layout({
      'share/modules/a.module': 'module: real.so\npriority: 1\n',
      'share/modules/b.module': 'module: link.so\n',
      [so('real.so')]: 'x',
    });
    fs.symlinkSync('real.so', path.join(opts.moduleDir, 'link.so'));
    const found = await discover({ ...opts, wellKnown: false });
    expect(found.map((m) => m.name)).toEqual(['a']);
    expect(found[0].realPath).toBe(fs.realpathSync(path.join(opts.moduleDir, 'real.so')));
  });
});

describe('well-known table', () => {
  test('Windows candidates use System32 and Program Files; Linux ones cover multiarch, lib64 and lib', () => {
    const opensc = WELL_KNOWN_MODULES.find((m) => m.name === 'opensc')!;
    const win = wellKnownCandidates(opensc, 'win32', { SystemRoot: 'C:\\WINDOWS', ProgramFiles: 'C:\\Program Files' });
    expect(win).toContain('C:\\WINDOWS\\System32\\opensc-pkcs11.dll');
    expect(win).toContain('C:\\Program Files\\OpenSC Project\\OpenSC\\pkcs11\\opensc-pkcs11.dll');
    expect(win.every((p) => !p.includes('%'))).toBe(true);
    const rutoken = WELL_KNOWN_MODULES.find((m) => m.name === 'rutoken-ecp')!;
    expect(wellKnownCandidates(rutoken, 'win32', {})).toContain('C:\\Windows\\System32\\rtPKCS11ECP.dll');

    const softhsm = WELL_KNOWN_MODULES.find((m) => m.name === 'softhsm2')!;
    const linux = wellKnownCandidates(softhsm, 'linux', {}, 'arm64');
    expect(linux).toEqual(expect.arrayContaining(['/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so', '/usr/lib64/pkcs11/libsofthsm2.so', '/usr/lib/softhsm/libsofthsm2.so']));
    expect(wellKnownCandidates(softhsm, 'darwin')).toContain('/opt/homebrew/lib/softhsm/libsofthsm2.so');
    expect(linuxLibDirs('x64')[0]).toBe('/usr/lib/x86_64-linux-gnu');
    for (const m of WELL_KNOWN_MODULES) expect(wellKnownCandidates(m, 'linux').length).toBeGreaterThan(0);
  });

  (isDebianX64 ? test : test.skip)('returns only existing files here, SoftHSM among them, each real path once', async () => {
    const found = await findWellKnownModules();
    expect(found.length).toBeGreaterThan(0);
    for (const m of found) {
      expect(m.exists).toBe(true);
      expect(fs.statSync(m.path).isFile()).toBe(true);
      expect(m.source).toBe('well-known');
    }
    expect(new Set(found.map((m) => m.realPath)).size).toBe(found.length);
    const softhsm = found.filter((m) => m.name === 'softhsm2');
    expect(softhsm.map((m) => m.path)).toEqual(['/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so']); // /usr/lib/softhsm is a symlink to it
    expect(found.map((m) => m.name)).toEqual(expect.arrayContaining(['opensc', 'ykcs11', 'nss-softokn', 'p11-kit-trust', 'opencryptoki', 'tpm2-pkcs11']));
    expect(await findWellKnownModules({ platform: 'win32' })).toEqual([]);
  });
});

(isDebianX64 ? describe : describe.skip)('this machine (Debian, p11-kit-modules installed)', () => {
  test('discover() lists p11-kit modules first, then well-known ones, each real path once', async () => {
    const found = await discover();
    const sources = found.map((m) => m.source);
    const firstWellKnown = sources.indexOf('well-known');
    expect(firstWellKnown).toBeGreaterThan(0);
    expect(sources.slice(firstWellKnown).every((s) => s === 'well-known')).toBe(true);
    expect(new Set(found.map((m) => m.realPath)).size).toBe(found.length);

    const byName = new Map(found.map((m) => [m.name, m]));
    const trust = byName.get('p11-kit-trust')!;
    expect(trust).toMatchObject({
      source: 'p11-kit-system',
      path: '/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-trust.so',
      exists: true,
      enabled: true,
    });
    expect(trust.config).toMatchObject({ priority: 1, trustPolicy: true, disableIn: ['p11-kit-proxy'] });
    expect(byName.get('softhsm2')).toMatchObject({ source: 'p11-kit-system', path: '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so', exists: true });
    expect(byName.get('opensc-pkcs11')).toMatchObject({ source: 'p11-kit-system', exists: true });
    // The well-known table's SoftHSM / OpenSC / trust entries are the same files: not listed twice.
    expect(found.filter((m) => m.realPath === fs.realpathSync('/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so'))).toHaveLength(1);
    for (const m of found.filter((x) => x.source !== 'well-known')) expect(m.exists).toBe(true);
    // p11-kit order: priority 1 (trust) before the priority 0 modules.
    expect(found[0].name).toBe('p11-kit-trust');
  });

  test('the trust module found through p11-kit loads and answers C_GetInfo; SoftHSM found there loads', async () => {
    const found = await discover({ wellKnown: false });
    const trust = found.find((m) => m.name === 'p11-kit-trust')!;
    const p = new PKCS11();
    p.load(trust.path);
    try {
      p.C_Initialize();
      const info = p.C_GetInfo();
      expect(info.manufacturerID).toBe('PKCS#11 Kit');
      expect(p.C_GetSlotList(false).length).toBeGreaterThan(0);
    } finally {
      p.close();
    }
    const softhsm = found.find((m) => m.name === 'softhsm2')!;
    const s = new PKCS11();
    s.load(softhsm.path);
    try {
      expect(s.moduleInfo()).toMatchObject({ functionCount: 68 });
      expect(s.has('C_GetSlotList')).toBe(true);
    } finally {
      s.close();
    }
  });
});

describe('vendor modules in the well-known table (docs/vendors.md)', () => {
  const entry = (name: string) => {
    const e = WELL_KNOWN_MODULES.find((m) => m.name === name);
    if (!e) throw new Error(`no well-known entry '${name}'`);
    return e;
  };
  const win = { SystemRoot: 'C:\\Windows', ProgramFiles: 'C:\\Program Files' };

  test('each vendor has its documented file names per OS', () => {
    const cases: Array<[string, NodeJS.Platform, string]> = [
      ['luna', 'linux', '/usr/safenet/lunaclient/lib/libCryptoki2_64.so'],
      ['luna', 'win32', 'C:\\Program Files\\SafeNet\\LunaClient\\cryptoki.dll'],
      ['safenet-etoken', 'linux', '/usr/lib/libeTPkcs11.so'],
      ['safenet-etoken', 'linux', '/usr/lib64/libIDPrimePKCS11.so'],
      ['safenet-etoken', 'win32', 'C:\\Windows\\System32\\eTPKCS11.dll'],
      ['aws-cloudhsm', 'linux', '/opt/cloudhsm/lib/libcloudhsm_pkcs11.so'],
      ['aws-cloudhsm', 'win32', 'C:\\Program Files\\Amazon\\CloudHSM\\lib\\cloudhsm_pkcs11.dll'],
      ['utimaco', 'linux', '/opt/utimaco/lib/libcs_pkcs11_R3.so'],
      ['utimaco', 'linux', '/usr/lib/x86_64-linux-gnu/libcs_pkcs11_R2.so'],
      ['nshield', 'linux', '/opt/nfast/toolkits/pkcs11/libcknfast.so'],
      ['nshield', 'win32', 'C:\\Program Files\\nCipher\\nfast\\toolkits\\pkcs11\\cknfast.dll'],
      ['yubihsm2', 'linux', '/usr/lib64/pkcs11/yubihsm_pkcs11.so'],
      ['rutoken-ecp', 'win32', 'C:\\Windows\\System32\\rtPKCS11ECP.dll'],
      ['rutoken-ecp', 'darwin', '/Library/Frameworks/rtpkcs11ecp.framework/rtpkcs11ecp'],
      ['opensc', 'win32', 'C:\\Program Files\\OpenSC Project\\OpenSC\\pkcs11\\opensc-pkcs11.dll'],
      ['ykcs11', 'win32', 'C:\\Program Files\\Yubico\\Yubico PIV Tool\\bin\\libykcs11.dll'],
      ['softhsm2', 'win32', 'C:\\SoftHSM2\\lib\\softhsm2-x64.dll'],
    ];
    for (const [name, platform, p] of cases)
      expect([name, platform, wellKnownCandidates(entry(name), platform, win, 'x64')]).toEqual([name, platform, expect.arrayContaining([p])]);
    // No entry lists a Windows path with an unexpanded variable, none lists the same path twice.
    for (const m of WELL_KNOWN_MODULES) {
      for (const platform of ['linux', 'darwin', 'win32'] as const) {
        const c = wellKnownCandidates(m, platform, win, 'x64');
        expect(c.every((p) => !p.includes('%'))).toBe(true);
        expect(new Set(c).size).toBe(c.length);
      }
    }
  });

  test('a fake root: the vendor files placed there are found under their table names, Linux and Windows', async () => {
    const fake = fs.mkdtempSync(path.join(root, 'fake-root-'));
    const put = (rel: string) => {
      fs.mkdirSync(path.dirname(path.join(fake, rel)), { recursive: true });
      fs.writeFileSync(path.join(fake, rel), 'not really a module');
    };
    put('usr/safenet/lunaclient/lib/libCryptoki2_64.so');
    put('opt/cloudhsm/lib/libcloudhsm_pkcs11.so');
    put('opt/nfast/toolkits/pkcs11/libcknfast.so');
    put('usr/lib/x86_64-linux-gnu/pkcs11/yubihsm_pkcs11.so');
    put('usr/lib/libeTPkcs11.so');
    put('opt/utimaco/lib/libcs_pkcs11_R3.so');
    fs.symlinkSync(path.join(fake, 'opt/utimaco/lib/libcs_pkcs11_R3.so'), path.join(fake, 'usr/lib/libcs_pkcs11_R3.so'));
    const linux = await findWellKnownModules({ platform: 'linux', root: fake });
    expect(linux.map((m) => [m.name, path.relative(fake, m.path)])).toEqual(
      [
        ['luna', 'usr/safenet/lunaclient/lib/libCryptoki2_64.so'],
        ['safenet-etoken', 'usr/lib/libeTPkcs11.so'],
        ['aws-cloudhsm', 'opt/cloudhsm/lib/libcloudhsm_pkcs11.so'],
        // The symlink in /usr/lib is the same file: found once.
        ['utimaco', 'opt/utimaco/lib/libcs_pkcs11_R3.so'],
        ['nshield', 'opt/nfast/toolkits/pkcs11/libcknfast.so'],
        ['yubihsm2', 'usr/lib/x86_64-linux-gnu/pkcs11/yubihsm_pkcs11.so'],
      ].filter(([name]) => process.arch === 'x64' || name !== 'yubihsm2'),
    );
    for (const m of linux) expect(m).toMatchObject({ source: 'well-known', exists: true, enabled: true });

    put('C/Windows/System32/eTPKCS11.dll');
    put('C/Program Files/nCipher/nfast/toolkits/pkcs11/cknfast.dll');
    put('C/Windows/System32/rtPKCS11ECP.dll');
    const windows = await findWellKnownModules({ platform: 'win32', root: fake, env: win });
    expect(windows.map((m) => [m.name, path.relative(fake, m.path)])).toEqual([
      ['rutoken-ecp', 'C/Windows/System32/rtPKCS11ECP.dll'],
      ['safenet-etoken', 'C/Windows/System32/eTPKCS11.dll'],
      ['nshield', 'C/Program Files/nCipher/nfast/toolkits/pkcs11/cknfast.dll'],
    ]);
    expect(await findWellKnownModules({ platform: 'darwin', root: fake })).toEqual([]);
  });
});
