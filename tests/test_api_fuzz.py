"""
Property tests of the session API with the real ICE service behind it: any
request gets a defined response, a JSON error for every failure, never a 500.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.trial import unittest

from tests.test_api import TOKEN, parse_response
from tests.test_ice_service import OFFER
from tests.test_media import FakeUdpTransport
from twisted_ice.api import ApiSite, SessionApi
from twisted_ice.transport.ice import IceService

SDP_LINES = OFFER.strip().split("\r\n")

sdp_line = st.one_of(
    st.sampled_from(SDP_LINES),
    st.text(min_size=0, max_size=40),
    st.builds(
        lambda name, value: f"a={name}:{value}",
        st.sampled_from(
            ["ice-ufrag", "ice-pwd", "mid", "group", "candidate", "fingerprint"]
        ),
        st.text(max_size=30),
    ),
)


@st.composite
def mutated_offers(draw: st.DrawFn) -> str:
    """
    Draw the valid test offer with some lines dropped and one line added.
    """
    lines = [line for line in SDP_LINES if draw(st.integers(0, 9)) > 0]
    position = draw(st.integers(0, len(lines)))
    lines.insert(position, draw(sdp_line))
    return "\r\n".join(lines) + "\r\n"


offers = st.one_of(
    st.lists(sdp_line, max_size=20).map("\r\n".join),
    mutated_offers(),
    st.just(OFFER),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
json_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"offer": offers},
        optional={
            "answer": st.one_of(offers, json_values),
            "media": st.one_of(
                json_values,
                st.fixed_dictionaries(
                    {"mode": st.sampled_from(["echo", "forward", "x"])},
                    optional={"target": st.text(max_size=25)},
                ),
            ),
        },
    ),
)
paths = st.sampled_from(
    [b"/sessions", b"/sessions?transport=udp", b"/sessions?transport=tcp",
     b"/sessions?media=forward&target=127.0.0.1:9", b"/sessions/x", b"/", b"/a/b/c"]
)  # fmt: skip
methods = st.sampled_from([b"GET", b"POST", b"PATCH", b"DELETE", b"PUT", b"OPTIONS"])
content_types = st.sampled_from(
    [b"application/sdp", b"application/json", b"text/plain", None]
)


class FuzzReactor(Clock):
    """
    A clock whose C{listenUDP} gives C{forward} handlers a fake socket.
    """

    def listenUDP(
        self, port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192
    ) -> FakeUdpTransport:
        transport = FakeUdpTransport(interface)
        protocol.makeConnection(transport)
        return transport


class ApiFuzzTests(unittest.TestCase):
    """
    Random requests against the API and a real L{IceService}.
    """

    def setUp(self) -> None:
        self.service = IceService(
            addresses=["127.0.0.1"], udp_port=9000, reactor=FuzzReactor()
        )
        self.site = ApiSite(SessionApi(self.service, token=TOKEN), reactor=Clock())

    def send(
        self, method: bytes, path: bytes, body: bytes, content_type: bytes | None
    ) -> Any:
        """
        Send one request over an in-memory transport and parse the response.
        """
        from twisted.internet.testing import StringTransport

        lines = [method + b" " + path + b" HTTP/1.1", b"Host: localhost"]
        lines.append(b"Connection: close")
        lines.append(b"Authorization: Bearer " + TOKEN.encode())
        if content_type is not None:
            lines.append(b"Content-Type: " + content_type)
        lines.append(b"Content-Length: %d" % len(body))
        channel = self.site.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        channel.dataReceived(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        return parse_response(transport.value())

    def check_response(self, response: Any) -> None:
        """
        Assert that C{response} is a defined response: no 500, and a JSON
        error message for every error status.
        """
        self.assertIn(response.code, (200, 201, 204, 400, 404, 405, 413, 415))
        if response.code >= 400:
            self.assertIsInstance(json.loads(response.body)["error"], str)

    @settings(max_examples=150, deadline=None)
    @given(json_bodies, paths)
    def test_json_bodies_defined(self, body: Any, path: bytes) -> None:
        """
        Any JSON body posted gets a defined response.
        """
        data = json.dumps(body).encode()
        response = self.send(b"POST", path, data, b"application/json")
        self.check_response(response)

    @settings(max_examples=150, deadline=None)
    @given(offers, paths)
    def test_sdp_bodies_defined(self, offer: str, path: bytes) -> None:
        """
        Any SDP text posted gets a defined response.
        """
        response = self.send(b"POST", path, offer.encode(), b"application/sdp")
        self.check_response(response)

    @settings(max_examples=150, deadline=None)
    @given(methods, paths, st.binary(max_size=200), content_types)
    def test_any_request_defined(
        self, method: bytes, path: bytes, body: bytes, content_type: bytes | None
    ) -> None:
        """
        Any method, path, bytes and content type get a defined response.
        """
        response = self.send(method, path, body, content_type)
        self.check_response(response)
