"""
The service that runs a web site on a stream server endpoint, shared by the
session API and the metrics page.
"""

from __future__ import annotations

from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import Site


class SiteService(Service):
    """
    Listen on an endpoint with a site while the service runs.

    @ivar endpoint: Where to listen.
    @ivar site: The factory to listen with.
    @ivar description: The endpoint string, for messages.
    @ivar port: The listening port while the service runs, else L{None}.
    @ivar subject: What the site serves, in the failure messages
        ("cannot listen for SUBJECT on ...").
    @ivar listening_format: The log format of the listening line, with the
        fields C{kind}, C{host} and C{port}.
    """

    log = Logger()
    subject = "a site"
    listening_format = "mcs-ice site listening on {kind} {host} port {port}"

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
                f"twistd mcs-ice: cannot listen for {self.subject} on"
                f" {self.description}: {self._startup_error}"
            )

    def listening(self, port: IListeningPort) -> None:
        """
        Record and log the port.
        """
        self.port = port
        address: Any = port.getHost()
        self.log.info(
            self.listening_format,
            kind=getattr(address, "type", "TCP"),
            host=getattr(address, "host", ""),
            port=getattr(address, "port", 0),
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
            "Cannot listen for {subject} on {description}",
            failure,
            subject=self.subject,
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
