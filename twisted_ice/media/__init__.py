"""
Media stream handlers and the DTLS certificate whose fingerprint the ICE
service puts in mirrored answers.

A handler receives the packets of one stream (L{IStreamHandler}) and answers
through that stream (L{IMediaStream}). Two ship: L{EchoHandler} sends each
packet back, L{ForwardHandler} relays each packet to a backend UDP address and
the backend's replies back to the client.
"""

from twisted_ice.media.dtls import (
    certificate_fingerprint,
    generate_certificate,
    load_certificate,
)
from twisted_ice.media.handlers import (
    EchoHandler,
    ForwardHandler,
    ForwardPolicy,
    MediaSpec,
    parse_target,
)

__all__ = [
    "EchoHandler",
    "ForwardHandler",
    "ForwardPolicy",
    "MediaSpec",
    "certificate_fingerprint",
    "generate_certificate",
    "load_certificate",
    "parse_target",
]
