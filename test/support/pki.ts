// Certificates made by the test: a CA, and leaves it signs (node-forge, with
// keys from Node's crypto), written as PEM files in a temp directory.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import forge from 'node-forge';

export interface Pem {
  readonly cert: string;
  readonly key: string;
}

export interface Files {
  readonly cert: string;
  readonly key: string;
}

function keyPair(): { forgeKey: forge.pki.rsa.PrivateKey; forgePublic: forge.pki.rsa.PublicKey; pem: string } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  return {
    forgeKey: forge.pki.privateKeyFromPem(pem),
    forgePublic: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string),
    pem,
  };
}

function certificate(subject: string, publicKey: forge.pki.rsa.PublicKey): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // An even number of hex digits led by 01: a positive INTEGER in minimal DER (an odd count is padded
  // with a 00 byte, which strict parsers refuse as illegal padding when the next byte is below 0x80).
  cert.serialNumber = `01${crypto.randomBytes(12).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  cert.setSubject([{ name: 'commonName', value: subject }]);
  return cert;
}

export class TestCa {
  readonly pem: Pem;
  readonly #cert: forge.pki.Certificate;
  readonly #key: forge.pki.rsa.PrivateKey;

  constructor(name = 'plughost test CA') {
    const keys = keyPair();
    const cert = certificate(name, keys.forgePublic);
    cert.setIssuer(cert.subject.attributes);
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ]);
    cert.sign(keys.forgeKey, forge.md.sha256.create());
    this.#cert = cert;
    this.#key = keys.forgeKey;
    this.pem = { cert: forge.pki.certificateToPem(cert), key: keys.pem };
  }

  /** A leaf for server and client use, with DNS and IP names. */
  issue(commonName: string, names: { dns?: string[]; ip?: string[] } = {}): Pem {
    const keys = keyPair();
    const cert = certificate(commonName, keys.forgePublic);
    cert.setIssuer(this.#cert.subject.attributes);
    const altNames = [...(names.dns ?? []).map((value) => ({ type: 2, value })), ...(names.ip ?? []).map((ip) => ({ type: 7, ip }))];
    cert.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames }] : []),
    ]);
    cert.sign(this.#key, forge.md.sha256.create());
    return { cert: forge.pki.certificateToPem(cert), key: keys.pem };
  }

  /** Writes the CA certificate; returns its path. */
  writeCa(dir: string, name = 'ca'): string {
    const file = path.join(dir, `${name}.pem`);
    fs.writeFileSync(file, this.pem.cert);
    return file;
  }
}

export function writePem(dir: string, name: string, pem: Pem): Files {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  fs.writeFileSync(cert, pem.cert);
  fs.writeFileSync(key, pem.key, { mode: 0o600 });
  return { cert, key };
}
