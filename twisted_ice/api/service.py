"""
The service that runs the session API's site on its endpoint.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import Site


def is_loopback(host: str) -> bool:
    """
    Return whether C{host} is a loopback IP address; a name or an empty
    host is not.
    """
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ApiService(Service):
    """
    Listen on an endpoint with the API site while the service runs.

    @ivar description: The endpoint string, for messages.
    @ivar port: The listening port while the service runs, else L{None}.
    """

    log = Logger()

    def __init__(
        self, endpoint: IStreamServerEndpoint, site: Site, description: str
    ) -> None:
        self.endpoint = endpoint
        self.site = site
        self.description = description
        self.port: IListeningPort | None = None
        self._starting = False
        self._startup_error: BaseException | None = None

    def startService(self) -> None:
        """
        Start listening, and log the address.

        @raise SystemExit: The endpoint failed at once, as a TCP port in use
            does, so twistd ends with one line.
        """
        super().startService()  # type: ignore[no-untyped-call]
        self._starting = True
        self._startup_error = None
        listening = self.endpoint.listen(self.site)
        listening.addCallbacks(self.listening, self.failed)
        self._starting = False
        if self._startup_error is not None:
            raise SystemExit(
                f"twistd mcs-ice: cannot listen for the session API on"
                f" {self.description}: {self._startup_error}"
            )

    def listening(self, port: IListeningPort) -> None:
        """
        Record and log the port.
        """
        self.port = port
        address: Any = port.getHost()
        self.log.info(
            "mcs-ice session API listening on {kind} {host} port {port}",
            kind=getattr(address, "type", "TCP"),
            host=getattr(address, "host", ""),
            port=getattr(address, "port", 0),
        )
        host = getattr(address, "host", "")
        if getattr(self.site.resource, "token", None) is None and not is_loopback(host):
            self.log.warn(
                "The session API on {host} has no --api-token: any client that"
                " reaches it can create sessions",
                host=host,
            )

    def failed(self, failure: Failure) -> None:
        """
        Keep a failure that happened during L{startService}, for it to
        raise; log one that came later.
        """
        if self._starting:
            self._startup_error = failure.value
            return
        self.log.failure(
            "Cannot listen for the session API on {description}",
            failure,
            description=self.description,
        )

    def stopService(self) -> Deferred[None] | None:
        """
        Stop listening.
        """
        super().stopService()  # type: ignore[no-untyped-call]
        port, self.port = self.port, None
        if port is None:
            return None
        return port.stopListening()
