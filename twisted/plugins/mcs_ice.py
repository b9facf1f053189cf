"""
The C{mcs-ice} twistd plugin: a lite ICE agent, STUN and TURN server.
"""

from twisted.application.service import ServiceMaker

mcs_ice = ServiceMaker(
    "mcs-ice",
    "twisted_ice.tap",
    "Lite ICE agent, STUN and TURN server for WebRTC media servers.",
    "mcs-ice",
)
