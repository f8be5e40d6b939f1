// signPdf / TokenPdfSigner with SoftHSM keys (p11bridge-a, session objects), checked by poppler's
// pdfsig: "Signature is Valid" by the token certificate (trusted through an NSS database holding
// the test CA), also for a PDF of several MB, and a changed byte reported as such.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SignPdf } from '@signpdf/signpdf';
import { plainAddPlaceholder } from '@signpdf/placeholder-plain';
import { SUBFILTER_ETSI_CADES_DETACHED } from '@signpdf/utils';
import { signPdf, TokenPdfSigner, verifyCms } from '../lib/documents';
import type { TestCa } from './fixtures/documents/pki';
import { openDocumentSigners, DocumentSigners } from './fixtures/documents/signers';
import { makePdf } from './fixtures/documents/pdf';

function pdfsig(nssdir: string, file: string): { status: number | null; out: string } {
  const r = spawnSync('pdfsig', ['-nssdir', `sql:${nssdir}`, file], { timeout: 60000 });
  return { status: r.status, out: r.stdout.toString() + r.stderr.toString() };
}

/** The CMS in the first signature's /Contents, and its ByteRange. */
function contents(pdf: Buffer): { cms: Buffer; range: number[] } {
  const m = /\/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]/.exec(pdf.toString('latin1'))!;
  const range = m.slice(1).map(Number);
  const hex = pdf.subarray(range[1] + 1, range[2] - 1).toString('latin1');
  return { cms: Buffer.from(hex.replace(/(00)+$/, ''), 'hex'), range };
}

describe('PDF signatures (PAdES-B-B) by token keys, checked by pdfsig', () => {
  let fx: DocumentSigners;
  let ca: TestCa;
  let dir: string;
  let nss: string;
  let keys: DocumentSigners['keys'];

  beforeAll(async () => {
    fx = await openDocumentSigners('pdf');
    ({ ca, dir, keys } = fx);
    // pdfsig trusts what its NSS database trusts: the test CA.
    nss = path.join(dir, 'nss');
    fs.mkdirSync(nss);
    expect(spawnSync('certutil', ['-N', '-d', `sql:${nss}`, '--empty-password']).status).toBe(0);
    expect(spawnSync('certutil', ['-A', '-d', `sql:${nss}`, '-n', 'p11bridge test root', '-t', 'CT,C,C', '-i', fx.caPem]).status).toBe(0);
  });
  afterAll(async () => {
    await fx?.close();
  });

  test.each(['rsa', 'ec'] as const)('%s: pdfsig says the signature is valid, by the token certificate, trusted', async (name) => {
    const signed = await signPdf(makePdf(`signed with ${name}`), { key: keys[name].key, reason: 'test', location: 'CI' });
    const file = path.join(dir, `${name}.pdf`);
    fs.writeFileSync(file, signed);
    const r = pdfsig(nss, file);
    expect(r.out).toContain('Signature is Valid');
    expect(r.out).toContain('Certificate is Trusted');
    expect(r.out).toContain(`Signer Certificate Common Name: pdf signer ${name}`);
    expect(r.out).toContain('ETSI.CAdES.detached');
    expect(r.out).toContain('Total document signed');
    expect(r.status).toBe(0);
    // PAdES-B-B: no CMS signing-time attribute; the CMS verifies over the ByteRange.
    const { cms, range } = contents(signed);
    const v = await verifyCms(cms, { data: Buffer.concat([signed.subarray(range[0], range[1]), signed.subarray(range[2], range[2] + range[3])]), trusted: [ca.certificate] });
    expect(v.signers[0].reason).toBeUndefined();
    expect(v.signers[0].signingTime).toBeUndefined();
  });

  test('a PDF of several MB signs and verifies; a changed byte is reported', async () => {
    const pdf = makePdf('big', 6 << 20);
    expect(pdf.length).toBeGreaterThan(6 << 20);
    let hashed = 0;
    const signed = await signPdf(pdf, { key: keys.rsa.key, onProgress: (n) => (hashed += n) });
    expect(hashed).toBeGreaterThan(6 << 20);
    const file = path.join(dir, 'big.pdf');
    fs.writeFileSync(file, signed);
    const ok = pdfsig(nss, file);
    expect(ok.out).toContain('Signature is Valid');
    // One byte inside the padding stream, well within the signed range.
    const bad = Buffer.from(signed);
    const at = bad.indexOf('% p11bridge padding line') + (3 << 20);
    bad[at] = bad[at] === 0x41 ? 0x42 : 0x41;
    fs.writeFileSync(file, bad);
    const fail = pdfsig(nss, file);
    expect(fail.out).not.toContain('Signature is Valid');
    expect(fail.out).toMatch(/Digest Mismatch|Signature is Invalid/i);
  });

  test("TokenPdfSigner works as a @signpdf Signer with the caller's own placeholder", async () => {
    const withPlaceholder = plainAddPlaceholder({
      pdfBuffer: makePdf('own placeholder'),
      reason: 'r',
      contactInfo: 'c',
      name: 'n',
      location: 'l',
      signatureLength: 8192,
      subFilter: SUBFILTER_ETSI_CADES_DETACHED,
    });
    const signed = await new SignPdf().sign(withPlaceholder, new TokenPdfSigner({ key: keys.ec.key, digest: 'SHA-384' }));
    const file = path.join(dir, 'own.pdf');
    fs.writeFileSync(file, signed);
    const r = pdfsig(nss, file);
    expect(r.out).toContain('Signature is Valid');
    expect(r.out).toContain('SHA-384');
  });

  test('bad arguments are TypeError / RangeError', async () => {
    await expect(signPdf('x' as never, { key: keys.ec.key })).rejects.toThrow(TypeError);
    await expect(signPdf(makePdf('x'), { key: keys.ec.key, signatureLength: 10 })).rejects.toThrow(RangeError);
    await expect(signPdf(makePdf('x'), { key: keys.ec.key, reason: 5 as never })).rejects.toThrow(/'reason'/);
  });
});
