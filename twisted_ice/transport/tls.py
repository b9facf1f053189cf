"""
The TLS server context of the TCP/TLS mux: a PEM certificate chain and key,
TLS 1.2 and newer, and ALPN C{stun.turn} (RFC 7443) when the client offers
it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL, crypto
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator
from twisted.internet.ssl import CertificateOptions, TLSVersion
from zope.interface import implementer

ALPN_STUN_TURN = b"stun.turn"
"""The ALPN protocol id of TURN and STUN over TLS (RFC 7443 section 3)."""


class TlsConfigError(Exception):
    """
    The certificate or key file is missing, unreadable, invalid, or the key
    does not match the certificate. The message names the file and the
    reason.
    """


def select_alpn(connection: SSL.Connection, offered: Sequence[bytes]) -> object:
    """
    Select C{stun.turn} when the client offers it. Otherwise the server
    sends no ALPN extension and the handshake goes on, because clients need
    not offer ALPN (RFC 7443 section 3).
    """
    if ALPN_STUN_TURN in offered:
        return ALPN_STUN_TURN
    return SSL.NO_OVERLAPPING_PROTOCOLS


@implementer(IOpenSSLServerConnectionCreator)
class ServerTlsContext:
    """
    Creates the server side of each TLS connection from one
    L{SSL.Context}, for L{twisted.protocols.tls.TLSMemoryBIOFactory}.

    @ivar context: the OpenSSL context every connection shares.
    """

    def __init__(self, context: SSL.Context) -> None:
        """
        @param context: the configured OpenSSL context.
        """
        self.context = context

    def serverConnectionForTLS(self, tlsProtocol: object) -> SSL.Connection:  # noqa: N803
        """
        Create the OpenSSL connection of one TLS server connection.
        """
        return SSL.Connection(self.context, None)


def _read(option: str, path: str) -> bytes:
    """
    Read a PEM file named by C{option}.

    @raise TlsConfigError: naming the option and file when it cannot be read.
    """
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise TlsConfigError(
            f"cannot read {option} {path}: {error.strerror or error}"
        ) from None


def load_server_context(certificate_path: str, key_path: str) -> ServerTlsContext:
    """
    Load a PEM certificate chain (the server certificate first) and its PEM
    private key (unencrypted) into a TLS 1.2+ server context.

    @raise TlsConfigError: when a file cannot be read or parsed, or the key
        does not match the certificate.
    """
    certificate_data = _read("--tls-cert", certificate_path)
    key_data = _read("--tls-key", key_path)

    try:
        chain = x509.load_pem_x509_certificates(certificate_data)
    except ValueError as error:
        raise TlsConfigError(
            f"invalid --tls-cert {certificate_path}: not a PEM certificate ({error})"
        ) from None
    try:
        key = serialization.load_pem_private_key(key_data, password=None)
    except (ValueError, TypeError) as error:
        raise TlsConfigError(
            f"invalid --tls-key {key_path}: not an unencrypted PEM private key"
            f" ({error})"
        ) from None

    try:
        options = CertificateOptions(
            privateKey=crypto.PKey.from_cryptography_key(key),  # type: ignore[arg-type]
            certificate=crypto.X509.from_cryptography(chain[0]),
            extraCertChain=[crypto.X509.from_cryptography(c) for c in chain[1:]],
            raiseMinimumTo=TLSVersion.TLSv1_2,
        )
        context = options.getContext()
    except (SSL.Error, TypeError, ValueError) as error:
        raise TlsConfigError(
            f"invalid --tls-key {key_path}: it does not match --tls-cert"
            f" {certificate_path} or is not supported ({error})"
        ) from None
    context.set_alpn_select_callback(select_alpn)  # type: ignore[arg-type]
    return ServerTlsContext(context)
