// Where PKCS#11 modules live: the library directories of each platform and a table of well-known
// modules (SoftHSM, OpenSC, Rutoken, YubiKey, NSS, p11-kit, openCryptoki, tpm2-pkcs11, and the
// vendor HSM/token clients of docs/vendors.md: Luna, SafeNet eToken/IDPrime, AWS CloudHSM,
// Utimaco, nShield, YubiHSM 2), with the ones present on this machine. discovery.ts adds p11-kit's
// configured modules in front. docs/vendors.md names the source of every vendor path.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DiscoveredModule } from './discovery';

const DEBIAN_TRIPLETS: Partial<Record<string, string>> = {
  x64: 'x86_64-linux-gnu',
  arm64: 'aarch64-linux-gnu',
  arm: 'arm-linux-gnueabihf',
  ia32: 'i386-linux-gnu',
  ppc64: 'powerpc64le-linux-gnu',
  s390x: 's390x-linux-gnu',
  riscv64: 'riscv64-linux-gnu',
  loong64: 'loongarch64-linux-gnu',
  mips64el: 'mips64el-linux-gnuabi64',
};

/** Library directories to search on Linux, in order: Debian multiarch, Fedora lib64, Arch lib, local. */
export function linuxLibDirs(arch: string = process.arch): string[] {
  const triplet = DEBIAN_TRIPLETS[arch];
  const dirs = triplet ? [`/usr/lib/${triplet}`, `/lib/${triplet}`] : [];
  if (arch === 'x64' || arch === 'arm64' || arch === 'ppc64' || arch === 's390x' || arch === 'riscv64') dirs.push('/usr/lib64');
  dirs.push('/usr/lib', '/usr/local/lib');
  if (dirs.includes('/usr/lib64')) dirs.push('/usr/local/lib64');
  return dirs;
}

export function homebrewPrefix(): string {
  return fs.existsSync('/opt/homebrew') ? '/opt/homebrew' : '/usr/local';
}

export async function isFile(p: string): Promise<boolean> {
  try {
    return (await fs.promises.stat(p)).isFile();
  } catch {
    return false;
  }
}

export async function realPathOf(p: string): Promise<string> {
  try {
    return await fs.promises.realpath(p);
  } catch {
    return path.resolve(p);
  }
}

// ---------------------------------------------------------------------------------------------
// Well-known paths

export interface WellKnownModule {
  name: string;
  description: string;
  /** Paths relative to each Linux library directory (see linuxLibDirs), plus absolute ones. */
  linux?: string[];
  darwin?: string[];
  /** Absolute Windows paths; `%SystemRoot%`, `%ProgramFiles%`, `%ProgramFiles(x86)%` are expanded. */
  win32?: string[];
}

