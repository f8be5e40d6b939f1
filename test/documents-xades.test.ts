// signXml (XAdES-BES, enveloped) with SoftHSM keys (p11bridge-a, session objects), checked by
// xmlsec1 --verify with the test CA as the trusted certificate; a changed element fails there.
import * as crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { signXml, CertificateMismatchError } from '../lib/documents';
import { openDocumentSigners, DocumentSigners } from './fixtures/documents/signers';

const XML = '<?xml version="1.0" encoding="UTF-8"?>\n<invoice xmlns="urn:example:invoice"><id>42</id><amount currency="EUR">100.00</amount></invoice>';

export function xmlsec1Verify(dir: string, caPem: string, xml: string): { status: number | null; out: string } {
  const file = path.join(dir, `x-${crypto.randomBytes(4).toString('hex')}.xml`);
  fs.writeFileSync(file, xml);
  // xmlsec1 resolves the XAdES SignedProperties reference (URI="#…") by its Id attribute.
  const r = spawnSync('xmlsec1', ['--verify', '--trusted-pem', caPem, '--id-attr:Id', 'http://uri.etsi.org/01903/v1.3.2#:SignedProperties', file], { timeout: 60000 });
  return { status: r.status, out: r.stdout.toString() + r.stderr.toString() };
}

describe('XAdES-BES enveloped signatures by token keys, checked by xmlsec1', () => {
  let fx: DocumentSigners;
  let dir: string;
  let caPem: string;
  let keys: DocumentSigners['keys'];

  beforeAll(async () => {
    fx = await openDocumentSigners('xades');
    ({ dir, caPem, keys } = fx);
  });
  afterAll(async () => {
    await fx?.close();
  });

  test.each(['rsa', 'ec'] as const)('%s: xmlsec1 --verify accepts it; a changed amount fails', async (name) => {
    const signed = await signXml(XML, { key: keys[name].key });
    expect(signed).toContain('SignedProperties');
    expect(signed).toContain('SigningCertificate');
    expect(signed).toContain('SigningTime');
    expect(signed).toContain(keys[name].cert.raw.toString('base64').slice(0, 60));
    const ok = xmlsec1Verify(dir, caPem, signed);
    expect(ok.out).toMatch(/^OK/m);
    expect(ok.status).toBe(0);
    const bad = xmlsec1Verify(dir, caPem, signed.replace('100.00', '900.00'));
    expect(bad.out).toMatch(/FAIL/);
    expect(bad.status).not.toBe(0);
  });

  test('SHA-384 and a given signing time', async () => {
    const signed = await signXml(Buffer.from(XML), { key: keys.ec.key, digest: 'SHA-384', signingTime: new Date('2026-01-02T03:04:05Z') });
    expect(signed).toContain('<xades:SigningTime>2026-01-02T03:04:05');
    expect(signed).toContain('http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384');
    expect(xmlsec1Verify(dir, caPem, signed).status).toBe(0);
  });

  test("a certificate that is not the key's is refused", async () => {
    await expect(signXml(XML, { key: keys.ec.key, certificate: keys.rsa.cert })).rejects.toThrow(CertificateMismatchError);
  });

  test('bad arguments are TypeError / RangeError', async () => {
    await expect(signXml(42 as never, { key: keys.ec.key })).rejects.toThrow(TypeError);
    await expect(signXml('<a>', { key: keys.ec.key })).rejects.toThrow(/well-formed|root/);
    await expect(signXml(XML, { key: keys.rsa.key, rsaScheme: 'pss' } as never)).rejects.toThrow(RangeError);
    await expect(signXml(XML, { key: keys.rsa.key, signingTime: false as never })).rejects.toThrow(RangeError);
  });
});
