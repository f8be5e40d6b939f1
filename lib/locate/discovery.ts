// Module discovery: the modules p11-kit is configured to load (its module config files, with its
// precedence rules) and a table of well-known module paths per platform. Nothing here loads a
// module; it only reads config files and checks which files exist.
//
// p11-kit's rules, as documented in pkcs11.conf(5) and as p11-kit 0.24 behaves:
//  - A config file is `name: value` lines; blank lines and lines starting with `#` are ignored;
//    white space around name and value is dropped; `#` after a value is part of the value.
//  - Module configs are read from the user directory (~/.config/pkcs11/modules), then the admin
//    directory (/etc/pkcs11/modules), then the system/package directory
//    (/usr/share/p11-kit/modules). Files with the same name (minus `.module`) describe the same
//    module: the earlier directory wins key by key and later ones only fill in keys it lacks.
//  - `user-config` in /etc/pkcs11/pkcs11.conf (and then in ~/.config/pkcs11/pkcs11.conf, which may
//    change it again) selects: `merge` (default) user + admin + system, `only` (alias `override`)
//    user configs only, `none` no user configs at all.
//  - `module:` blank means "do not load" (a user file can switch a system module off this way);
//    a relative name is taken from p11-kit's module directory; `remote:` makes the module remote,
//    so it has no local file to open.
//  - `enable-in`/`disable-in` hold program names separated by commas and/or spaces.
// Where p11-kit refuses a whole file (a line without a colon) this reader skips the line and
// reports it instead: discovery should not be stopped by one stray line.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findWellKnownModules, homebrewPrefix, isFile, linuxLibDirs, realPathOf } from './module-paths';

export { findWellKnownModules, linuxLibDirs, WELL_KNOWN_MODULES, wellKnownCandidates } from './module-paths';
export type { WellKnownModule } from './module-paths';

export type DiscoverySource = 'p11-kit-system' | 'p11-kit-admin' | 'p11-kit-user' | 'well-known';
export type UserConfigMode = 'none' | 'merge' | 'only';

/** Something wrong in a config file: reported, never thrown. */
export interface DiscoveryIssue {
  file: string;
  /** 1-based line number, when the issue is about one line. */
  line?: number;
  message: string;
}

/** A module's p11-kit configuration after merging the files that describe it. */
export interface P11KitModuleConfig {
  /** The `module:` value as written ('' when blank, undefined when absent). */
  module?: string;
  critical: boolean;
  managed: boolean;
  trustPolicy: boolean;
  logCalls: boolean;
  priority: number;
  enableIn?: string[];
  disableIn?: string[];
  remote?: string;
  /** Every key as merged, including x- and unknown keys. */
  values: Record<string, string>;
  /** The files that contributed, highest precedence first. */
  files: Array<{ file: string; source: Exclude<DiscoverySource, 'well-known'> }>;
  /** Problems found in those files. */
  issues: DiscoveryIssue[];
}

/** One module as p11-kit's configuration describes it. */
export interface P11KitModule {
  /** The config file name without `.module`. */
  name: string;
  /** Where the highest-precedence file describing it lives. */
  source: Exclude<DiscoverySource, 'well-known'>;
  /** The resolved module file; null for a blank `module:` (switched off) or a remote module. */
  path: string | null;
  /** Whether p11-kit would load it in the program (enable-in/disable-in, blank module, remote). */
  enabled: boolean;
  config: P11KitModuleConfig;
}

export interface P11KitConfiguration {
  mode: UserConfigMode;
  /** The global settings in effect (pkcs11.conf after the user-config rules). */
  globals: Record<string, string>;
  /** Sorted as p11-kit lists them: higher priority first, then by name. */
  modules: P11KitModule[];
  issues: DiscoveryIssue[];
  /** The locations used (after defaults). */
  paths: Required<P11KitPaths>;
}

export interface P11KitPaths {
  /** Package module configs (/usr/share/p11-kit/modules); null skips it. */
  systemModules?: string | null;
  /** Administrator module configs (/etc/pkcs11/modules); null skips it. */
  adminModules?: string | null;
  /** User module configs (~/.config/pkcs11/modules); null skips it. */
  userModules?: string | null;
  /** Global config (/etc/pkcs11/pkcs11.conf); null skips it. */
  systemConfig?: string | null;
  /** User global config (~/.config/pkcs11/pkcs11.conf); null skips it. */
  userConfig?: string | null;
  /** Where relative `module:` names live (/usr/lib/<multiarch>/pkcs11 on Debian). */
  moduleDir?: string;
}

