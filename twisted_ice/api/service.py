"""
The service that runs the session API's site on its endpoint.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from twisted.internet.interfaces import IListeningPort

from twisted_ice.site_service import SiteService


def is_loopback(host: str) -> bool:
    """
    Return whether C{host} is a loopback IP address; a name or an empty
    host is not.
    """
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ApiService(SiteService):
    """
    Listen on an endpoint with the API site while the service runs, and
    warn when a site without token listens beyond loopback.
    """

    subject = "the session API"
    listening_format = "mcs-ice session API listening on {kind} {host} port {port}"

    def listening(self, port: IListeningPort) -> None:
        """
        Record and log the port, and warn when the API has no token but
        listens on an address that is not loopback.
        """
        super().listening(port)
        address: Any = port.getHost()
        host = getattr(address, "host", "")
        if getattr(self.site.resource, "token", None) is None and not is_loopback(host):
            self.log.warn(
                "The session API on {host} has no --api-token: any client that"
                " reaches it can create sessions",
                host=host,
            )
