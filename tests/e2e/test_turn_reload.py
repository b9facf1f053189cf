"""
End-to-end test of the TURN users file: the real C{twistd mcs-ice} server
on 127.0.0.1 rereads C{--users} on SIGHUP, and keeps the users it has when
the file has become invalid.
"""

from __future__ import annotations

import os
import signal
import time

from twisted.trial import unittest

from tests.e2e.support import (
    LOOPBACK,
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

REALM = "twisted-ice"
UDP_TRANSPORT = 17
RELOAD_TIMEOUT = 10.0
"""Seconds the server has to log a reload after SIGHUP."""


def allocate(
    testcase: unittest.TestCase, server: ServerProcess, user: str, password: str
) -> StunMessage:
    """
    Run the two Allocate requests of a new client (the 401 challenge, then
    the signed request) and return the second response.
    """
    client = UdpClient(testcase)
    transport = [(AttributeType.REQUESTED_TRANSPORT, UDP_TRANSPORT)]
    first = StunMessage.request(Method.ALLOCATE, transport)
    reply = client.exchange(first.encode(), server.udp_address)
    assert reply is not None, "no answer to the first Allocate"
    nonce = decode(reply).get(AttributeType.NONCE)
    assert isinstance(nonce, str), decode(reply)

    signed = StunMessage.request(
        Method.ALLOCATE,
        [
            *transport,
            (AttributeType.USERNAME, user),
            (AttributeType.REALM, REALM),
            (AttributeType.NONCE, nonce),
        ],
    )
    key = long_term_key(user, REALM, password)
    reply = client.exchange(signed.encode(integrity_key=key), server.udp_address)
    assert reply is not None, "no answer to the signed Allocate"
    return decode(reply)


def error_code(message: StunMessage) -> int | None:
    """
    Return the ERROR-CODE number of C{message}, or L{None}.
    """
    error = message.get(AttributeType.ERROR_CODE)
    return None if error is None else int(error.code)  # type: ignore[attr-defined]


class UsersFileReloadTests(unittest.TestCase):
    """
    SIGHUP and the C{--users} file of the real server.
    """

    def setUp(self) -> None:
        self.path = os.path.abspath(self.mktemp())
        self.write("alice:first\n")
        self.server = start_server(
            self,
            extra_args=[
                "--api",
                f"tcp:{free_tcp_port()}:interface={LOOPBACK}",
                "--users",
                self.path,
            ],
        )

    def write(self, text: str) -> None:
        """
        Replace the contents of the users file.
        """
        with open(self.path, "w") as f:
            f.write(text)

    def reload(self, expected: str) -> None:
        """
        Send SIGHUP to the server by its PID and wait until its log contains
        C{expected} once more than before.
        """
        count = self.server.log_text().count(expected)
        os.kill(self.server.pid, signal.SIGHUP)
        deadline = time.monotonic() + RELOAD_TIMEOUT
        while self.server.log_text().count(expected) <= count:
            if time.monotonic() > deadline:
                self.fail(f"no {expected!r} in the log:\n{self.server.log_text()}")
            time.sleep(0.05)

    def test_reload_replaces_users(self) -> None:
        """
        After the file names another user and SIGHUP, the new user can
        allocate and the removed one gets 401.
        """
        first = allocate(self, self.server, "alice", "first")
        self.assertEqual(first.message_class, MessageClass.SUCCESS_RESPONSE)

        self.write("# replaced\nbob:second\n")
        self.reload("Reloaded 1 TURN users")
        added = allocate(self, self.server, "bob", "second")
        removed = allocate(self, self.server, "alice", "first")
        self.assertEqual(added.message_class, MessageClass.SUCCESS_RESPONSE)
        self.assertEqual(error_code(removed), 401)

    def test_bad_file_keeps_users(self) -> None:
        """
        After the file becomes invalid and SIGHUP, the error is logged and
        the users loaded before still allocate.
        """
        self.write("alice:first\nno colon on this line\n")
        self.reload("line 2: expected NAME:PASSWORD")
        kept = allocate(self, self.server, "alice", "first")
        self.assertEqual(kept.message_class, MessageClass.SUCCESS_RESPONSE)
        self.assertIsNone(self.server.process and self.server.process.poll())