export interface DiscoverOptions extends P11KitPaths {
  /** Read p11-kit configs (default true). */
  p11kit?: boolean;
  /** Look at the well-known paths (default true). */
  wellKnown?: boolean;
  /** The program name enable-in/disable-in are checked against; default the process's (`node`). */
  programName?: string;
  /** Keep modules p11-kit would not load in this program, with enabled: false (default false). */
  includeDisabled?: boolean;
  /** The platform whose well-known table to use (default process.platform). */
  platform?: NodeJS.Platform;
  /** Called for each problem found in a config file. */
  onIssue?: (issue: DiscoveryIssue) => void;
}

export interface DiscoveredModule {
  /** The p11-kit config name, or the well-known table's name ('softhsm2', 'opensc' …). */
  name: string;
  /** The file to open (as configured or as listed; see realPath for the resolved one). */
  path: string;
  source: DiscoverySource;
  /** For p11-kit modules: the merged configuration. */
  config?: P11KitModuleConfig;
  exists: boolean;
  /** The path with symlinks resolved (the key deduplication uses); the path when it does not exist. */
  realPath: string;
  /** Whether p11-kit would load it in this program; always true for well-known entries. */
  enabled: boolean;
}

// ---------------------------------------------------------------------------------------------
// Parsing

export interface ParsedConfig {
  values: Record<string, string>;
  issues: DiscoveryIssue[];
}

const KEY_RE = /^[A-Za-z0-9._-]+$/;

/** Parses p11-kit config text. Malformed lines are skipped and reported. */
export function parseP11KitConfig(text: string, file = '<text>'): ParsedConfig {
  const values: Record<string, string> = Object.create(null);
  const issues: DiscoveryIssue[] = [];
  const lines = text.replace(/\r/g, '').split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon < 0) {
      issues.push({ file, line: i + 1, message: `invalid config line (no "name: value"): ${line}` });
      return;
    }
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (!KEY_RE.test(key)) {
      issues.push({ file, line: i + 1, message: `invalid setting name '${key}'` });
      return;
    }
    if (Object.prototype.hasOwnProperty.call(values, key)) {
      issues.push({ file, line: i + 1, message: `'${key}' set again; the later value is used` });
    }
    values[key] = value;
  });
  return { values, issues };
}

/** The module name p11-kit derives from a config file name, or null when the name is not valid. */
export function moduleNameFromFile(fileName: string): string | null {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(fileName)) return null;
  if (!fileName.endsWith('.module') || fileName.length <= '.module'.length) return null;
  return fileName.slice(0, -'.module'.length);
}

function parseBoolean(values: Record<string, string>, key: string, def: boolean, file: string, issues: DiscoveryIssue[]): boolean {
  const v = values[key];
  if (v === undefined) return def;
  if (v === 'yes') return true;
  if (v === 'no') return false;
  issues.push({ file, message: `invalid setting '${key}: ${v}', defaulting to '${def ? 'yes' : 'no'}'` });
  return def;
}

function parseList(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(/[\s,]+/).filter((s) => s !== '');
}

// ---------------------------------------------------------------------------------------------
// Default locations

/** p11-kit's module directory for relative `module:` names: the first that exists, else the first. */
export function defaultModuleDir(platform: NodeJS.Platform = process.platform): string {
  const candidates =
    platform === 'linux'
      ? linuxLibDirs()
          .filter((d) => d.startsWith('/usr/'))
          .map((d) => `${d}/pkcs11`)
      : platform === 'darwin'
        ? ['/opt/homebrew/lib/pkcs11', '/usr/local/lib/pkcs11']
        : [path.join(process.env.ProgramFiles ?? 'C:\\Program Files', 'p11-kit', 'lib', 'pkcs11')];
  return candidates.find((d) => isDirectory(d)) ?? candidates[0];
}