/** The well-known module locations. Linux entries not starting with '/' are searched in every lib dir. */
export const WELL_KNOWN_MODULES: readonly WellKnownModule[] = [
  {
    name: 'softhsm2',
    description: 'SoftHSM v2',
    linux: ['softhsm/libsofthsm2.so', 'pkcs11/libsofthsm2.so', 'libsofthsm2.so'],
    darwin: ['/opt/homebrew/lib/softhsm/libsofthsm2.so', '/usr/local/lib/softhsm/libsofthsm2.so', '/opt/local/lib/softhsm/libsofthsm2.so'],
    win32: [
      'C:\\SoftHSM2\\lib\\softhsm2-x64.dll',
      'C:\\SoftHSM2\\lib\\softhsm2.dll',
      '%ProgramFiles%\\SoftHSM2\\lib\\softhsm2-x64.dll',
      '%ProgramFiles(x86)%\\SoftHSM2\\lib\\softhsm2.dll',
    ],
  },
  {
    name: 'opensc',
    description: 'OpenSC smart card framework',
    linux: ['opensc-pkcs11.so', 'pkcs11/opensc-pkcs11.so'],
    darwin: [
      '/Library/OpenSC/lib/opensc-pkcs11.so',
      '/opt/homebrew/lib/opensc-pkcs11.so',
      '/usr/local/lib/opensc-pkcs11.so',
      '/opt/homebrew/lib/pkcs11/opensc-pkcs11.so',
      '/usr/local/lib/pkcs11/opensc-pkcs11.so',
    ],
    win32: [
      '%SystemRoot%\\System32\\opensc-pkcs11.dll',
      '%ProgramFiles%\\OpenSC Project\\OpenSC\\pkcs11\\opensc-pkcs11.dll',
      '%ProgramFiles(x86)%\\OpenSC Project\\OpenSC\\pkcs11\\opensc-pkcs11.dll',
    ],
  },
  {
    name: 'rutoken-ecp',
    description: 'Rutoken ECP (Aktiv) rtPKCS11ecp',
    linux: [
      'librtpkcs11ecp.so',
      'pkcs11/librtpkcs11ecp.so',
      '/opt/aktivco/rutokenecp/amd64/librtpkcs11ecp.so',
      '/opt/aktivco/rutokenecp/x86_64/librtpkcs11ecp.so',
      '/opt/aktivco/rutokenecp/arm64/librtpkcs11ecp.so',
      '/opt/aktivco/rutokenecp/aarch64/librtpkcs11ecp.so',
    ],
    darwin: ['/Library/Frameworks/rtpkcs11ecp.framework/rtpkcs11ecp', '/Library/Aktiv Co/Rutoken ECP/lib/librtpkcs11ecp.dylib', '/usr/local/lib/librtpkcs11ecp.dylib'],
    win32: ['%SystemRoot%\\System32\\rtPKCS11ECP.dll', '%SystemRoot%\\System32\\rtPKCS11.dll'],
  },
  {
    name: 'ykcs11',
    description: 'YubiKey PIV (Yubico PIV Tool ykcs11)',
    linux: ['libykcs11.so', 'libykcs11.so.2', 'pkcs11/libykcs11.so'],
    darwin: ['/usr/local/lib/libykcs11.dylib', '/opt/homebrew/lib/libykcs11.dylib'],
    win32: ['%ProgramFiles%\\Yubico\\Yubico PIV Tool\\bin\\libykcs11.dll', '%ProgramFiles(x86)%\\Yubico\\Yubico PIV Tool\\bin\\libykcs11.dll'],
  },
  {
    name: 'nss-softokn',
    description: 'NSS softoken (needs NSS library parameters in C_Initialize)',
    linux: ['libsoftokn3.so', 'nss/libsoftokn3.so'],
    darwin: ['/opt/homebrew/lib/libsoftokn3.dylib', '/usr/local/lib/libsoftokn3.dylib', '/opt/homebrew/opt/nss/lib/libsoftokn3.dylib'],
    win32: ['%ProgramFiles%\\Mozilla Firefox\\softokn3.dll', '%ProgramFiles(x86)%\\Mozilla Firefox\\softokn3.dll'],
  },
  {
    name: 'p11-kit-trust',
    description: 'p11-kit trust module (system CA store)',
    linux: ['pkcs11/p11-kit-trust.so'],
    darwin: ['/opt/homebrew/lib/pkcs11/p11-kit-trust.so', '/usr/local/lib/pkcs11/p11-kit-trust.so'],
  },
  {
    name: 'p11-kit-client',
    description: 'p11-kit client module (remote p11-kit server)',
    linux: ['pkcs11/p11-kit-client.so'],
    darwin: ['/opt/homebrew/lib/pkcs11/p11-kit-client.so', '/usr/local/lib/pkcs11/p11-kit-client.so'],
  },
  {
    name: 'opencryptoki',
    description: 'openCryptoki',
    linux: ['opencryptoki/libopencryptoki.so', 'pkcs11/libopencryptoki.so', 'opencryptoki/libopencryptoki.so.0', 'libopencryptoki.so.0'],
  },
  // Vendor clients (sources for each path: docs/vendors.md).
  {
    name: 'luna',
    description: 'Thales Luna HSM client (Chrystoki.conf configures it)',
    linux: ['/usr/safenet/lunaclient/lib/libCryptoki2_64.so', 'libCryptoki2_64.so'],
    win32: ['%ProgramFiles%\\SafeNet\\LunaClient\\cryptoki.dll'],
  },
  {
    name: 'safenet-etoken',
    description: 'SafeNet Authentication Client: eToken and IDPrime (eTPKCS11)',
    linux: ['libeTPkcs11.so', 'pkcs11/libeTPkcs11.so', 'libIDPrimePKCS11.so', 'libIDPrimePKCS11.so.10'],
    win32: ['%SystemRoot%\\System32\\eTPKCS11.dll'],
  },
  {
    name: 'aws-cloudhsm',
    description: 'AWS CloudHSM Client SDK 5 (PIN is <crypto user>:<password>)',
    linux: ['/opt/cloudhsm/lib/libcloudhsm_pkcs11.so'],
    win32: ['%ProgramFiles%\\Amazon\\CloudHSM\\lib\\cloudhsm_pkcs11.dll'],
  },
  {
    name: 'utimaco',
    description: 'Utimaco CryptoServer / u.trust GP HSM (cs_pkcs11_R3.cfg configures it)',
    linux: ['/opt/utimaco/lib/libcs_pkcs11_R3.so', '/lib/libcs_pkcs11_R3.so', 'libcs_pkcs11_R3.so', 'libcs_pkcs11_R2.so'],
  },
  {
    name: 'nshield',
    description: 'Entrust nShield Security World (cknfastrc configures it)',
    linux: ['/opt/nfast/toolkits/pkcs11/libcknfast.so'],
    win32: ['%ProgramFiles%\\nCipher\\nfast\\toolkits\\pkcs11\\cknfast.dll', 'C:\\nCipher\\nfast\\cknfast.dll'],
  },
  {
    name: 'yubihsm2',
    description: 'YubiHSM 2 (yubihsm_pkcs11.conf or YUBIHSM_PKCS11_CONF names the connector)',
    linux: ['pkcs11/yubihsm_pkcs11.so', 'yubihsm_pkcs11.so'],
  },
  {
    name: 'tpm2-pkcs11',
    description: 'tpm2-pkcs11',
    linux: ['libtpm2_pkcs11.so', 'pkcs11/libtpm2_pkcs11.so', 'libtpm2_pkcs11.so.1'],
    darwin: ['/opt/homebrew/lib/libtpm2_pkcs11.dylib', '/usr/local/lib/libtpm2_pkcs11.dylib'],
  },
];

