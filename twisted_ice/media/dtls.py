"""
The DTLS certificate named in mirrored SDP answers.

This server does not terminate DTLS: a mirrored answer carries the
fingerprint of a certificate so that the answer is complete. Give the
certificate of the application that does terminate DTLS with C{--dtls-cert};
without it, a self-signed certificate is generated at startup and its key is
discarded, so a client's DTLS handshake cannot complete against it.
"""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def generate_certificate(now: datetime.datetime | None = None) -> x509.Certificate:
    """
    Generate a self-signed ECDSA P-256 certificate valid for 30 days.

    @param now: The start of the validity period; the current UTC time when
        L{None}.
    """
    if now is None:
        now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "twisted-ice")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
    )
    return builder.sign(key, hashes.SHA256())


def load_certificate(path: str) -> x509.Certificate:
    """
    Read the first PEM certificate in the file at C{path}.

    @raise ValueError: The file contains no PEM certificate.
    @raise OSError: The file cannot be read.
    """
    with open(path, "rb") as file:
        data = file.read()
    return x509.load_pem_x509_certificate(data)


def certificate_fingerprint(certificate: x509.Certificate) -> str:
    """
    Return the SHA-256 fingerprint of C{certificate} as SDP writes it
    (RFC 8122): uppercase hexadecimal byte pairs separated by colons, without
    the C{sha-256} prefix.
    """
    digest = certificate.fingerprint(hashes.SHA256())
    return ":".join(f"{byte:02X}" for byte in digest)
