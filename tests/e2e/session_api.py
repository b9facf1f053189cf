"""
A blocking client of the session API, and the server options that turn the
API on, for the end-to-end tests that create ICE sessions.
"""

from __future__ import annotations

import json
import re
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from tests.e2e.support import LOOPBACK, free_tcp_port

API_READY = re.compile(r"mcs-ice session API listening on TCP \S+ port (\d+)")
"""The log line the session API writes once it listens."""

HTTP_TIMEOUT = 10.0
"""Seconds one API request may take."""


@dataclass
class ApiReply:
    """
    One API response.
    """

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """
        Return the body parsed as JSON.
        """
        return json.loads(self.body)


class SessionApiClient:
    """
    Send requests to the session API of a server on loopback.

    @ivar port: The API's TCP port.
    @ivar token: The bearer token the server was started with.
    """

    def __init__(self, port: int | None = None, token: str | None = None) -> None:
        self.port = port if port is not None else free_tcp_port()
        self.token = token if token is not None else secrets.token_urlsafe(16)

    @property
    def server_args(self) -> list[str]:
        """
        The C{mcs-ice} options that serve the API on this client's port.
        """
        return [
            "--api",
            f"tcp:{self.port}:interface={LOOPBACK}",
            "--api-token",
            self.token,
        ]

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> ApiReply:
        """
        Send one request and return the reply, error statuses included.
        """
        request = urllib.request.Request(  # noqa: S310
            f"http://{LOOPBACK}:{self.port}{path}", data=body, method=method
        )
        request.add_header("Authorization", f"Bearer {self.token}")
        if content_type is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as reply:  # noqa: S310
                return ApiReply(reply.status, dict(reply.headers), reply.read())
        except urllib.error.HTTPError as error:
            return ApiReply(error.code, dict(error.headers), error.read())

    def create(self, offer: str, media: dict[str, Any] | None = None) -> Any:
        """
        Create a session from C{offer} with a JSON request and return the
        JSON reply.

        @raise AssertionError: The API did not answer 201.
        """
        body: dict[str, Any] = {"offer": offer}
        if media is not None:
            body["media"] = media
        reply = self.request(
            "POST", "/sessions", json.dumps(body).encode(), "application/json"
        )
        assert reply.status == 201, (reply.status, reply.body)
        return reply.json()

    def get(self, session_id: str) -> Any:
        """
        Return the JSON state of a session.

        @raise AssertionError: The API did not answer 200.
        """
        reply = self.request("GET", f"/sessions/{session_id}")
        assert reply.status == 200, (reply.status, reply.body)
        return reply.json()

    def delete(self, session_id: str) -> int:
        """
        End a session and return the status.
        """
        return self.request("DELETE", f"/sessions/{session_id}").status


def answer_credentials(answer: str) -> tuple[str, str, list[str]]:
    """
    Return the first ice-ufrag, the first ice-pwd and the candidate values
    (after C{candidate:}) of an SDP answer.
    """
    ufrag = pwd = ""
    candidates = []
    for line in answer.splitlines():
        if line.startswith("a=ice-ufrag:") and not ufrag:
            ufrag = line.split(":", 1)[1]
        elif line.startswith("a=ice-pwd:") and not pwd:
            pwd = line.split(":", 1)[1]
        elif line.startswith("a=candidate:"):
            candidates.append(line.split(":", 1)[1])
    return ufrag, pwd, candidates
