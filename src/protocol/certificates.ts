// One-time certificates for go-plugin's AutoMTLS (docs/protocol.md, "TLS"):
// the host makes one for itself (PLUGIN_CLIENT_CERT), a plugin one for its
// server (its DER goes in the handshake). Each side trusts exactly the other's
// certificate, so both are self-signed CAs issued to "localhost", as
// go-plugin's are. node-forge writes the certificate (Node can parse X.509
// but not issue it); Node's crypto makes the key.
import crypto from 'node:crypto';

import forge from 'node-forge';

import { AUTO_MTLS_SERVER_NAME } from './handshake.js';

export interface Identity {
  /** PEM certificate. */
  readonly cert: string;
  /** PEM private key (PKCS#8). Never leaves the process that made it. */
  readonly key: string;
  /** The certificate's DER (what goes, base64, into a handshake line). */
  readonly der: Uint8Array;
}

/**
 * How long a one-time certificate is valid: as long as the process that made
 * it may live (a host keeps its identity for its whole life), so 30 years, as
 * go-plugin's. It is trusted by exactly one peer, never by a CA store.
 */
const VALID_MS = 30 * 365 * 24 * 3600 * 1000;

export function oneTimeIdentity(): Identity {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  // An even number of hex digits led by 01: a positive INTEGER in minimal DER (an odd count is padded
  // with a 00 byte, which strict parsers refuse as illegal padding when the next byte is below 0x80).
  cert.serialNumber = `01${crypto.randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 30_000);
  cert.validity.notAfter = new Date(Date.now() + VALID_MS);
  const name = [{ name: 'commonName', value: AUTO_MTLS_SERVER_NAME }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: AUTO_MTLS_SERVER_NAME }] },
  ]);
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  const pem = forge.pki.certificateToPem(cert);
  return { cert: pem, key: keyPem, der: new crypto.X509Certificate(pem).raw };
}

/** A handshake's field 6 (base64 DER, padding optional) as a PEM certificate; throws on anything else. */
export function certificateFromHandshake(field: string): string {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(field)) throw new Error('not base64');
  const x509 = new crypto.X509Certificate(Buffer.from(field, 'base64'));
  return x509.toString();
}
