"""
Tests for L{twisted_ice.api.ApiService}: listening on the API endpoint.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.internet.address import IPv4Address
from twisted.internet.error import CannotListenError
from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs
from twisted.trial import unittest

from tests.test_api import FakeManager
from twisted_ice.api import ApiService, ApiSite, SessionApi


class FakePort:
    """
    A listening port that records whether it stopped.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.stopped = False

    def getHost(self) -> IPv4Address:
        return IPv4Address("TCP", self.host, 8090)

    def stopListening(self) -> defer.Deferred[None]:
        self.stopped = True
        return defer.succeed(None)


class FakeEndpoint:
    """
    A server endpoint that succeeds with a L{FakePort}, fails at once, or
    fires later.
    """

    def __init__(self, result: Any) -> None:
        self.result = result
        self.factories: list[Any] = []

    def listen(self, factory: Any) -> defer.Deferred[Any]:
        self.factories.append(factory)
        if isinstance(self.result, defer.Deferred):
            return self.result
        if isinstance(self.result, Exception):
            return defer.fail(self.result)
        return defer.succeed(self.result)


def make_service(endpoint: FakeEndpoint, token: str | None = None) -> ApiService:
    """
    Build an API service on C{endpoint} with a fake manager.
    """
    site = ApiSite(SessionApi(FakeManager(), token=token), reactor=Clock())
    return ApiService(endpoint, site, "tcp:8090:interface=127.0.0.1")  # type: ignore[arg-type]


class ApiServiceTests(unittest.TestCase):
    """
    L{ApiService}.
    """

    def test_listens_with_site(self) -> None:
        """
        Starting listens on the endpoint with the site and keeps the port.
        """
        port = FakePort()
        endpoint = FakeEndpoint(port)
        service = make_service(endpoint)
        service.startService()
        self.assertEqual(endpoint.factories, [service.site])
        self.assertIs(service.port, port)

    def test_stop_stops_listening(self) -> None:
        """
        Stopping stops the port.
        """
        port = FakePort()
        service = make_service(FakeEndpoint(port))
        service.startService()
        service.stopService()
        self.assertTrue(port.stopped)
        self.assertIsNone(service.port)

    def test_immediate_failure_exits(self) -> None:
        """
        A port in use ends startup with one line naming the endpoint.
        """
        error = CannotListenError("127.0.0.1", 8090, OSError(98, "in use"))
        service = make_service(FakeEndpoint(error))
        with self.assertRaises(SystemExit) as caught:
            service.startService()
        self.assertIn(
            "cannot listen for the session API on tcp:8090:interface=127.0.0.1",
            str(caught.exception),
        )

    def test_later_failure_logged(self) -> None:
        """
        A failure after startup is logged, not raised.
        """
        later: defer.Deferred[Any] = defer.Deferred()
        service = make_service(FakeEndpoint(later))
        service.startService()
        later.errback(CannotListenError("127.0.0.1", 8090, OSError(98, "in use")))
        self.assertEqual(len(self.flushLoggedErrors(CannotListenError)), 1)
        self.assertIsNone(service.port)

    def test_stop_before_listening(self) -> None:
        """
        Stopping before the port exists does nothing.
        """
        service = make_service(FakeEndpoint(defer.Deferred()))
        service.startService()
        self.assertIsNone(service.stopService())


class NoTokenWarningTests(unittest.TestCase):
    """
    The warning for an API without token beyond loopback.
    """

    def start(self, host: str, token: str | None) -> list[dict[str, Any]]:
        """
        Start a service whose port is on C{host} and return the warnings.
        """
        service = make_service(FakeEndpoint(FakePort(host)), token)
        with capturedLogs() as events:
            service.startService()
        return [e for e in events if e["log_level"] == LogLevel.warn]

    def test_public_without_token_warns(self) -> None:
        """
        Listening beyond loopback without a token logs a warning.
        """
        warnings = self.start("0.0.0.0", None)
        self.assertEqual(len(warnings), 1)
        self.assertIn("no --api-token", warnings[0]["log_format"])

    def test_loopback_without_token_quiet(self) -> None:
        """
        On loopback, no token is the expected set-up.
        """
        self.assertEqual(self.start("127.0.0.1", None), [])

    def test_public_with_token_quiet(self) -> None:
        """
        With a token, there is nothing to warn about.
        """
        self.assertEqual(self.start("0.0.0.0", "secret"), [])
