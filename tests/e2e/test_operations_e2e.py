"""
End-to-end tests of the operations layer against the real C{twistd mcs-ice}
process: a config file, C{/metrics}, C{/health}, reload on SIGHUP and drain
on SIGTERM, with a TURN allocation and an ICE session live throughout.

The TURN client is written here with L{twisted_ice.stun} over a blocking
UDP socket, so each step is one request and one checked answer.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from typing import Any

from twisted.trial import unittest

from tests.e2e.session_api import API_READY, SessionApiClient, answer_credentials
from tests.e2e.support import (
    LOOPBACK,
    UDP_READY,
    ServerProcess,
    UdpClient,
    free_tcp_port,
    start_server,
)
from twisted_ice.stun import (
    AttributeType,
    MessageClass,
    Method,
    StunMessage,
    decode,
    long_term_key,
)

WAIT = 15.0
"""Seconds a test waits for a log line, a state or an exit."""

METRICS_READY = "mcs-ice metrics listening on TCP"

SIGNALS_READY = "mcs-ice started; SIGHUP reloads"
"""The log line written once the signal handlers are installed."""

OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "c=IN IP4 0.0.0.0",
        "a=ice-ufrag:clientufrag",
        "a=ice-pwd:clientpasswordclientpassword",
        "a=fingerprint:sha-256 " + ":".join(["5A"] * 32),
        "a=setup:actpass",
        "a=mid:0",
        "a=sctp-port:5000",
        "",
    ]
)


def wait_for(condition: Any, what: str, timeout: float = WAIT) -> Any:
    """
    Poll C{condition} until it returns a true value, and return it.

    @raise unittest.FailTest: naming C{what} when C{timeout} seconds pass.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise unittest.FailTest(f"timed out waiting for {what}")
        time.sleep(0.1)


