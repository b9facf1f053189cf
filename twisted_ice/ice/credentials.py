"""
ICE usernames and passwords: generation and the RFC 8839 syntax check.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import secrets

UFRAG_BYTES = 12
"""
Random bytes in a local ufrag: 96 bits, 16 ice-chars after base64.
"""

PWD_BYTES = 24
"""
Random bytes in a local password: 192 bits, 32 ice-chars after base64.
"""

_UFRAG = re.compile(r"[A-Za-z0-9+/]{4,256}")
_PWD = re.compile(r"[A-Za-z0-9+/]{22,256}")


def random_ice_chars(size: int) -> str:
    """
    Return C{size} random bytes from L{secrets} as ice-chars.

    Base64 without padding uses exactly the ice-char alphabet (RFC 8839
    section 5.4: ALPHA, DIGIT, C{+} and C{/}); C{size} must be a multiple of
    3 so that no padding appears.
    """
    return base64.b64encode(secrets.token_bytes(size)).decode("ascii")


def is_valid_ufrag(ufrag: str) -> bool:
    """
    Return whether C{ufrag} is 4 to 256 ice-chars (RFC 8839 section 5.4).
    """
    return _UFRAG.fullmatch(ufrag) is not None


def is_valid_pwd(pwd: str) -> bool:
    """
    Return whether C{pwd} is 22 to 256 ice-chars (RFC 8839 section 5.4).
    """
    return _PWD.fullmatch(pwd) is not None


@dataclasses.dataclass(frozen=True, slots=True)
class Credentials:
    """
    One generation of a stream's ICE credentials.

    @ivar local_key: The MESSAGE-INTEGRITY key of checks sent to us: the
        short-term credential is the password after OpaqueString (RFC 8489
        section 9.1.1), which leaves ice-chars as they are, so it is the
        password's ASCII bytes.
    """

    local_ufrag: str
    local_pwd: str
    remote_ufrag: str
    remote_pwd: str
    local_key: bytes

    @classmethod
    def generate(cls, remote_ufrag: str, remote_pwd: str) -> Credentials:
        """
        Create fresh random local credentials for the offer's C{remote_ufrag}
        and C{remote_pwd}.
        """
        pwd = random_ice_chars(PWD_BYTES)
        return cls(
            random_ice_chars(UFRAG_BYTES),
            pwd,
            remote_ufrag,
            remote_pwd,
            pwd.encode("ascii"),
        )
