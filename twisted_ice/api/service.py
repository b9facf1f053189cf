"""
The service that runs the session API's site on its endpoint.
"""

from __future__ import annotations

from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import Site


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

    def startService(self) -> None:
        """
        Start listening, and log the address.

        @raise SystemExit: The endpoint failed at once, as a TCP port in use
            does, so twistd ends with one line.
        """
        super().startService()  # type: ignore[no-untyped-call]
        listening = self.endpoint.listen(self.site)
        failures: list[Failure] = []
        listening.addCallbacks(self.listening, failures.append)
        if failures:
            error = failures[0].value
            raise SystemExit(
                f"twistd mcs-ice: cannot listen for the session API on"
                f" {self.description}: {error}"
            )
        listening.addErrback(self.failed)

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

    def failed(self, failure: Failure) -> None:
        """
        Log a failure to listen that came after startup.
        """
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
