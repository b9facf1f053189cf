"""
The settings of the TURN core and the fixed timers of RFC 8656.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from twisted_ice.turn.channeldata import CHANNEL_MAX, RFC5766_CHANNEL_MAX

PERMISSION_LIFETIME = 300.0
"""
A permission lasts 300 s unless refreshed (RFC 8656 section 9).
"""

CHANNEL_LIFETIME = 600.0
"""
A channel binding lasts 600 s unless refreshed (RFC 8656 section 12).
"""

CHANNEL_COOLDOWN = 300.0
"""
After a channel binding expires, its number and peer cannot be bound to a
different pair for 300 s (RFC 8656 section 12).
"""

RESERVATION_LIFETIME = 30.0
"""
A port held for a RESERVATION-TOKEN stays held for 30 s (RFC 8656 section
7.2).
"""

RETRANSMISSION_WINDOW = 40.0
"""
A retransmitted request within 40 s gets the response of the first. A STUN
transaction over UDP lasts 39.5 s with the default timers of RFC 8489 section
6.2.1.
"""


@dataclass(frozen=True, slots=True)
class TurnConfig:
    """
    The settings of a L{twisted_ice.turn.TurnCore}.

    @ivar realm: The REALM of the long-term credentials.
    @ivar nonce_secret: The HMAC key of stateless nonces; random by default,
        so nonces do not survive a restart.
    @ivar nonce_lifetime: How long a nonce is valid, in seconds.
    @ivar default_lifetime: The allocation lifetime granted when the client
        asks for none or for less, in seconds (RFC 8656: 600).
    @ivar max_lifetime: The longest allocation lifetime granted, in seconds.
    @ivar max_allocations: The maximum number of allocations, or L{None}
        for no limit (486 beyond it).
    @ivar user_quota: The maximum number of allocations of one username, or
        L{None} for no limit (486 beyond it).
    @ivar max_permissions: The maximum number of permissions of one
        allocation (508 beyond it).
    @ivar max_cached_responses: The maximum number of responses kept for
        retransmitted requests. Beyond it the oldest is dropped.
    @ivar software: The SOFTWARE attribute of responses, or L{None}.
    @ivar max_channel: The highest channel number ChannelBind accepts:
        0x4FFF as RFC 8656 section 12 says, or up to 0x7FFF, the range of
        RFC 5766, for clients that still use it.
    """

    realm: str
    nonce_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    nonce_lifetime: float = 600.0
    default_lifetime: float = 600.0
    max_lifetime: float = 3600.0
    max_allocations: int | None = None
    user_quota: int | None = None
    max_permissions: int = 500
    max_cached_responses: int = 10000
    software: str | None = None
    max_channel: int = CHANNEL_MAX

    def __post_init__(self) -> None:
        if not self.realm:
            raise ValueError("the TURN realm is empty")
        if len(self.nonce_secret) < 16:
            raise ValueError("the nonce secret is shorter than 16 bytes")
        if self.nonce_lifetime <= 0:
            raise ValueError(f"nonce lifetime {self.nonce_lifetime} is not positive")
        if self.default_lifetime <= 0:
            raise ValueError(
                f"default allocation lifetime {self.default_lifetime} is not positive"
            )
        if self.max_lifetime < self.default_lifetime:
            raise ValueError(
                f"maximum allocation lifetime {self.max_lifetime} is below the "
                f"default {self.default_lifetime}"
            )
        for name in ("max_allocations", "user_quota"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} {value} is negative")
        if self.max_permissions < 1:
            raise ValueError(f"max_permissions {self.max_permissions} is below 1")
        if not CHANNEL_MAX <= self.max_channel <= RFC5766_CHANNEL_MAX:
            raise ValueError(
                f"max_channel 0x{self.max_channel:04x} is outside 0x4FFF-0x7FFF"
            )
        if self.max_cached_responses < 0:
            raise ValueError(
                f"max_cached_responses {self.max_cached_responses} is negative"
            )
