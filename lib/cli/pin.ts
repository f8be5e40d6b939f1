// Where the PIN comes from: --pin-source (file:/path, env:VAR), the URI's pin-source or
// pin-value, or a prompt with echo off when stdin is a terminal. PINs are kept in Buffers over
// their own ArrayBuffer (off the V8 heap) and wiped after use; they are never printed.
import * as fs from 'node:fs';
import { CliError, EXIT, UsageError } from './errors';

/** A wipeable PIN buffer: a Buffer over an ArrayBuffer larger than 64 bytes (see docs/api.md, Errors). */
export function pinBuffer(bytes: Uint8Array): Buffer {
  const b = Buffer.from(new ArrayBuffer(Math.max(256, bytes.length)), 0, bytes.length);
  b.set(bytes);
  return b;
}

/** Strips one trailing newline (\n or \r\n), as `echo 1234 > pinfile` leaves. */
function stripNewline(b: Buffer): Buffer {
  let n = b.length;
  if (n > 0 && b[n - 1] === 0x0a) n--;
  if (n > 0 && b[n - 1] === 0x0d) n--;
  return b.subarray(0, n);
}

/**
 * Reads a PIN source: `file:/path` (also `file:///path` and a bare absolute path) or `env:VAR`.
 * Errors name the source's kind, never its content.
 */
export function readPinSource(source: string): Buffer {
  if (source.startsWith('env:')) {
    const name = source.slice(4);
    if (!name) throw new UsageError('--pin-source env: needs a variable name (env:VAR)');
    const v = process.env[name];
    if (v === undefined) throw new CliError(`the PIN variable ${name} is not set`);
    return pinBuffer(Buffer.from(v, 'utf8'));
  }
  let file: string | undefined;
  if (source.startsWith('file://')) file = decodeURIComponent(source.slice('file://'.length));
  else if (source.startsWith('file:')) file = decodeURIComponent(source.slice('file:'.length));
  else if (source.startsWith('/')) file = source;
  if (file === undefined) throw new UsageError('a PIN source is file:/path or env:VAR');
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch (e) {
    throw new CliError(`cannot read the PIN file (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return pinBuffer(stripNewline(raw));
  } finally {
    raw.fill(0);
  }
}

/**
 * Asks for the PIN on the terminal with echo off. Backspace edits; Ctrl-C or Ctrl-D on an empty
 * line cancels (exit 130).
 */
export function promptPin(prompt: string): Promise<Buffer> {
  const stdin = process.stdin;
  return new Promise<Buffer>((resolve, reject) => {
    const store = Buffer.from(new ArrayBuffer(1024));
    let len = 0;
    const done = (err: Error | null): void => {
      stdin.removeListener('data', onData);
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) {
        store.fill(0);
        reject(err);
      } else {
        const out = pinBuffer(store.subarray(0, len));
        store.fill(0);
        resolve(out);
      }
    };
    const onData = (chunk: Buffer): void => {
      try {
        for (const c of chunk) {
          if (c === 0x0d || c === 0x0a) return done(null);
          if (c === 0x03 || (c === 0x04 && len === 0)) return done(new CliError('cancelled', 130));
          if (c === 0x7f || c === 0x08) {
            if (len > 0) store[--len] = 0;
            continue;
          }
          if (c === 0x15) {
            store.fill(0, 0, len);
            len = 0;
            continue;
          }
          if (c < 0x20) continue;
          if (len >= store.length) return done(new CliError('the PIN is too long'));
          store[len++] = c;
        }
      } finally {
        chunk.fill(0);
      }
    };
    // Echo off before the prompt shows: a PIN typed as soon as the prompt appears must not echo.
    stdin.setRawMode(true);
    process.stderr.write(prompt);
    stdin.on('data', onData);
    stdin.resume();
  });
}

export interface PinOptions {
  /** --pin-source. */
  pinSource?: string;
  /** The URI's pin-source and pin-value. */
  uriPinSource?: string;
  uriPinValue?: string;
  /** What the prompt names. */
  tokenLabel: string;
}

/** The PIN from the first source that has one; undefined when none does and stdin is no terminal. */
export async function obtainPin(o: PinOptions): Promise<Buffer | undefined> {
  if (o.pinSource !== undefined) return readPinSource(o.pinSource);
  if (o.uriPinSource !== undefined) return readPinSource(o.uriPinSource);
  if (o.uriPinValue !== undefined) return pinBuffer(Buffer.from(o.uriPinValue, 'utf8'));
  if (process.stdin.isTTY) return promptPin(`PIN for token '${o.tokenLabel}': `);
  return undefined;
}

export function noPinError(): CliError {
  return new CliError('a PIN is needed: give --pin-source file:/path or env:VAR, pin-source in the URI, or run on a terminal', EXIT.usage);
}

/**
 * A PIN for the token administration commands: from `source` (file:/path or env:VAR), else a
 * prompt on a terminal; `confirm` asks twice (a PIN being set). Undefined when there is neither.
 */
export async function obtainAdminPin(source: string | undefined, prompt: string, confirm = false): Promise<Buffer | undefined> {
  if (source !== undefined) return readPinSource(source);
  if (!process.stdin.isTTY) return undefined;
  const first = await promptPin(prompt);
  if (!confirm) return first;
  const again = await promptPin('Again: ');
  const same = first.length === again.length && first.equals(again);
  again.fill(0);
  if (!same) {
    first.fill(0);
    throw new CliError('the two PINs differ');
  }
  return first;
}

/** The usage error for a missing administration PIN; names the option, never a value. */
export function noAdminPinError(what: string, option: string): CliError {
  return new CliError(`${what} is needed: give ${option} file:/path or env:VAR, or run on a terminal`, EXIT.usage);
}
