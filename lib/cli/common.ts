// Pieces every command shares: the common options, a Target opened and closed around a command
// body, and how objects are described in listings and --json.
import { bitLength } from '../util/bits';
import type { Command } from 'commander';
import { PublicKey, curveOfParams } from '../index';
import type { Pkcs11Object } from '../index';
import { CommonOptions, Target } from './context';
import { UsageError } from './errors';

export function withCommon(cmd: Command, opts: { token?: boolean; pin?: boolean } = {}): Command {
  cmd.option('-m, --module <path>', "PKCS#11 module (else the URI's module-path / module-name, or $P11BRIDGE_MODULE)");
  if (opts.token !== false) {
    cmd.option('--slot <id>', 'slot ID');
    cmd.option('--token <label>', 'token label (same as token= in the URI)');
  }
  if (opts.pin) cmd.option('--pin-source <source>', "PIN from file:/path or env:VAR (else the URI's pin-source, else a prompt)");
  cmd.option('--json', 'JSON output');
  cmd.option('-q, --quiet', 'no progress indicator on stderr');
  return cmd;
}

/** Runs a command body with its Target, closing the module afterwards. */
export async function withTarget<T>(uri: string | undefined, o: CommonOptions, fn: (t: Target) => Promise<T>): Promise<T> {
  const t = await Target.open(uri, o);
  try {
    return await fn(t);
  } finally {
    await t.close();
  }
}

/** --id: hex bytes, colons allowed (01a2, 01:a2). */
export function hexId(s: string | undefined): Buffer | undefined {
  if (s === undefined) return undefined;
  const h = s.replace(/:/g, '');
  if (!/^([0-9a-fA-F]{2})+$/.test(h)) throw new UsageError('--id takes hex bytes (e.g. 01a2 or 01:a2)');
  return Buffer.from(h, 'hex');
}

const OBJECT_ATTRIBUTES = ['class', 'label', 'id', 'keyType', 'token', 'private', 'sensitive', 'extractable', 'modulusBits', 'modulus', 'ecParams', 'valueLen'] as const;

export async function describeObject(t: Target, o: Pkcs11Object, withPublic: boolean): Promise<Record<string, unknown>> {
  const a = (await o.getAttributes(OBJECT_ATTRIBUTES)) as Record<string, unknown>;
  const row: Record<string, unknown> = {
    uri: await t.objectUri(a),
    class: a.class,
    label: a.label,
    id: a.id,
    keyType: a.keyType,
    token: a.token,
    private: a.private,
  };
  if (a.sensitive !== undefined) row.sensitive = a.sensitive;
  if (a.extractable !== undefined) row.extractable = a.extractable;
  if (a.modulusBits !== undefined) row.size = Number(a.modulusBits);
  // SoftHSM's RSA private keys have no CKA_MODULUS_BITS, but their (public) modulus is readable.
  else if (Buffer.isBuffer(a.modulus) && a.modulus.length > 0) row.size = bitLength(a.modulus);
  else if (Buffer.isBuffer(a.ecParams)) {
    row.curve = curveOfParams(a.ecParams) ?? a.ecParams.toString('hex');
    const bits = CURVE_BITS[String(row.curve)];
    if (bits !== undefined) row.size = bits;
  } else if (a.valueLen !== undefined) row.size = Number(a.valueLen) * 8;
  if (withPublic && o instanceof PublicKey) {
    try {
      row.publicKey = await o.toSpki('pem');
    } catch {
      // a key type node:crypto cannot encode: listed without it
    }
  }
  return row;
}

// The field size of the curves the listing names, for SIZE (bits, as for RSA and secret keys).
const CURVE_BITS: Record<string, number> = { 'P-256': 256, 'P-384': 384, 'P-521': 521, secp256k1: 256, Ed25519: 255, Ed448: 448, X25519: 255, X448: 448 };

/** The SIZE column: a bare number of bits (or empty). */
export function keyDetail(r: Record<string, unknown>): string {
  return r.size !== undefined ? String(r.size) : '';
}

/** The TYPE column: the key type, with the curve for EC keys (ec:P-256), as keygen --type names it. */
export function keyTypeDetail(r: Record<string, unknown>): string {
  if (r.keyType === undefined) return '';
  return r.curve !== undefined ? `${String(r.keyType)}:${String(r.curve)}` : String(r.keyType);
}