def http_get(port: int, path: str) -> tuple[int, bytes]:
    """
    Return the status and body of C{GET path} on loopback C{port}, without
    a token.
    """
    url = f"http://{LOOPBACK}:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def metric_value(port: int, line_start: str) -> float | None:
    """
    Return the value of the first C{/metrics} sample line starting with
    C{line_start}, or L{None}.
    """
    _, body = http_get(port, "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return None


class TurnClient:
    """
    A TURN client with long-term credentials over one UDP socket.

    @ivar relayed: the relayed address, after L{allocate}.
    """

    def __init__(
        self, testcase: unittest.TestCase, server: ServerProcess, user: str, pw: str
    ) -> None:
        self.udp = UdpClient(testcase)
        self.server = server
        self.user = user
        self.password = pw
        self.realm = ""
        self.nonce = ""
        self.relayed: tuple[str, int] | None = None

    def exchange(self, message: StunMessage, signed: bool = True) -> StunMessage:
        """
        Send C{message} and return the response with its transaction id.

        @raise unittest.FailTest: when none arrives.
        """
        if signed:
            message.add(AttributeType.USERNAME, self.user)
            message.add(AttributeType.REALM, self.realm)
            message.add(AttributeType.NONCE, self.nonce)
            key = long_term_key(self.user, self.realm, self.password)
            data = message.encode(integrity_key=key, fingerprint=True)
        else:
            data = message.encode(fingerprint=True)
        self.udp.send(data, self.server.udp_address)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            reply = self.udp.receive(timeout=2.0)
            if reply is None:
                continue
            if reply[0] >= 4:
                continue
            response = decode(reply)
            if response.transaction_id == message.transaction_id:
                return response
        raise unittest.FailTest(f"no response to {message.method!r}")

    def first_allocate(self) -> StunMessage:
        """
        Send an Allocate without credentials and return the response.
        """
        request = StunMessage.request(
            Method.ALLOCATE, [(AttributeType.REQUESTED_TRANSPORT, 17)]
        )
        return self.exchange(request, signed=False)

    def allocate(self) -> tuple[str, int]:
        """
        Allocate a relay: the 401 challenge, then the signed request.
        """
        challenge = self.first_allocate()
        error = challenge.get(AttributeType.ERROR_CODE)
        assert error is not None and error.code == 401, error
        self.realm = challenge.get(AttributeType.REALM)
        self.nonce = challenge.get(AttributeType.NONCE)
        request = StunMessage.request(
            Method.ALLOCATE, [(AttributeType.REQUESTED_TRANSPORT, 17)]
        )
        response = self.exchange(request)
        assert response.message_class is MessageClass.SUCCESS_RESPONSE, response.get(
            AttributeType.ERROR_CODE
        )
        self.relayed = response.get(AttributeType.XOR_RELAYED_ADDRESS)
        assert self.relayed is not None
        return self.relayed

    def permit(self, peer: tuple[str, int]) -> StunMessage:
        """
        Install a permission for C{peer}; return the response.
        """
        request = StunMessage.request(
            Method.CREATE_PERMISSION, [(AttributeType.XOR_PEER_ADDRESS, peer)]
        )
        return self.exchange(request)

    def send_to(self, peer: tuple[str, int], data: bytes) -> None:
        """
        Send C{data} to C{peer} in a Send indication.
        """
        indication = StunMessage.indication(
            Method.SEND,
            [(AttributeType.XOR_PEER_ADDRESS, peer), (AttributeType.DATA, data)],
        )
        self.udp.send(indication.encode(fingerprint=True), self.server.udp_address)


def check_relays(
    testcase: unittest.TestCase, client: TurnClient, peer: UdpClient, data: bytes
) -> None:
    """
    Check that C{client}'s allocation carries C{data} to C{peer} and back.
    """
    client.send_to(peer.address, data)
    received = peer.receive(timeout=5.0)
    testcase.assertEqual(received, data)
    assert client.relayed is not None
    peer.send(data[::-1], client.relayed)
    reply = client.udp.receive(timeout=5.0)
    testcase.assertIsNotNone(reply)
    assert reply is not None
    testcase.assertEqual(decode(reply).get(AttributeType.DATA), data[::-1])


def ice_check(
    testcase: unittest.TestCase, server: ServerProcess, answer: str
) -> StunMessage:
    """
    Send one nominating connectivity check for the session of C{answer} and
    return the response.
    """
    ufrag, pwd, _ = answer_credentials(answer)
    request = StunMessage.request(
        Method.BINDING,
        [
            (AttributeType.USERNAME, f"{ufrag}:clientufrag"),
            (AttributeType.PRIORITY, 0x6E0001FF),
            (AttributeType.ICE_CONTROLLING, 1),
            (AttributeType.USE_CANDIDATE, True),
        ],
    )
    client = UdpClient(testcase)
    reply = client.exchange(
        request.encode(integrity_key=pwd.encode(), fingerprint=True),
        server.udp_address,
        timeout=5.0,
    )
    testcase.assertIsNotNone(reply)
    assert reply is not None
    return decode(reply)


class OperationsTestCase(unittest.TestCase):
    """
    Starts a TURN-enabled server with the API and metrics on free ports.
    """

    def start(self, *extra: str, config: str | None = None) -> ServerProcess:
        """
        Start the server with C{extra} options (and C{--config config}).
        """
        self.api = SessionApiClient()
        self.metrics_port = free_tcp_port()
        args = [
            *self.api.server_args,
            "--metrics",
            f"tcp:{self.metrics_port}:interface={LOOPBACK}",
            "--allow-peer",
            "127.0.0.1/32",
            *extra,
        ]
        if config is not None:
            args += ["--config", config]
        self.server = start_server(
            self,
            extra_args=args,
            ready=(UDP_READY, API_READY, METRICS_READY, SIGNALS_READY),
        )
        return self.server

    def wait_for_log(self, text: str) -> None:
        """
        Wait until the server's log contains C{text}.
        """
        wait_for(lambda: text in self.server.log_text(), repr(text))

    def health(self) -> tuple[int, Any]:
        """
        Return the status and JSON body of C{/health}.
        """
        status, body = http_get(self.api.port, "/health")
        return status, json.loads(body)


class HealthAndMetricsTests(OperationsTestCase):
    """
    C{/health} and C{/metrics} on a running server.
    """

    def test_health_ok_without_token(self) -> None:
        """
        C{/health} responds 200 C{{"status": "ok"}} without a bearer token.
        """
        self.start("--user", "alice:pw")
        status, body = self.health()
        self.assertEqual(status, 200)
        self.assertEqual(body, {"status": "ok"})

    def test_metrics_count_allocation(self) -> None:
        """
        C{/metrics} counts a live allocation and the 401 challenge sent.
        """
        server = self.start("--user", "alice:pw")
        TurnClient(self, server, "alice", "pw").allocate()
        active = metric_value(
            self.metrics_port, 'twisted_ice_allocations{state="active"}'
        )
        self.assertEqual(active, 1.0)
        challenges = metric_value(
            self.metrics_port,
            'twisted_ice_stun_errors_sent_total{code="401",service="turn"}',
        )
        self.assertEqual(challenges, 1.0)

    def test_metrics_count_packets(self) -> None:
        """
        C{/metrics} counts UDP packets received.
        """
        server = self.start("--user", "alice:pw")
        TurnClient(self, server, "alice", "pw").allocate()
        received = metric_value(
            self.metrics_port,
            'twisted_ice_packets_total{direction="received",transport="udp"}',
        )
        self.assertEqual(received, 2.0)


class ReloadTests(OperationsTestCase):
    """
    SIGHUP rereads the config file and the users file, with live work kept.
    """

    def test_sighup_keeps_live_and_applies_new(self) -> None:
        """
        After SIGHUP the live allocation still relays, the live session
        still answers checks, a user added to the users file can allocate
        and a new REST secret is accepted.
        """
        users = os.path.abspath(self.mktemp())
        with open(users, "w") as file:
            file.write("alice:pw\n")
        config = os.path.abspath(self.mktemp()) + ".toml"
        with open(config, "w") as file:
            file.write(f'users = "{users}"\nauth-secret = ["old"]\n')
        server = self.start(config=config)

        alice = TurnClient(self, server, "alice", "pw")
        alice.allocate()
        peer = UdpClient(self)
        alice.permit(peer.address)
        check_relays(self, alice, peer, b"before reload")
        session = self.api.create(OFFER)
        first = ice_check(self, server, session["answer"])
        self.assertIs(first.message_class, MessageClass.SUCCESS_RESPONSE)

        with open(users, "w") as file:
            file.write("alice:pw\nbob:pw2\n")
        with open(config, "w") as file:
            file.write(f'users = "{users}"\nauth-secret = ["new"]\n')
        os.kill(server.pid, signal.SIGHUP)
        self.wait_for_log("Reloaded the settings")

        check_relays(self, alice, peer, b"after reload")
        again = ice_check(self, server, session["answer"])
        self.assertIs(again.message_class, MessageClass.SUCCESS_RESPONSE)
        self.assertEqual(self.api.get(session["id"])["state"], "completed")
        TurnClient(self, server, "bob", "pw2").allocate()

        from twisted_ice.credentials import rest_password

        username = f"{int(time.time()) + 600}:carol"
        carol = TurnClient(self, server, username, rest_password(b"new", username))
        carol.allocate()
        self.assertIn("changed: auth-secret", server.log_text())

    def test_bad_config_keeps_old(self) -> None:
        """
        A reload of an invalid config file is logged and changes nothing.
        """
        config = os.path.abspath(self.mktemp()) + ".toml"
        with open(config, "w") as file:
            file.write('user = ["alice:pw"]\n')
        server = self.start(config=config)
        with open(config, "w") as file:
            file.write('user = ["alice:pw"]\ncolour = "blue"\n')
        os.kill(server.pid, signal.SIGHUP)
        self.wait_for_log("Reload failed")
        TurnClient(self, server, "alice", "pw").allocate()


class DrainTests(OperationsTestCase):
    """
    SIGTERM drains: new work is refused while live work goes on.
    """

    def draining(self) -> bool:
        """
        Return whether C{/health} reports draining.
        """
        return self.health()[0] == 503

    def test_sigterm_drains_then_exits(self) -> None:
        """
        While draining, C{/health} and new sessions get 503, a new
        allocation gets 486, the live allocation still relays; the server
        exits once the drain timeout passes.
        """
        server = self.start("--user", "alice:pw", "--drain-timeout", "5")
        alice = TurnClient(self, server, "alice", "pw")
        alice.allocate()
        peer = UdpClient(self)
        alice.permit(peer.address)
        session = self.api.create(OFFER)

        os.kill(server.pid, signal.SIGTERM)
        wait_for(self.draining, "/health to say draining")

        self.assertEqual(self.health()[1], {"status": "draining"})
        reply = self.api.request(
            "POST",
            "/sessions",
            json.dumps({"offer": OFFER}).encode(),
            "application/json",
        )
        self.assertEqual(reply.status, 503)
        self.assertIn("draining", reply.json()["error"])
        refused = TurnClient(self, server, "alice", "pw").first_allocate()
        self.assertEqual(refused.get(AttributeType.ERROR_CODE).code, 486)
        check_relays(self, alice, peer, b"while draining")
        self.assertEqual(self.api.get(session["id"])["id"], session["id"])

        assert server.process is not None
        server.process.wait(timeout=WAIT + 5)
        self.assertEqual(server.process.returncode, 0)
        self.assertIn("Drain ended (timeout)", server.log_text())

    def test_alternate_server_redirect(self) -> None:
        """
        With C{--alternate-server}, a new allocation while draining gets 300
        with that ALTERNATE-SERVER.
        """
        server = self.start(
            "--user",
            "alice:pw",
            "--drain-timeout",
            "60",
            "--alternate-server",
            "127.0.0.1:3479",
        )
        TurnClient(self, server, "alice", "pw").allocate()
        os.kill(server.pid, signal.SIGTERM)
        wait_for(self.draining, "/health to say draining")
        refused = TurnClient(self, server, "alice", "pw").first_allocate()
        self.assertEqual(refused.get(AttributeType.ERROR_CODE).code, 300)
        self.assertEqual(
            refused.get(AttributeType.ALTERNATE_SERVER), ("127.0.0.1", 3479)
        )

    def test_second_sigterm_exits_at_once(self) -> None:
        """
        A second SIGTERM ends a long drain: the server exits without waiting
        for its live allocation.
        """
        server = self.start("--user", "alice:pw", "--drain-timeout", "600")
        TurnClient(self, server, "alice", "pw").allocate()
        os.kill(server.pid, signal.SIGTERM)
        wait_for(self.draining, "/health to say draining")
        os.kill(server.pid, signal.SIGTERM)
        assert server.process is not None
        server.process.wait(timeout=WAIT)
        self.assertIn("Drain ended (forced)", server.log_text())

    def test_idle_server_exits_at_once(self) -> None:
        """
        With nothing live, SIGTERM ends the drain at once.
        """
        server = self.start("--user", "alice:pw", "--drain-timeout", "600")
        os.kill(server.pid, signal.SIGTERM)
        assert server.process is not None
        server.process.wait(timeout=WAIT)
        self.assertIn("Drain ended (idle)", server.log_text())