/** The default p11-kit locations for this platform. */
export function defaultP11KitPaths(platform: NodeJS.Platform = process.platform): Required<P11KitPaths> {
  const home = os.homedir();
  const user = path.join(home, '.config', 'pkcs11');
  if (platform === 'darwin') {
    const p = homebrewPrefix();
    return {
      systemModules: `${p}/share/p11-kit/modules`,
      adminModules: `${p}/etc/pkcs11/modules`,
      userModules: path.join(user, 'modules'),
      systemConfig: `${p}/etc/pkcs11/pkcs11.conf`,
      userConfig: path.join(user, 'pkcs11.conf'),
      moduleDir: defaultModuleDir(platform),
    };
  }
  return {
    systemModules: '/usr/share/p11-kit/modules',
    adminModules: '/etc/pkcs11/modules',
    userModules: path.join(user, 'modules'),
    systemConfig: '/etc/pkcs11/pkcs11.conf',
    userConfig: path.join(user, 'pkcs11.conf'),
    moduleDir: defaultModuleDir(platform),
  };
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** p11-kit's rule: an absolute `module:` is used as is, a relative one is taken from the module directory. */
export function resolveModulePath(module: string, moduleDir: string): string {
  return path.isAbsolute(module) ? module : path.join(moduleDir, module);
}

/** The program name p11-kit would see for this process: the base name of argv[0]. */
export function currentProgramName(): string {
  return path.basename(process.argv0 || process.execPath).replace(/\.exe$/i, '');
}

// ---------------------------------------------------------------------------------------------
// Reading p11-kit's configuration

async function readFileOrNull(file: string, issues: DiscoveryIssue[]): Promise<string | null> {
  try {
    return await fs.promises.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') issues.push({ file, message: `cannot read: ${(e as Error).message}` });
    return null;
  }
}

function userConfigMode(values: Record<string, string>, def: UserConfigMode, file: string, issues: DiscoveryIssue[]): UserConfigMode {
  const v = values['user-config'];
  if (v === undefined) return def;
  if (v === 'none' || v === 'merge' || v === 'only') return v;
  if (v === 'override') return 'only';
  issues.push({ file, message: `invalid mode for 'user-config': ${v} (keeping '${def}')` });
  return def;
}

async function readModuleDir(
  dir: string,
  source: Exclude<DiscoverySource, 'well-known'>,
  into: Map<string, { values: Record<string, string>; files: P11KitModuleConfig['files']; issues: DiscoveryIssue[] }>,
  issues: DiscoveryIssue[],
): Promise<void> {
  let names: string[];
  try {
    names = (await fs.promises.readdir(dir)).sort();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') issues.push({ file: dir, message: `cannot list: ${(e as Error).message}` });
    return;
  }
  for (const fileName of names) {
    const file = path.join(dir, fileName);
    try {
      if ((await fs.promises.stat(file)).isDirectory()) continue;
    } catch (e) {
      issues.push({ file, message: `cannot stat: ${(e as Error).message}` });
      continue;
    }
    const local: DiscoveryIssue[] = [];
    let name = moduleNameFromFile(fileName);
    if (name === null) {
      // p11-kit 0.24 still loads such a file, under its whole file name, with a warning.
      local.push({ file, message: 'invalid config file name (should be <name>.module); p11-kit loads it under its full name for now' });
      name = fileName;
    }
    const text = await readFileOrNull(file, local);
    if (text === null) {
      issues.push(...local);
      continue;
    }
    const parsed = parseP11KitConfig(text, file);
    local.push(...parsed.issues);
    issues.push(...local);
    const prev = into.get(name);
    if (!prev) {
      into.set(name, { values: { ...parsed.values }, files: [{ file, source }], issues: local });
    } else {
      // The earlier (higher-precedence) file wins key by key; this one only fills in gaps.
      for (const [k, v] of Object.entries(parsed.values)) if (!(k in prev.values)) prev.values[k] = v;
      prev.files.push({ file, source });
      prev.issues.push(...local);
    }
  }
}

function isEnabledIn(config: P11KitModuleConfig, program: string): boolean {
  if (config.enableIn) return config.enableIn.includes(program);
  if (config.disableIn) return !config.disableIn.includes(program);
  return true;
}

/**
 * Reads p11-kit's global and module configuration with p11-kit's precedence rules. Never throws for
 * a bad file: problems are in `issues`.
 */
export async function readP11KitConfig(options: P11KitPaths & { programName?: string } = {}): Promise<P11KitConfiguration> {
  const defaults = defaultP11KitPaths();
  const pick = <K extends keyof P11KitPaths>(k: K) => (options[k] === undefined ? defaults[k] : options[k]) as Required<P11KitPaths>[K];
  const paths: Required<P11KitPaths> = {
    systemModules: pick('systemModules'),
    adminModules: pick('adminModules'),
    userModules: pick('userModules'),
    systemConfig: pick('systemConfig'),
    userConfig: pick('userConfig'),
    moduleDir: pick('moduleDir'),
  };
  const issues: DiscoveryIssue[] = [];

  // Globals: the system file decides whether the user file is read; the user file may change the mode.
  let globals: Record<string, string> = {};
  let mode: UserConfigMode = 'merge';
  if (paths.systemConfig) {
    const text = await readFileOrNull(paths.systemConfig, issues);
    if (text !== null) {
      const parsed = parseP11KitConfig(text, paths.systemConfig);
      issues.push(...parsed.issues);
      globals = { ...parsed.values };
      mode = userConfigMode(parsed.values, mode, paths.systemConfig, issues);
    }
  }
  if (mode !== 'none' && paths.userConfig) {
    const text = await readFileOrNull(paths.userConfig, issues);
    if (text !== null) {
      const parsed = parseP11KitConfig(text, paths.userConfig);
      issues.push(...parsed.issues);
      mode = userConfigMode(parsed.values, mode, paths.userConfig, issues);
      if (mode === 'merge') globals = { ...globals, ...parsed.values };
      else if (mode === 'only') globals = { ...parsed.values };
      // 'none' set by the user file itself: the system globals stay.
    }
  }

  const merged = new Map<string, { values: Record<string, string>; files: P11KitModuleConfig['files']; issues: DiscoveryIssue[] }>();
  if (mode !== 'none' && paths.userModules) await readModuleDir(paths.userModules, 'p11-kit-user', merged, issues);
  if (mode !== 'only') {
    if (paths.adminModules) await readModuleDir(paths.adminModules, 'p11-kit-admin', merged, issues);
    if (paths.systemModules) await readModuleDir(paths.systemModules, 'p11-kit-system', merged, issues);
  }

  const program = options.programName ?? currentProgramName();
  const modules: P11KitModule[] = [];
  for (const [name, m] of merged) {
    const v = m.values;
    const file = m.files[0].file;
    const own = m.issues;
    let priority = 0;
    if (v.priority !== undefined) {
      if (/^[+-]?\d+$/.test(v.priority)) priority = parseInt(v.priority, 10);
      else own.push({ file, message: `invalid priority '${v.priority}', using 0` });
    }
    const config: P11KitModuleConfig = {
      module: v.module,
      critical: parseBoolean(v, 'critical', false, file, own),
      managed: parseBoolean(v, 'managed', true, file, own),
      trustPolicy: parseBoolean(v, 'trust-policy', false, file, own),
      logCalls: parseBoolean(v, 'log-calls', false, file, own),
      priority,
      enableIn: parseList(v['enable-in']),
      disableIn: parseList(v['disable-in']),
      remote: v.remote || undefined,
      values: v,
      files: m.files,
      issues: own,
    };
    if (config.enableIn && config.disableIn) own.push({ file, message: 'both enable-in and disable-in are set; enable-in is used' });
    for (const i of own) if (!issues.includes(i)) issues.push(i);
    const modulePath = config.remote || !config.module ? null : resolveModulePath(config.module, paths.moduleDir);
    modules.push({
      name,
      source: m.files[0].source,
      path: modulePath,
      enabled: modulePath !== null && isEnabledIn(config, program),
      config,
    });
  }
  modules.sort((a, b) => b.config.priority - a.config.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { mode, globals, modules, issues, paths };
}

// ---------------------------------------------------------------------------------------------
// discover()

/**
 * The PKCS#11 modules on this machine: p11-kit's configured modules first (in p11-kit's order:
 * priority, then name), then well-known paths that exist, deduplicated by real path. Modules
 * p11-kit would not load here (blank `module:`, remote, enable-in/disable-in) are left out unless
 * includeDisabled. p11-kit modules whose file is missing are kept with exists: false. Never
 * throws for a bad config file; see onIssue or readP11KitConfig() for the problems found.
 */
export async function discover(options: DiscoverOptions = {}): Promise<DiscoveredModule[]> {
  const out: DiscoveredModule[] = [];
  const seen = new Set<string>();
  if (options.p11kit ?? true) {
    const conf = await readP11KitConfig(options);
    if (options.onIssue) for (const i of conf.issues) options.onIssue(i);
    for (const m of conf.modules) {
      if (m.path === null) continue; // switched off or remote: nothing local to open
      if (!m.enabled && !options.includeDisabled) continue;
      const realPath = await realPathOf(m.path);
      if (seen.has(realPath)) continue;
      seen.add(realPath);
      out.push({
        name: m.name,
        path: m.path,
        source: m.source,
        config: m.config,
        exists: await isFile(m.path),
        realPath,
        enabled: m.enabled,
      });
    }
  }
  if (options.wellKnown ?? true) {
    for (const m of await findWellKnownModules({ platform: options.platform })) {
      if (seen.has(m.realPath)) continue;
      seen.add(m.realPath);
      out.push(m);
    }
  }
  return out;
}
