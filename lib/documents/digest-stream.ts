// The bytes to sign, hashed as they arrive: a Buffer, an ArrayBuffer, a node Readable or any async
// iterable of chunks (fs.createReadStream of a multi-GB file). Only a detached signature's caller
// gets away without keeping the content; attached CMS embeds it, so `keep` collects the chunks.
import * as crypto from 'node:crypto';

/** What the signers take: bytes in memory, or a stream / async iterable of chunks (never a path). */
export type DocumentInput = Uint8Array | ArrayBuffer | AsyncIterable<Uint8Array | string>;

/** The hashes CMS, PDF and XAdES signatures here use. */
export type DocumentHash = 'SHA-256' | 'SHA-384' | 'SHA-512';

export const DOCUMENT_HASHES: readonly DocumentHash[] = ['SHA-256', 'SHA-384', 'SHA-512'];

/** @internal node:crypto's name of a hash. */
export function nodeHashName(h: DocumentHash): string {
  return h.replace('-', '').toLowerCase();
}

/** @internal Bytes of a hash's output. */
export const HASH_BYTES: Record<DocumentHash, number> = { 'SHA-256': 32, 'SHA-384': 48, 'SHA-512': 64 };

/** @internal A hash name checked (RangeError naming the option). */
export function documentHash(what: string, h: unknown): DocumentHash {
  if (h === undefined) return 'SHA-256';
  if (typeof h === 'string') {
    const n = h.toUpperCase().replace(/^SHA-?/, 'SHA-');
    if ((DOCUMENT_HASHES as readonly string[]).includes(n)) return n as DocumentHash;
  }
  throw new RangeError(`${what}: option 'digest' must be one of ${DOCUMENT_HASHES.join(', ')} (got ${String(h)})`);
}

function isAsyncIterable(x: unknown): x is AsyncIterable<Uint8Array | string> {
  return x !== null && typeof x === 'object' && typeof (x as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}

/** @internal Checks an input argument (TypeError naming it). */
export function checkInput(what: string, input: unknown, name = 'data'): DocumentInput {
  if (input instanceof Uint8Array || input instanceof ArrayBuffer || isAsyncIterable(input)) return input;
  throw new TypeError(`${what}: argument '${name}' must be bytes (Buffer, Uint8Array, ArrayBuffer) or a readable stream / async iterable of chunks`);
}

/** @internal Input as a Buffer view without a copy, for inputs already in memory. */
export function inMemory(input: DocumentInput): Buffer | undefined {
  if (input instanceof ArrayBuffer) return Buffer.from(input);
  if (input instanceof Uint8Array) return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  return undefined;
}

export interface DigestResult {
  digest: Buffer;
  /** The whole content, when it was in memory already or `keep` asked for it. */
  content?: Buffer;
  /** Bytes hashed. */
  length: number;
}

/**
 * Hashes an input chunk by chunk. `onChunk` sees each chunk's size (progress lines); `keep`
 * collects the content (attached signatures). In-memory input is hashed in 1 MiB slices so a
 * huge Buffer does not block the loop in one go.
 */
export async function digestInput(input: DocumentInput, hash: DocumentHash, options: { keep?: boolean; onChunk?: (n: number) => void } = {}): Promise<DigestResult> {
  const h = crypto.createHash(nodeHashName(hash));
  const mem = inMemory(input);
  if (mem) {
    const slice = 1 << 20;
    for (let at = 0; at < mem.length; at += slice) {
      const part = mem.subarray(at, Math.min(mem.length, at + slice));
      h.update(part);
      options.onChunk?.(part.length);
      if (mem.length > slice) await new Promise<void>((r) => setImmediate(r));
    }
    return { digest: h.digest(), content: mem, length: mem.length };
  }
  const kept: Buffer[] = [];
  let length = 0;
  for await (const chunk of input as AsyncIterable<Uint8Array | string>) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    h.update(b);
    length += b.length;
    options.onChunk?.(b.length);
    // A copy: a generic iterable may hand out the same buffer again for the next chunk.
    if (options.keep) kept.push(Buffer.from(b));
  }
  return { digest: h.digest(), content: options.keep ? Buffer.concat(kept, length) : undefined, length };
}