/**
 * Every candidate path for a table entry on a platform, in search order (existing or not).
 * `env` supplies SystemRoot/ProgramFiles for Windows (default process.env).
 */
export function wellKnownCandidates(
  entry: WellKnownModule,
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
  arch: string = process.arch,
): string[] {
  if (platform === 'win32') {
    const vars: Record<string, string> = {
      SystemRoot: env.SystemRoot ?? env.SYSTEMROOT ?? 'C:\\Windows',
      ProgramFiles: env.ProgramW6432 ?? env.ProgramFiles ?? 'C:\\Program Files',
      'ProgramFiles(x86)': env['ProgramFiles(x86)'] ?? 'C:\\Program Files (x86)',
    };
    return (entry.win32 ?? []).map((p) => p.replace(/%([^%]+)%/g, (m, k: string) => vars[k] ?? m));
  }
  if (platform === 'linux') {
    const out: string[] = [];
    for (const p of entry.linux ?? []) {
      if (p.startsWith('/')) out.push(p);
      else for (const dir of linuxLibDirs(arch)) out.push(`${dir}/${p}`);
    }
    return [...new Set(out)];
  }
  if (platform === 'darwin') return [...(entry.darwin ?? [])];
  // Other Unixes: the Linux names under the usual prefixes.
  const out: string[] = [];
  for (const p of entry.linux ?? []) {
    if (p.startsWith('/')) continue;
    for (const dir of ['/usr/local/lib', '/usr/lib']) out.push(`${dir}/${p}`);
  }
  return out;
}

/**
 * The well-known modules present on this machine: for each table entry, every candidate path that
 * is an existing file, deduplicated by real path (the first candidate naming a file wins).
 */
export async function findWellKnownModules(
  options: {
    platform?: NodeJS.Platform;
    table?: readonly WellKnownModule[];
    /**
     * Look for the candidates under this directory instead of `/` (a test or a chroot):
     * `/usr/lib/x.so` is looked for as `<root>/usr/lib/x.so`, `C:\\A\\b.dll` as `<root>/C/A/b.dll`.
     * The paths returned are the ones found under the root.
     */
    root?: string;
    /** SystemRoot / ProgramFiles for Windows candidates (default process.env). */
    env?: NodeJS.ProcessEnv;
  } = {},
): Promise<DiscoveredModule[]> {
  const platform = options.platform ?? process.platform;
  const out: DiscoveredModule[] = [];
  const seen = new Set<string>();
  for (const entry of options.table ?? WELL_KNOWN_MODULES) {
    for (const listed of wellKnownCandidates(entry, platform, options.env ?? process.env)) {
      const candidate = options.root === undefined ? listed : underRoot(options.root, listed);
      if (!(await isFile(candidate))) continue;
      const realPath = await realPathOf(candidate);
      if (seen.has(realPath)) continue;
      seen.add(realPath);
      out.push({ name: entry.name, path: candidate, source: 'well-known', exists: true, realPath, enabled: true });
    }
  }
  return out;
}

/** A listed absolute path (POSIX, or Windows with a drive letter) as a path under `root`. */
function underRoot(root: string, listed: string): string {
  const drive = /^([A-Za-z]):[\\/]/.exec(listed);
  const parts = drive ? [drive[1], ...listed.slice(3).split(/[\\/]/)] : listed.split('/');
  return path.join(root, ...parts.filter((p) => p !== ''));
}
