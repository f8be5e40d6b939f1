// The p11bridge command (bin/p11bridge.js → dist/cli) in child processes, against a throw-away
// SoftHSM of its own (SOFTHSM2_CONF passed to the children only). Needs `npx tsc -p .` first.
import { spawn, spawnSync, SpawnSyncReturns } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { createSoftHSM } = require('../scripts/softhsm.js') as {
  createSoftHSM(o: { tokens: Array<{ label: string; soPin: string; userPin: string }>; setEnv: boolean }): {
    conf: string;
    modulePath: string;
    dir: string;
    cleanup(): void;
  };
};

const root = path.join(__dirname, '..');
const bin = path.join(root, 'bin', 'p11bridge.js');
const PIN = '73915'; // distinctive, so it can be searched for in the output
const WRONG_PIN = '86420';

let fx: ReturnType<typeof createSoftHSM>;
let tmp: string;
let env: NodeJS.ProcessEnv;

function run(args: string[], options: { input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> & { stdoutBuf?: Buffer } {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    env: { ...env, ...options.env },
    input: options.input ?? '',
    encoding: 'utf8',
    timeout: 60000,
  });
  return r;
}

function runOk(args: string[], options: { input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}): string {
  const r = run(args, options);
  if (r.status !== 0) throw new Error(`p11bridge ${args.join(' ')} → ${r.status}\n${r.stderr}`);
  return r.stdout;
}

function json<T = unknown>(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): T {
  return JSON.parse(runOk([...args, '--json'], options)) as T;
}

