// What the types say about objects: find()/findAll() typed by the template's class, getAttributes()
// typed by the names asked for. Lines marked @ts-expect-error must NOT compile (tsc fails when such
// a line compiles), so this file holds both sides.
import { Certificate, Data, Key, Pkcs11Object, PrivateKey, PublicKey, SecretKey, type Session } from 'p11bridge';

export async function usage(s: Session): Promise<void> {
  const priv: PrivateKey[] = await s.findAll({ class: 'privateKey' });
  const pub: PublicKey[] = await s.findAll({ class: 'publicKey', label: 'k' });
  const sec: SecretKey[] = await s.findAll({ class: 'secretKey' });
  const certs: Certificate[] = await s.findAll({ class: 'certificate' });
  const data: Data[] = await s.findAll({ class: 'data' });
  const any: Pkcs11Object[] = await s.findAll({ label: 'k' });
  const all: Pkcs11Object[] = await s.findAll();
  // @ts-expect-error a private key is not a certificate
  const wrong: Certificate[] = await s.findAll({ class: 'privateKey' });
  // @ts-expect-error without a class the objects are not known to be private keys
  const notKeys: PrivateKey[] = await s.findAll({ label: 'k' });
  const keys: Key[] = await s.findAll({ class: 'secretKey' });
  for await (const k of s.find({ class: 'privateKey' })) {
    const sig: Buffer = await k.sign({ name: 'ECDSA', hash: 'SHA-256' }, Buffer.from('x'));
    void sig;
  }
  for await (const o of s.find({ class: 'certificate' })) {
    const x = await o.x509();
    void x;
    // @ts-expect-error a certificate cannot sign
    await o.sign({ name: 'ECDSA' }, Buffer.from('x'));
  }

  const a = await priv[0].getAttributes(['label', 'value', 'token', 'modulusBits', 'keyType', 'endDate', 'allowedMechanisms']);
  const label: string | undefined = a.label;
  const value: Buffer | undefined = a.value;
  const token: boolean | undefined = a.token;
  const bits: number | bigint | undefined = a.modulusBits;
  const keyType: string | number | bigint | undefined = a.keyType;
  const end: Date | null | undefined = a.endDate;
  const mechs: Array<number | bigint> | undefined = a.allowedMechanisms;
  // @ts-expect-error a label is a string
  const n: number | undefined = a.label;
  // @ts-expect-error a name not asked for is not there
  void a.subject;
  const status: string | undefined = a.unreadable.value;
  const one: string | undefined = await certs[0].getAttribute('label');
  // @ts-expect-error CKA_VALUE is bytes
  const two: string | undefined = await certs[0].getAttribute('value');
  // A vendor attribute (registerAttribute) reads as unknown.
  const vendor = await data[0].getAttributes(['myVendorThing']);
  // @ts-expect-error unknown until checked
  const v: string = vendor.myVendorThing;
  void [keys, pub, sec, any, all, wrong, notKeys, label, value, token, bits, keyType, end, mechs, n, status, one, two, v];
}
