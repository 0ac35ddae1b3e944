// The host's one-time AutoMTLS identity: made on first use (an RSA key takes
// ~80 ms) and kept for this process, as a go-plugin client keeps its own.
// Its key never leaves the host; plugins get the certificate only.
import { oneTimeIdentity, type Identity } from '../protocol/certificates.js';

let identity: Identity | undefined;

export function hostIdentity(): Identity {
  identity ??= oneTimeIdentity();
  return identity;
}
