"""
End-to-end tests of the lite ICE agent with aioice as the full, controlling
agent: a session is created through the HTTP API of the real C{twistd
mcs-ice} server on 127.0.0.1, aioice connects, and datagrams go through the
C{echo} and C{forward} handlers.

aioice gathers only 127.0.0.1 (its host address discovery is patched) and
has no STUN or TURN server, so no packet leaves loopback.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from unittest import mock

import aioice
import aioice.ice
from twisted.trial import unittest

from tests.e2e.session_api import (
    API_READY,
    SessionApiClient,
    answer_credentials,
)
from tests.e2e.support import LOOPBACK, UDP_READY, start_server

SCENARIO_TIMEOUT = 20.0
"""Seconds one aioice scenario may take, connection included."""

RECEIVE_TIMEOUT = 5.0
"""Seconds to wait for one datagram."""

T = TypeVar("T")


def loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """
    Replace aioice's host address discovery: gather on 127.0.0.1 only.
    """
    return [LOOPBACK]


def build_offer(connection: aioice.Connection) -> str:
    """
    Build an SDP offer with one data channel m-line carrying the aioice
    connection's credentials and candidates.
    """
    lines = [
        "v=0",
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "c=IN IP4 0.0.0.0",
        f"a=ice-ufrag:{connection.local_username}",
        f"a=ice-pwd:{connection.local_password}",
        "a=fingerprint:sha-256 " + ":".join(["5A"] * 32),
        "a=setup:actpass",
        "a=mid:0",
        "a=sctp-port:5000",
    ]
    for candidate in connection.local_candidates:
        lines.append(f"a=candidate:{candidate.to_sdp()}")
    lines.append("a=end-of-candidates")
    return "\r\n".join(lines) + "\r\n"


async def with_timeout(awaitable: Awaitable[T], what: str) -> T:
    """
    Await C{awaitable} for at most L{RECEIVE_TIMEOUT} seconds.

    @raise AssertionError: naming C{what} when it times out.
    """
    try:
        return await asyncio.wait_for(awaitable, RECEIVE_TIMEOUT)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def connect(
    api: SessionApiClient, media: dict[str, Any] | None = None
) -> tuple[aioice.Connection, str]:
    """
    Create a session for a new aioice connection and connect it.

    @return: the connected connection and the session id.
    """
    connection = aioice.Connection(ice_controlling=True, use_ipv6=False)
    with mock.patch.object(aioice.ice, "get_host_addresses", loopback_only):
        await connection.gather_candidates()
    hosts = {candidate.host for candidate in connection.local_candidates}
    assert hosts == {LOOPBACK}, hosts

    created = await asyncio.to_thread(api.create, build_offer(connection), media)
    ufrag, pwd, candidates = answer_credentials(created["answer"])
    connection.remote_is_lite = "a=ice-lite" in created["answer"]
    connection.remote_username = ufrag
    connection.remote_password = pwd
    for value in candidates:
        await connection.add_remote_candidate(aioice.Candidate.from_sdp(value))
    await connection.add_remote_candidate(None)
    await connection.connect()
    return connection, created["id"]


class AioiceTests(unittest.TestCase):
    """
    aioice against the real server.
    """

    def setUp(self) -> None:
        self.api = SessionApiClient()
        self.server = start_server(
            self, extra_args=self.api.server_args, ready=(UDP_READY, API_READY)
        )

    def run_scenario(self, scenario: Callable[[], Awaitable[T]]) -> T:
        """
        Run C{scenario} on a new asyncio loop, bounded in time.
        """

        async def bounded() -> T:
            return await asyncio.wait_for(scenario(), SCENARIO_TIMEOUT)

        return asyncio.run(bounded())

    def test_echo_datagrams_return(self) -> None:
        """
        Datagrams sent through the C{echo} handler come back intact, and the
        session shows the stream completed on aioice's 5-tuple with the
        packets counted.
        """
        packets = [b"\x80" + bytes([i]) * (10 + i) for i in range(5)]

        async def scenario() -> tuple[list[bytes], Any, tuple[str, int]]:
            connection, session_id = await connect(self.api, {"mode": "echo"})
            try:
                received = []
                for packet in packets:
                    await connection.send(packet)
                    received.append(await with_timeout(connection.recv(), "echo"))
                state = await asyncio.to_thread(self.api.get, session_id)
                local = connection._nominated[1].local_candidate
                return received, state, (local.host, local.port)
            finally:
                await connection.close()

        received, state, local = self.run_scenario(scenario)
        self.assertEqual(received, packets)
        stream = state["streams"][0]
        self.assertEqual(state["state"], "completed")
        self.assertEqual(stream["state"], "completed")
        self.assertEqual(
            stream["selected"],
            {"transport": "udp", "address": local[0], "port": local[1]},
        )
        self.assertEqual(stream["packets_received"], len(packets))
        self.assertEqual(stream["packets_sent"], len(packets))
        self.assertEqual(stream["bytes_received"], sum(map(len, packets)))

    def test_forward_reaches_backend(self) -> None:
        """
        The C{forward} handler delivers datagrams to a UDP socket the test
        owns, and that socket's replies come back to aioice.
        """
        backend = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(backend.close)
        backend.bind((LOOPBACK, 0))
        backend.setblocking(False)
        target = f"{LOOPBACK}:{backend.getsockname()[1]}"

        async def scenario() -> tuple[bytes, bytes]:
            loop = asyncio.get_running_loop()
            media = {"mode": "forward", "target": target}
            connection, session_id = await connect(self.api, media)
            try:
                await connection.send(b"\x80to-backend")
                data, source = await with_timeout(
                    loop.sock_recvfrom(backend, 65535), "the backend"
                )
                await loop.sock_sendto(backend, b"\x80to-client", source)
                reply = await with_timeout(connection.recv(), "the reply")
                self.assertEqual(
                    await asyncio.to_thread(self.api.delete, session_id), 204
                )
                return data, reply
            finally:
                await connection.close()

        at_backend, at_client = self.run_scenario(scenario)
        self.assertEqual(at_backend, b"\x80to-backend")
        self.assertEqual(at_client, b"\x80to-client")
