"""
twisted-ice: the server side of WebRTC connectivity on Twisted.

A lite ICE agent, a STUN server and a TURN server sharing one UDP port, with a
TCP and TLS fallback port. The protocol cores (L{twisted_ice.stun},
L{twisted_ice.ice}, L{twisted_ice.turn}) are sans-I/O; L{twisted_ice.transport}
adapts them to Twisted.
"""

__version__ = "0.1.0"
