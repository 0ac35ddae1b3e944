"""The server's TLS: go-plugin's AutoMTLS when a host started the plugin
(docs/protocol.md, "TLS"), or the operator's files in server mode.

Certificates need the `cryptography` package (Debian: python3-cryptography),
imported only here and only when TLS is asked for: most plugins never need
it, and the import costs start-up time.
"""

import base64
import datetime

# The name a one-time AutoMTLS certificate is issued to, and the host checks.
AUTO_MTLS_SERVER_NAME = "localhost"
# A one-time certificate lives as long as one plugin process.
_VALID = datetime.timedelta(days=30)
# Clock skew between the host and us.
_BACKDATE = datetime.timedelta(seconds=30)


class TlsError(Exception):
    """TLS cannot be set up; the message says why, for a one-line refusal."""


def _cryptography():
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
    except ImportError as exc:
        raise TlsError(
            "TLS needs the Python package `cryptography` (Debian: apt-get install python3-cryptography): %s" % exc
        ) from None
    return x509, hashes, serialization, ec


def one_time_identity():
    """A self-signed CA certificate for "localhost" and its key, as go-plugin
    makes them: (key PEM, certificate PEM, certificate DER).

    EC P-256 rather than RSA: the key is made in about a millisecond instead
    of tens, and TLS stacks (grpc-js, go) accept it.
    """
    x509, hashes, serialization, ec = _cryptography()
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, AUTO_MTLS_SERVER_NAME)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _VALID)
        # The host trusts exactly this certificate, as a CA and as the server's.
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(AUTO_MTLS_SERVER_NAME)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM), cert.public_bytes(serialization.Encoding.DER)


def auto_mtls(grpc, client_cert_pem):
    """AutoMTLS: (server credentials, the handshake's field 6).

    The server requires a client certificate that verifies against the
    host's (PLUGIN_CLIENT_CERT); field 6 is our certificate's DER in base64
    without padding, as go-plugin writes it.
    """
    x509 = _cryptography()[0]
    client_cert = client_cert_pem.encode("utf-8") if isinstance(client_cert_pem, str) else client_cert_pem
    try:
        x509.load_pem_x509_certificate(client_cert)
    except ValueError as exc:
        raise TlsError("PLUGIN_CLIENT_CERT is not a PEM certificate: %s" % exc) from None
    key_pem, cert_pem, der = one_time_identity()
    credentials = grpc.ssl_server_credentials(
        [(key_pem, cert_pem)], root_certificates=client_cert, require_client_auth=True
    )
    return credentials, base64.b64encode(der).decode("ascii").rstrip("=")


def check_server_files(cert_pem, key_pem, client_ca_pem, names):
    """Server mode: checks the operator's PEM files before serving, so a wrong
    file is a one-line refusal naming its variable rather than a failure
    deep inside gRPC. names: {"cert"|"key"|"client_ca": "VARIABLE (path)"}.
    Without `cryptography` the files go to gRPC unchecked."""
    try:
        x509, _, serialization, _ = _cryptography()
    except TlsError:
        return
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except Exception as exc:  # ValueError, or cryptography's own (UnsupportedAlgorithm): one line either way
        raise TlsError("%s is not a PEM certificate: %s" % (names["cert"], exc)) from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except Exception as exc:  # ValueError, TypeError, UnsupportedAlgorithm: one line either way
        raise TlsError("%s is not an unencrypted PEM private key: %s" % (names["key"], exc)) from None
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
        raise TlsError("the key in %s is not the key of the certificate in %s" % (names["key"], names["cert"]))
    if client_ca_pem is not None:
        try:
            x509.load_pem_x509_certificate(client_ca_pem)
        except ValueError as exc:
            raise TlsError("%s is not a PEM certificate: %s" % (names["client_ca"], exc)) from None


def server_mode_credentials(grpc, cert_pem, key_pem, client_ca_pem):
    """TLS from the operator's files; mutual (a client certificate from
    client_ca_pem required, in the TLS handshake) when there is a client CA."""
    return grpc.ssl_server_credentials(
        [(key_pem, cert_pem)],
        root_certificates=client_ca_pem,
        require_client_auth=client_ca_pem is not None,
    )