/** What the typed layer itself reports, in a child with the same SOFTHSM2_CONF, through the CLI's JSON encoding. */
function typed(body: string): unknown {
  const script = `
    const { Module } = require(${JSON.stringify(path.join(root, 'dist', 'index.js'))});
    const { toJson } = require(${JSON.stringify(path.join(root, 'dist', 'cli', 'output.js'))});
    (async () => {
      const mod = await Module.open(${JSON.stringify(fx.modulePath)});
      try { process.stdout.write(toJson(await (async (mod) => { ${body} })(mod))); } finally { await mod.close(); }
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['-e', script], { cwd: root, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

const uri = (attrs: string): string => `pkcs11:token=cli-a${attrs ? ';' + attrs : ''}?module-path=${fx.modulePath}`;
const pinEnv = { CLI_PIN: PIN };

beforeAll(() => {
  fx = createSoftHSM({
    tokens: [
      { label: 'cli-a', soPin: '12345678', userPin: PIN },
      { label: 'cli-b', soPin: '87654321', userPin: '5678' },
    ],
    setEnv: false,
  });
  env = { ...process.env, SOFTHSM2_CONF: fx.conf };
  delete env.P11BRIDGE_MODULE;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'p11bridge-cli-'));
});

afterAll(() => {
  fx?.cleanup();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('listing', () => {
  test('list-slots --json matches the typed layer', () => {
    const cli = json(['list-slots', '--module', fx.modulePath]);
    const expected = typed(`const out = []; for (const s of await mod.slots()) out.push({ id: s.id, ...(await s.info()) }); return out;`);
    expect(cli).toEqual(expected);
    expect((cli as unknown[]).length).toBe(3); // two tokens and SoftHSM's free slot
  });

  test('list-tokens --json matches the typed layer and gives token URIs', () => {
    const cli = json<Array<Record<string, unknown>>>(['list-tokens', '--module', fx.modulePath]);
    const expected = typed(`const out = []; for (const s of await mod.slots()) out.push({ slot: s.id, ...(await s.tokenInfo()) }); return out;`);
    expect(cli.map(({ uri: _uri, ...rest }) => rest)).toEqual(expected);
    const a = cli.find((t) => t.label === 'cli-a')!;
    expect(a.uri).toMatch(/^pkcs11:.*token=cli-a/);
    // filtered by the URI's token attributes
    const only = json<Array<{ label: string }>>(['list-tokens', `pkcs11:token=cli-b?module-path=${fx.modulePath}`]);
    expect(only.map((t) => t.label)).toEqual(['cli-b']);
  });

  test('list-mechanisms --json matches the typed layer; the token comes from the URI', () => {
    const cli = json(['list-mechanisms', uri('')]);
    const expected = typed(`return (await mod.findSlot('cli-a')).mechanisms();`);
    expect(cli).toEqual(expected);
    expect((cli as Array<{ name: string }>).map((m) => m.name)).toContain('CKM_ECDSA');
  });

  test('several tokens and no choice is a usage error (exit 64)', () => {
    const r = run(['list-mechanisms', '--module', fx.modulePath]);
    expect(r.status).toBe(64);
    // The module's slot order decides which label comes first.
    expect(r.stderr).toMatch(/error: 2 tokens \('cli-(a|b)', 'cli-(?!\1)(a|b)'\)/);
    expect(runOk(['list-mechanisms', '--module', fx.modulePath, '--token', 'cli-b'])).toMatch(/CKM_SHA256/);
  });

  test('info and list-modules', () => {
    const info = json<{ manufacturerID: string; cryptokiVersion: { major: number } }>(['info', '--module', fx.modulePath]);
    expect(info.manufacturerID).toBe('SoftHSM');
    expect(runOk(['info', '--module', fx.modulePath])).toMatch(/manufacturer:\s+SoftHSM/);
    const mods = json<Array<{ name: string; path: string }>>(['list-modules']);
    expect(Array.isArray(mods)).toBe(true);
    expect(runOk(['list-modules'])).toMatch(/^NAME\s+PATH/);
  });

  test('no module: exit 64 with a hint', () => {
    const r = run(['list-slots']);
    expect(r.status).toBe(64);
    expect(r.stderr).toMatch(/error: no module/);
  });
});

describe('random and digest', () => {
  test('random n in hex, raw and JSON', () => {
    expect(runOk(['random', '32', uri(''), '--encoding', 'hex']).trim()).toMatch(/^[0-9a-f]{64}$/);
    const raw = spawnSync(process.execPath, [bin, 'random', '17', uri(''), '-e', 'raw'], { env });
    expect(raw.status).toBe(0);
    expect(raw.stdout.length).toBe(17);
    expect(json<{ bytes: string }>(['random', '8', uri('')]).bytes).toMatch(/^[0-9a-f]{16}$/);
    expect(run(['random', 'x', uri('')]).status).toBe(64);
  });

  test('a reader that closes the pipe early (| head -c 1) ends the command quietly, not with an EPIPE crash', () => {
    // 2 MiB of random hex is far more than the pipe buffer, so the write after head exits fails.
    const cmd = `"${process.execPath}" "${bin}" random 1048576 '${uri('')}' --encoding hex | head -c 1 > /dev/null; echo "status=\${PIPESTATUS[0]}"`;
    const r = spawnSync('bash', ['-c', cmd], { env, encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(r.stdout.trim()).toBe('status=0');
  });

  test('digest of a file and of stdin equals node:crypto', () => {
    const data = crypto.randomBytes(100_000);
    const file = path.join(tmp, 'data.bin');
    fs.writeFileSync(file, data);
    for (const [mech, node] of [
      ['SHA-256', 'sha256'],
      ['SHA384', 'sha384'],
      ['CKM_SHA_1', 'sha1'],
    ]) {
      expect(runOk(['digest', '--mechanism', mech, file, uri('')]).trim()).toBe(crypto.createHash(node).update(data).digest('hex'));
    }
    expect(runOk(['digest', '-', uri(''), '-e', 'base64'], { input: data }).trim()).toBe(crypto.createHash('sha256').update(data).digest('base64'));
    const r = run(['digest', '--mechanism', 'MD4', file, uri('')]);
    expect(r.status).toBe(64);
  });
});

describe('keys', () => {
  const data = Buffer.from('message signed on the token\n');
  let dataFile: string;
  beforeAll(() => {
    dataFile = path.join(tmp, 'msg.txt');
    fs.writeFileSync(dataFile, data);
  });

  test('keygen EC (PIN from env:) then list-objects shows the pair', () => {
    const made = json<Array<{ class: string; uri: string; curve: string }>>(
      ['keygen', uri(''), '--type', 'EC:P-256', '--label', 'ec1', '--id', '0a0b', '--pin-source', 'env:CLI_PIN'],
      { env: pinEnv },
    );
    expect(made.map((m) => m.class).sort()).toEqual(['privateKey', 'publicKey']);
    expect(made[0].curve).toBe('P-256');
    // public objects without a login; all with one
    const pub = json<Array<{ class: string; label: string; id: string }>>(['list-objects', uri('')]);
    expect(pub).toEqual([expect.objectContaining({ class: 'publicKey', label: 'ec1', id: '0a0b' })]);
    const all = json<Array<{ class: string; label: string; token: boolean }>>(['list-objects', uri('object=ec1'), '--pin-source', 'env:CLI_PIN'], { env: pinEnv });
    expect(all.map((o) => o.class).sort()).toEqual(['privateKey', 'publicKey']);
    expect(all.every((o) => o.token === true)).toBe(true);
    expect(runOk(['list-objects', uri(''), '--pin-source', 'env:CLI_PIN'], { env: pinEnv })).toMatch(/privateKey\s+ec:P-256\s+256\s+ec1\s+0a0b/);
  });

  test('sign, verify (exit 0), node:crypto verifies with the exported public key; a bad signature exits 3', () => {
    const sigB64 = runOk(['sign', uri('object=ec1'), dataFile, '--mechanism', 'ECDSA-SHA256', '-e', 'base64', '--pin-source', 'env:CLI_PIN'], { env: pinEnv }).trim();
    const sig = Buffer.from(sigB64, 'base64');
    expect(sig.length).toBe(64);
    const sigFile = path.join(tmp, 'ec.sig');
    fs.writeFileSync(sigFile, sigB64 + '\n');
    expect(runOk(['verify', uri('object=ec1'), dataFile, '-s', sigFile, '-e', 'base64', '--mechanism', 'ES256'])).toBe('signature valid\n');

    const [pubObj] = json<Array<{ publicKey: string }>>(['list-objects', uri('object=ec1;type=public')]);
    expect(crypto.verify('sha256', data, { key: crypto.createPublicKey(pubObj.publicKey), dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    const pem = runOk(['export-public', uri('object=ec1')]);
    expect(pem).toBe(pubObj.publicKey);

    // raw and DER output; the default mechanism for an EC key is ECDSA-SHA256
    const der = spawnSync(process.execPath, [bin, 'sign', uri('id=%0a%0b'), '-', '--der', '-e', 'raw', '--pin-source', 'env:CLI_PIN'], { env: { ...env, ...pinEnv }, input: data });
    expect(der.status).toBe(0);
    expect(crypto.verify('sha256', data, { key: crypto.createPublicKey(pem), dsaEncoding: 'der' }, der.stdout)).toBe(true);

    const bad = Buffer.from(sig);
    bad[5] ^= 1;
    fs.writeFileSync(sigFile, bad.toString('base64'));
    const r = run(['verify', uri('object=ec1'), dataFile, '-s', sigFile, '-e', 'base64', '--json']);
    expect(r.status).toBe(3);
    expect(JSON.parse(r.stdout)).toEqual({ valid: false });
  });

  test('RSA: keygen, RS256 and PS256 checked by node:crypto', () => {
    runOk(['keygen', uri('object=rsa1;id=%11'), '--type', 'RSA:2048', '--pin-source', 'env:CLI_PIN'], { env: pinEnv });
    const pem = runOk(['export-public', uri('object=rsa1')]);
    const key = crypto.createPublicKey(pem);
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const rs = Buffer.from(runOk(['sign', uri('object=rsa1'), dataFile, '--mechanism', 'RS256', '-e', 'base64', '--pin-source', 'env:CLI_PIN'], { env: pinEnv }).trim(), 'base64');
    expect(crypto.verify('sha256', data, key, rs)).toBe(true);
    const ps = Buffer.from(
      runOk(['sign', uri('object=rsa1'), dataFile, '--mechanism', 'CKM_SHA256_RSA_PKCS_PSS', '-e', 'hex', '--pin-source', 'env:CLI_PIN'], { env: pinEnv }).trim(),
      'hex',
    );
    expect(crypto.verify('sha256', data, { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, ps)).toBe(true);
    const psFile = path.join(tmp, 'ps.sig');
    fs.writeFileSync(psFile, ps);
    expect(run(['verify', uri('object=rsa1'), dataFile, '-s', psFile, '-e', 'raw', '--mechanism', 'PS256']).status).toBe(0);
  });

  test('AES keygen and delete', () => {
    runOk(['keygen', uri('object=aes1'), '--type', 'AES:256', '--pin-source', 'env:CLI_PIN'], { env: pinEnv });
    const before = json<Array<{ class: string; size: number }>>(['list-objects', uri('object=aes1'), '--pin-source', 'env:CLI_PIN'], { env: pinEnv });
    expect(before).toEqual([expect.objectContaining({ class: 'secretKey', size: 256 })]);
    expect(runOk(['delete', uri('object=aes1'), '--pin-source', 'env:CLI_PIN'], { env: pinEnv })).toMatch(/^deleted secretKey: pkcs11:/);
    expect(json(['list-objects', uri('object=aes1'), '--pin-source', 'env:CLI_PIN'], { env: pinEnv })).toEqual([]);
    const r = run(['delete', uri('object=aes1'), '--pin-source', 'env:CLI_PIN'], { env: pinEnv });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('error: no object matches the URI\n');
    expect(run(['delete', uri(''), '--pin-source', 'env:CLI_PIN'], { env: pinEnv }).status).toBe(64);
  });
});

describe('PINs', () => {
  const dataFile = (): string => {
    const f = path.join(tmp, 'pin-data.txt');
    fs.writeFileSync(f, 'x');
    return f;
  };

  test('a wrong PIN exits 2 with CKR_PIN_INCORRECT, and the PIN appears nowhere', () => {
    const pinFile = path.join(tmp, 'wrong.pin');
    fs.writeFileSync(pinFile, WRONG_PIN + '\n');
    for (const [args, extraEnv] of [
      [['--pin-source', 'env:BAD_PIN'], { BAD_PIN: WRONG_PIN }],
      [['--pin-source', `file:${pinFile}`], {}],
    ] as Array<[string[], NodeJS.ProcessEnv]>) {
      const r = run(['sign', `pkcs11:token=cli-a;object=ec1?module-path=${fx.modulePath}`, dataFile(), ...args], { env: extraEnv });
      expect(r.status).toBe(2);
      expect(r.stderr).toBe('error: CKR_PIN_INCORRECT (C_Login)\n');
      expect(r.stdout + r.stderr).not.toContain(WRONG_PIN);
    }
    // the URI's pin-source
    const r = run(['list-objects', `pkcs11:token=cli-a?module-path=${fx.modulePath}&pin-source=file:${pinFile}`]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('error: CKR_PIN_INCORRECT (C_Login)\n');
    expect(r.stdout + r.stderr).not.toContain(WRONG_PIN);
    // a right PIN never shows either
    const ok = run(['list-objects', uri(''), '--pin-source', 'env:CLI_PIN', '--json'], { env: pinEnv });
    expect(ok.status).toBe(0);
    expect(ok.stdout + ok.stderr).not.toContain(PIN);
  });

  test('no PIN source and no terminal: exit 64; a missing variable: exit 1 naming it, not a value', () => {
    const r = run(['sign', uri('object=ec1'), dataFile()]);
    expect(r.status).toBe(64);
    expect(r.stderr).toMatch(/error: a PIN is needed/);
    const m = run(['sign', uri('object=ec1'), dataFile(), '--pin-source', 'env:NO_SUCH_PIN_VAR']);
    expect(m.status).toBe(1);
    expect(m.stderr).toBe('error: the PIN variable NO_SUCH_PIN_VAR is not set\n');
  });

  const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
  (hasScript ? test : test.skip)('the prompt on a terminal does not echo the PIN (script -qec)', async () => {
    const cmd = [process.execPath, bin, 'list-objects', uri('object=ec1'), '--login', '--json'].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error('timed out; output so far: ' + out));
      }, 30000);
      let sent = false;
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString('utf8');
        if (!sent && out.includes("PIN for token 'cli-a': ")) {
          sent = true;
          child.stdin.write(PIN + '\r');
        }
      });
      child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
      child.on('close', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(code).toBe(0);
    expect(out).not.toContain(PIN);
    expect(out).toMatch(/"class": "privateKey"/);
  });
});

describe('token administration (a SoftHSM of its own)', () => {
  // Distinctive PINs, searched for in every output.
  const SO = '29384756';
  const SO2 = '47102938';
  const USER = '61738';
  const USER2 = '50827';
  const USER3 = '93061';
  const ALL_PINS = [SO, SO2, USER, USER2, USER3];
  let adm: ReturnType<typeof createSoftHSM>;
  let admEnv: NodeJS.ProcessEnv;
  const outputs: string[] = [];

  const admRun = (args: string[], extra: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> => {
    const r = run(args, { env: { ...admEnv, ...extra } });
    outputs.push(r.stdout + r.stderr);
    return r;
  };
  const admOk = (args: string[], extra: NodeJS.ProcessEnv = {}): string => {
    const r = admRun(args, extra);
    if (r.status !== 0) throw new Error(`p11bridge ${args.join(' ')} → ${r.status}\n${r.stderr}`);
    return r.stdout;
  };
  const tokenUri = (attrs = ''): string => `pkcs11:token=adm${attrs ? ';' + attrs : ''}?module-path=${adm.modulePath}`;
  const pins = { SO_PIN: SO, SO_PIN2: SO2, USER_PIN: USER, USER_PIN2: USER2, USER_PIN3: USER3 };
  // Without --json: with it, errors are JSON on stdout (docs/cli.md), and these checks read stderr.
  const canLogIn = (envVar: string): SpawnSyncReturns<string> => admRun(['list-objects', tokenUri(), '--pin-source', `env:${envVar}`], pins);
  const objectsWith = (envVar: string): SpawnSyncReturns<string> => admRun(['list-objects', tokenUri(), '--pin-source', `env:${envVar}`, '--json'], pins);

  beforeAll(() => {
    adm = createSoftHSM({ tokens: [], setEnv: false }); // only SoftHSM's free, uninitialized slot
    admEnv = { SOFTHSM2_CONF: adm.conf };
  });
  afterAll(() => adm?.cleanup());

  test('init-token without --yes exits 64 and leaves the token alone', () => {
    const r = admRun(['init-token', `pkcs11:?module-path=${adm.modulePath}`, '--label', 'adm', '--so-pin-source', 'env:SO_PIN'], pins);
    expect(r.status).toBe(64);
    expect(r.stderr).toMatch(/error: init-token erases the token .*--yes/);
    const tokens = JSON.parse(admOk(['list-tokens', '--module', adm.modulePath, '--json'])) as Array<{ flags: { tokenInitialized: boolean } }>;
    expect(tokens.map((t) => t.flags.tokenInitialized)).toEqual([false]);
  });

  test('init-token on the fresh token; user login fails until init-pin; then keygen works with the new PIN', () => {
    const [fresh] = JSON.parse(admOk(['list-tokens', '--module', adm.modulePath, '--json'])) as Array<{ slot: number }>;
    const made = JSON.parse(
      admOk(['init-token', `pkcs11:?module-path=${adm.modulePath}`, '--slot', String(fresh.slot), '--label', 'adm', '--so-pin-source', 'env:SO_PIN', '--yes', '--json'], pins),
    ) as {
      label: string;
      uri: string;
    };
    expect(made.label).toBe('adm');
    expect(made.uri).toMatch(/^pkcs11:.*token=adm/);

    const before = canLogIn('USER_PIN');
    expect(before.status).toBe(2);
    expect(before.stderr).toBe('error: CKR_USER_PIN_NOT_INITIALIZED (C_Login)\n');

    const pinFile = path.join(tmp, 'adm-user.pin');
    fs.writeFileSync(pinFile, USER + '\n');
    expect(admOk(['init-pin', tokenUri(), '--so-pin-source', 'env:SO_PIN', '--new-pin-source', `file:${pinFile}`], pins)).toBe("user PIN set on token 'adm'\n");
    expect(canLogIn('USER_PIN').status).toBe(0);
    const keys = JSON.parse(admOk(['keygen', tokenUri('object=adm-ec'), '--type', 'EC:P-256', '--pin-source', 'env:USER_PIN', '--json'], pins)) as Array<{ class: string }>;
    expect(keys.map((k) => k.class).sort()).toEqual(['privateKey', 'publicKey']);
  });

  test('init-pin with a wrong SO PIN exits 2 (CKR_PIN_INCORRECT)', () => {
    const r = admRun(['init-pin', tokenUri(), '--so-pin-source', 'env:SO_PIN2', '--new-pin-source', 'env:USER_PIN2'], pins);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('error: CKR_PIN_INCORRECT (C_Login)\n');
    expect(canLogIn('USER_PIN').status).toBe(0);
  });

  test('change-pin: the old user PIN then fails with CKR_PIN_INCORRECT and the new one works', () => {
    const wrong = admRun(['change-pin', tokenUri(), '--pin-source', 'env:USER_PIN3', '--new-pin-source', 'env:USER_PIN2'], pins);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toBe('error: CKR_PIN_INCORRECT (C_SetPIN)\n');

    expect(admOk(['change-pin', tokenUri(), '--pin-source', 'env:USER_PIN', '--new-pin-source', 'env:USER_PIN2'], pins)).toBe("user PIN changed on token 'adm'\n");
    const old = canLogIn('USER_PIN');
    expect(old.status).toBe(2);
    expect(old.stderr).toBe('error: CKR_PIN_INCORRECT (C_Login)\n');
    const now = objectsWith('USER_PIN2');
    expect(now.status).toBe(0);
    expect((JSON.parse(now.stdout) as Array<{ label: string }>).map((o) => o.label)).toEqual(['adm-ec', 'adm-ec']);
  });

  test('change-pin --so, then unlock-pin takes only the new SO PIN and sets a new user PIN', () => {
    expect(admOk(['change-pin', tokenUri(), '--so', '--so-pin-source', 'env:SO_PIN', '--new-pin-source', 'env:SO_PIN2'], pins)).toBe("SO PIN changed on token 'adm'\n");
    const oldSo = admRun(['unlock-pin', tokenUri(), '--so-pin-source', 'env:SO_PIN', '--new-pin-source', 'env:USER_PIN3'], pins);
    expect(oldSo.status).toBe(2);
    expect(oldSo.stderr).toBe('error: CKR_PIN_INCORRECT (C_Login)\n');
    expect(admOk(['unlock-pin', tokenUri(), '--so-pin-source', 'env:SO_PIN2', '--new-pin-source', 'env:USER_PIN3'], pins)).toBe("user PIN reset on token 'adm'\n");
    expect(canLogIn('USER_PIN2').status).toBe(2);
    expect(canLogIn('USER_PIN3').status).toBe(0);
  });

  test('no PIN source and no terminal: exit 64; re-initializing erases the objects', () => {
    const r = admRun(['init-pin', tokenUri(), '--new-pin-source', 'env:USER_PIN']);
    expect(r.status).toBe(64);
    expect(r.stderr).toMatch(/error: the SO PIN is needed/);
    const wrong = admRun(['init-token', tokenUri(), '--label', 'adm', '--so-pin-source', 'env:SO_PIN', '--yes'], pins);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toBe('error: CKR_PIN_INCORRECT (C_InitToken)\n');
    expect(admOk(['init-token', tokenUri(), '--label', 'adm', '--so-pin-source', 'env:SO_PIN2', '--yes'], pins)).toMatch(/^initialized token 'adm' \(serial \w+\): pkcs11:/);
    expect(canLogIn('USER_PIN3').stderr).toBe('error: CKR_USER_PIN_NOT_INITIALIZED (C_Login)\n');
    expect(admOk(['list-objects', tokenUri(), '--json'])).toBe('[]\n');
  });

  test('no PIN appears in any output', () => {
    expect(outputs.length).toBeGreaterThan(10);
    for (const out of outputs) for (const p of ALL_PINS) expect(out).not.toContain(p);
  });
});
