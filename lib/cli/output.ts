// Output: human tables by default, JSON with --json; bytes as raw, base64 or hex.
import * as fs from 'node:fs';
import * as readline from 'node:readline/promises';
import { UsageError } from './errors';

/** JSON for the typed layer's values: bigint → decimal string, Buffer → hex, Date → ISO. */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    function (this: Record<string, unknown>, key: string, v: unknown) {
      const orig = this[key];
      if (typeof orig === 'bigint') return orig.toString();
      if (Buffer.isBuffer(orig)) return orig.toString('hex');
      if (orig instanceof Uint8Array) return Buffer.from(orig).toString('hex');
      return v;
    },
    2,
  );
}

export function printJson(value: unknown): void {
  process.stdout.write(toJson(value) + '\n');
}

function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'object' && 'major' in (v as object) && 'minor' in (v as object)) {
    const ver = v as { major: number; minor: number };
    return `${ver.major}.${ver.minor}`;
  }
  return String(v);
}

/** A plain text table: a header row and left-aligned columns. */
export function printTable(columns: ReadonlyArray<readonly [key: string, title: string]>, rows: ReadonlyArray<Record<string, unknown>>): void {
  const cells = rows.map((r) => columns.map(([k]) => cell(r[k]).replace(/\s+/g, ' ')));
  const widths = columns.map(([, title], i) => Math.max(title.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]): string =>
    c
      .map((s, i) => (i === c.length - 1 ? s : s.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [line(columns.map(([, t]) => t)), ...cells.map(line)];
  if (rows.length === 0) out.push('(none)');
  process.stdout.write(out.join('\n') + '\n');
}

/** key: value lines. */
export function printFields(fields: ReadonlyArray<readonly [string, unknown]>): void {
  const w = Math.max(...fields.map(([k]) => k.length));
  process.stdout.write(fields.map(([k, v]) => `${(k + ':').padEnd(w + 1)} ${cell(v)}`).join('\n') + '\n');
}

export type Encoding = 'raw' | 'base64' | 'hex';

export function encodingOf(s: string): Encoding {
  if (s === 'raw' || s === 'binary') return 'raw';
  if (s === 'base64' || s === 'hex') return s;
  throw new UsageError(`--encoding must be raw, base64 or hex (got '${s}')`);
}

/** Writes bytes to --out or stdout: raw as they are, base64/hex with a newline. */
export function writeBytes(data: Buffer, encoding: Encoding, out?: string): void {
  const body = encoding === 'raw' ? data : Buffer.from(data.toString(encoding) + '\n');
  if (out !== undefined && out !== '-') fs.writeFileSync(out, body);
  else process.stdout.write(body);
}

/** Decodes bytes read from a file in an encoding (base64/hex: whitespace ignored). */
export function decodeBytes(data: Buffer, encoding: Encoding, what: string): Buffer {
  if (encoding === 'raw') return data;
  const text = data.toString('latin1').replace(/\s+/g, '');
  const ok = encoding === 'hex' ? /^([0-9a-fA-F]{2})*$/.test(text) : /^[A-Za-z0-9+/_-]*={0,2}$/.test(text);
  if (!ok) throw new UsageError(`${what} is not ${encoding}`);
  return Buffer.from(text, encoding === 'hex' ? 'hex' : 'base64');
}

/** A file's bytes, or stdin's for '-'. */
export async function readInput(file: string): Promise<Buffer> {
  if (file !== '-') return fs.promises.readFile(file);
  const parts: Buffer[] = [];
  for await (const c of process.stdin) parts.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(parts);
}

/** An async iterable of a file's chunks, or stdin's for '-'. */
export function inputStream(file: string): AsyncIterable<Buffer> {
  return file === '-' ? (process.stdin as AsyncIterable<Buffer>) : fs.createReadStream(file);
}

/** A regular file's size (for progress percentages); undefined for stdin and pipes. */
export function inputSize(file: string): number | undefined {
  if (file === '-') return undefined;
  try {
    const st = fs.statSync(file);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined; // the read itself reports the error
  }
}

/** All chunks of a source. */
export async function collect(source: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const parts: Buffer[] = [];
  for await (const c of source) parts.push(c);
  return parts;
}

/**
 * A command's bytes by the output rules (docs/cli.md): to --out or stdout, raw unless `encoding`;
 * with --json, stdout gets a JSON result instead: `meta` plus `{ out, bytes }` when the bytes went
 * to --out, else `meta` plus `inline` (the bytes in a JSON-friendly form).
 */
export function writeResult(data: Buffer, o: { json?: boolean; out?: string }, meta: Record<string, unknown>, inline: Record<string, unknown>, encoding: Encoding = 'raw'): void {
  const toFile = o.out !== undefined && o.out !== '-';
  if (!o.json) return writeBytes(data, encoding, o.out);
  if (toFile) {
    writeBytes(data, encoding, o.out);
    return printJson({ ...meta, out: o.out, bytes: data.length });
  }
  printJson({ ...meta, ...inline });
}

/**
 * 'base64' or 'hex' when bytes read as raw look like an encoding's text (what `-e` writes), else
 * null: for the hint when a signature read as raw does not verify.
 */
export function looksLikeText(data: Buffer): 'base64' | 'hex' | null {
  const text = data.toString('latin1').trim();
  if (text.length < 16 || /[^\x20-\x7e\s]/.test(data.toString('latin1'))) return null;
  if (/^([0-9a-fA-F]{2})+$/.test(text)) return 'hex';
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return 'base64';
  return null;
}

/** Asks a yes/no question on the terminal; false (no question) when stdin or stderr is not one. */
export async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return false;
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}
