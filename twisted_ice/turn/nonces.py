"""
Stateless NONCE values for the long-term credential mechanism (RFC 8489
section 9.2): the server stores nothing per nonce, so an unauthenticated
request creates no state.

A nonce is C{<expiry as hex seconds>.<MAC>}, where MAC is the first 16 bytes
of HMAC-SHA256(server secret, expiry, transport, client address), base64url
without padding. It is valid until its expiry, and only from the client
transport address it was issued to.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math

from twisted_ice.addresses import Path

_MAC_LENGTH = 16
_MAX_EXPIRY_DIGITS = 16


class NonceIssuer:
    """
    Issues and checks stateless nonces bound to a client transport address.
    """

    def __init__(self, secret: bytes, lifetime: float) -> None:
        """
        @param secret: The HMAC key, secret to this server.
        @param lifetime: How long a nonce stays valid, in seconds.
        """
        self._secret = secret
        self._lifetime = lifetime

    def _mac(self, expiry: str, path: Path) -> str:
        host, port = path.remote
        message = f"{expiry}|{path.transport.value}|{host}|{port}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:_MAC_LENGTH]).rstrip(b"=").decode()

    def issue(self, path: Path, now: float) -> str:
        """
        Return a fresh nonce for the client of C{path}, valid for the
        configured lifetime from C{now}.
        """
        expiry = f"{math.ceil(now + self._lifetime):x}"
        return f"{expiry}.{self._mac(expiry, path)}"

    def is_valid(self, nonce: str, path: Path, now: float) -> bool:
        """
        Return whether C{nonce} was issued by this server to the client of
        C{path} and has not expired at C{now}.
        """
        expiry, separator, mac = nonce.partition(".")
        if not separator or not 0 < len(expiry) <= _MAX_EXPIRY_DIGITS:
            return False
        try:
            expires = int(expiry, 16)
        except ValueError:
            return False
        if expires <= now:
            return False
        expected = self._mac(expiry, path)
        return hmac.compare_digest(expected.encode(), mac.encode())
