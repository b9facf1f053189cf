"""
Tests for L{twisted_ice.api}: the HTTP session API, driven through a real
twisted.web site over an in-memory transport, with a fake session manager.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs, formatEvent
from twisted.trial import unittest
from zope.interface import implementer

from twisted_ice.addresses import Path, Transport
from twisted_ice.api import (
    MAX_BODY_SIZE,
    ApiSite,
    SessionApi,
    SessionInfo,
    SessionLimitError,
    StreamInfo,
    resource,
)
from twisted_ice.interfaces import ISessionManager
from twisted_ice.media import MediaSpec

OFFER = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
ANSWER = "v=0\r\no=- 2 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-lite\r\n"
TOKEN = "s3cret-token"
ORIGIN = "https://app.example"
ORIGIN_BYTES = ORIGIN.encode()
SELECTED = Path(Transport.UDP, ("127.0.0.1", 9000), ("127.0.0.1", 50000))


@implementer(ISessionManager)
class FakeManager:
    """
    A session manager that records its calls and rejects offers containing
    C{bad}.
    """

    def __init__(self) -> None:
        self.sessions: dict[str, SessionInfo] = {}
        self.created: list[dict[str, Any]] = []
        self.restarted: list[tuple[str, str]] = []

    def create_session(
        self,
        offer: str,
        answer: str | None = None,
        media: MediaSpec | None = None,
        transports: frozenset[Transport] | None = None,
    ) -> SessionInfo:
        if "bad" in offer:
            raise ValueError("offer has no ice-ufrag")
        if "full" in offer:
            raise SessionLimitError("this server holds its maximum of 1 sessions")
        self.created.append(
            {"offer": offer, "answer": answer, "media": media, "transports": transports}
        )
        session_id = f"s{len(self.created)}"
        info = SessionInfo(
            id=session_id,
            answer=ANSWER,
            state="new",
            streams=(StreamInfo(mid="0", state="new"),),
        )
        self.sessions[session_id] = info
        return info

    def get_session(self, session_id: str) -> SessionInfo | None:
        return self.sessions.get(session_id)

    def restart_session(self, session_id: str, offer: str) -> SessionInfo | None:
        if "bad" in offer:
            raise ValueError("offer has no ice-pwd")
        if session_id not in self.sessions:
            return None
        self.restarted.append((session_id, offer))
        return self.sessions[session_id]

    def close_session(self, session_id: str) -> bool:
        return self.sessions.pop(session_id, None) is not None


@dataclass
class Response:
    """
    A parsed HTTP response.
    """

    code: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        """
        Return the body parsed as JSON.
        """
        return json.loads(self.body)


def parse_response(raw: bytes) -> Response:
    """
    Parse one HTTP/1.1 response with a Content-Length (or none) body.
    """
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    code = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return Response(code, headers, body)


class ApiTestCase(unittest.TestCase):
    """
    Helpers to send requests to a L{SessionApi} over a L{StringTransport}.
    """

    token: str | None = TOKEN

    def setUp(self) -> None:
        self.manager = FakeManager()
        self.site = ApiSite(SessionApi(self.manager, token=self.token), reactor=Clock())

    def raw(self, data: bytes) -> Response:
        """
        Feed C{data} to a new HTTP connection and parse the response.
        """
        channel = self.site.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        channel.dataReceived(data)
        return parse_response(transport.value())

    def request(
        self,
        method: bytes,
        path: bytes,
        body: bytes = b"",
        content_type: bytes | None = None,
        token: str | None = TOKEN,
        headers: tuple[bytes, ...] = (),
    ) -> Response:
        """
        Send one request with a Content-Length body and parse the response.
        """
        lines = [method + b" " + path + b" HTTP/1.1", b"Host: localhost"]
        lines.append(b"Connection: close")
        if token is not None:
            lines.append(b"Authorization: Bearer " + token.encode())
        if content_type is not None:
            lines.append(b"Content-Type: " + content_type)
        lines.append(b"Content-Length: %d" % len(body))
        lines.extend(headers)
        return self.raw(b"\r\n".join(lines) + b"\r\n\r\n" + body)

    def send_head(self, length: int, extra: bytes = b"") -> StringTransport:
        """
        Send only the headers of a C{POST /sessions} whose Content-Length
        is C{length}, on L{channel}, and return the transport.
        """
        self.channel = self.site.buildProtocol(None)
        transport = StringTransport()
        self.channel.makeConnection(transport)
        self.channel.dataReceived(
            b"POST /sessions HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
            b"Content-Type: application/sdp\r\n"
            b"Content-Length: %d\r\n%s\r\n" % (length, extra)
        )
        return transport

    def post_sdp(self, offer: str = OFFER, path: bytes = b"/sessions") -> Response:
        """
        POST an SDP offer.
        """
        return self.request(b"POST", path, offer.encode(), b"application/sdp")

    def post_json(self, value: Any, path: bytes = b"/sessions") -> Response:
        """
        POST a JSON body.
        """
        return self.request(
            b"POST", path, json.dumps(value).encode(), b"application/json"
        )


class CreateTests(ApiTestCase):
    """
    C{POST /sessions}.
    """

    def test_sdp_offer_gets_201(self) -> None:
        """
        An SDP offer gets 201.
        """
        self.assertEqual(self.post_sdp().code, 201)

    def test_sdp_offer_gets_location(self) -> None:
        """
        The Location header names the new session's resource.
        """
        self.assertEqual(self.post_sdp().headers["location"], "/sessions/s1")

    def test_sdp_offer_gets_sdp_answer(self) -> None:
        """
        The body of the reply to an SDP offer is the SDP answer.
        """
        response = self.post_sdp()
        self.assertEqual(response.headers["content-type"], "application/sdp")
        self.assertEqual(response.body, ANSWER.encode())

    def test_answer_not_cached(self) -> None:
        """
        The answer carries ICE passwords, so it is marked C{no-store}.
        """
        self.assertEqual(self.post_sdp().headers["cache-control"], "no-store")

    def test_sdp_offer_passed_to_manager(self) -> None:
        """
        The manager gets the offer, no answer, the default media and all
        transports.
        """
        self.post_sdp()
        self.assertEqual(
            self.manager.created,
            [
                {
                    "offer": OFFER,
                    "answer": None,
                    "media": MediaSpec(),
                    "transports": None,
                }
            ],
        )

    def test_sdp_with_parameters_accepted(self) -> None:
        """
        Parameters after the media type do not matter.
        """
        response = self.request(
            b"POST", b"/sessions", OFFER.encode(), b"Application/SDP; charset=utf-8"
        )
        self.assertEqual(response.code, 201)

    def test_sdp_query_media_forward(self) -> None:
        """
        C{?media=forward&target=} choose the media of an SDP offer.
        """
        response = self.post_sdp(path=b"/sessions?media=forward&target=127.0.0.1:5004")
        self.assertEqual(response.code, 201)
        self.assertEqual(
            self.manager.created[0]["media"], MediaSpec("forward", ("127.0.0.1", 5004))
        )

    def test_sdp_query_bad_target_gets_400(self) -> None:
        """
        A forward target that is not an IP address and port gets 400.
        """
        response = self.post_sdp(path=b"/sessions?media=forward&target=backend")
        self.assertEqual(response.code, 400)
        self.assertIn("backend", response.json()["error"])

    def test_transport_query_limits_transports(self) -> None:
        """
        C{?transport=udp} is passed on as the set of transports.
        """
        self.post_sdp(path=b"/sessions?transport=udp")
        self.assertEqual(self.manager.created[0]["transports"], {Transport.UDP})

    def test_transport_query_list(self) -> None:
        """
        C{?transport=udp,tcp} names both transports.
        """
        self.post_sdp(path=b"/sessions?transport=udp,tcp")
        self.assertEqual(
            self.manager.created[0]["transports"], {Transport.UDP, Transport.TCP}
        )

    def test_bad_transport_gets_400(self) -> None:
        """
        A transport other than udp or tcp gets 400 naming it.
        """
        response = self.post_sdp(path=b"/sessions?transport=sctp")
        self.assertEqual(response.code, 400)
        self.assertIn("sctp", response.json()["error"])

    def test_json_offer_gets_201_json(self) -> None:
        """
        A JSON request gets 201 and a JSON reply with the id, the answer, the
        location, the state and the streams.
        """
        response = self.post_json({"offer": OFFER})
        self.assertEqual(response.code, 201)
        self.assertEqual(response.headers["content-type"], "application/json")
        self.assertEqual(
            response.json(),
            {
                "id": "s1",
                "answer": ANSWER,
                "location": "/sessions/s1",
                "state": "new",
                "streams": [
                    {
                        "mid": "0",
                        "state": "new",
                        "selected": None,
                        "packets_received": 0,
                        "packets_sent": 0,
                        "bytes_received": 0,
                        "bytes_sent": 0,
                        "packets_dropped": 0,
                    }
                ],
            },
        )

    def test_json_location_header(self) -> None:
        """
        A JSON reply has the Location header too.
        """
        response = self.post_json({"offer": OFFER})
        self.assertEqual(response.headers["location"], "/sessions/s1")

    def test_json_answer_and_forward_media(self) -> None:
        """
        The JSON C{answer} and C{media} reach the manager.
        """
        self.post_json(
            {
                "offer": OFFER,
                "answer": ANSWER,
                "media": {"mode": "forward", "target": "[::1]:6000"},
            }
        )
        created = self.manager.created[0]
        self.assertEqual(created["answer"], ANSWER)
        self.assertEqual(created["media"], MediaSpec("forward", ("::1", 6000)))

    def test_json_without_media_default(self) -> None:
        """
        A JSON request without C{media} gets the API's default media.
        """
        self.site = ApiSite(
            SessionApi(
                self.manager,
                token=TOKEN,
                default_media=MediaSpec("forward", ("127.0.0.1", 7000)),
            ),
            reactor=Clock(),
        )
        self.post_json({"offer": OFFER})
        self.assertEqual(
            self.manager.created[0]["media"], MediaSpec("forward", ("127.0.0.1", 7000))
        )

    def test_json_echo_media(self) -> None:
        """
        C{{"mode": "echo"}} gives echo media.
        """
        self.post_json({"offer": OFFER, "media": {"mode": "echo"}})
        self.assertEqual(self.manager.created[0]["media"], MediaSpec("echo"))

    def test_bad_offer_gets_400_with_message(self) -> None:
        """
        The manager's ValueError becomes 400 with its message.
        """
        response = self.post_sdp("bad offer")
        self.assertEqual(response.code, 400)
        self.assertEqual(response.json(), {"error": "offer has no ice-ufrag"})

    def test_bad_offer_logs_host_port(self) -> None:
        """
        A rejected offer is logged with the client as C{host:port}.
        """
        with capturedLogs() as events:
            self.post_sdp("bad")
        messages = [formatEvent(event) for event in events]
        self.assertIn(
            "Rejected a session request from 192.168.1.1:54321: offer has no ice-ufrag",
            messages,
        )

    def test_session_limit_gets_503(self) -> None:
        """
        A manager at its session limit gives 503 with Retry-After.
        """
        response = self.post_sdp("full")
        self.assertEqual(response.code, 503)
        self.assertEqual(response.headers["retry-after"], "10")
        self.assertEqual(
            response.json(), {"error": "this server holds its maximum of 1 sessions"}
        )

    def test_invalid_json_gets_400(self) -> None:
        """
        A body that is not JSON gets 400.
        """
        response = self.request(b"POST", b"/sessions", b"{", b"application/json")
        self.assertEqual(response.code, 400)
        self.assertIn("invalid JSON", response.json()["error"])

    def test_json_not_object_gets_400(self) -> None:
        """
        A JSON body other than an object gets 400.
        """
        response = self.post_json([OFFER])
        self.assertEqual(response.code, 400)
        self.assertEqual(response.json(), {"error": "the JSON body must be an object"})

    def test_json_without_offer_gets_400(self) -> None:
        """
        A JSON body without a string offer gets 400.
        """
        response = self.post_json({"offer": 5})
        self.assertEqual(response.code, 400)
        self.assertEqual(response.json(), {"error": "offer must be an SDP string"})

    def test_json_bad_answer_gets_400(self) -> None:
        """
        A JSON answer that is not a string gets 400.
        """
        response = self.post_json({"offer": OFFER, "answer": {}})
        self.assertEqual(response.code, 400)
        self.assertEqual(response.json(), {"error": "answer must be an SDP string"})

    def test_json_unknown_member_gets_400(self) -> None:
        """
        An unknown member, a likely typo, gets 400 naming it.
        """
        response = self.post_json({"offer": OFFER, "medai": {}})
        self.assertEqual(response.code, 400)
        self.assertEqual(response.json(), {"error": "unknown members: medai"})

    def test_json_bad_mode_gets_400(self) -> None:
        """
        A media mode other than echo or forward gets 400.
        """
        response = self.post_json({"offer": OFFER, "media": {"mode": "record"}})
        self.assertEqual(response.code, 400)
        self.assertIn("record", response.json()["error"])

    def test_json_forward_without_target_gets_400(self) -> None:
        """
        C{forward} without a target gets 400.
        """
        response = self.post_json({"offer": OFFER, "media": {"mode": "forward"}})
        self.assertEqual(response.code, 400)
        self.assertEqual(
            response.json(), {"error": "media mode forward requires a target"}
        )

    def test_deep_json_gets_400(self) -> None:
        """
        A JSON body nested 30,000 levels deep gets 400 with a JSON message,
        and no error is logged.
        """
        body = b'{"offer": ' + b"[" * 30000 + b"]" * 30000 + b"}"
        response = self.request(b"POST", b"/sessions", body, b"application/json")
        self.assertEqual(response.code, 400)
        self.assertEqual(
            response.json(),
            {"error": "invalid JSON body: nested deeper than 16 levels"},
        )

    def test_recursion_error_gets_400(self) -> None:
        """
        Without the depth bound, the RecursionError of C{json.loads} on a
        deep body still gets 400 and no error is logged.
        """
        self.patch(resource, "MAX_JSON_DEPTH", 10**6)
        body = b'{"offer": ' + b"[" * 30000 + b"]" * 30000 + b"}"
        response = self.request(b"POST", b"/sessions", body, b"application/json")
        self.assertEqual(response.code, 400)
        self.assertEqual(
            response.json(), {"error": "invalid JSON body: nested too deeply"}
        )

    def test_brackets_in_strings_not_nesting(self) -> None:
        """
        Brackets inside JSON strings, escaped quotes included, do not count
        as nesting.
        """
        body = {"offer": OFFER + "a=x:" + '\\"[' * 100, "answer": "{" * 100}
        response = self.post_json(body)
        self.assertEqual(response.code, 201)

    def test_long_number_gets_plain_400(self) -> None:
        """
        A 60,000-digit number gets 400 with a message that names the limit
        and does not pass on Python's advice about its own limits.
        """
        body = b'{"offer": ' + b"7" * 60000 + b"}"
        response = self.request(b"POST", b"/sessions", body, b"application/json")
        self.assertEqual(response.code, 400)
        self.assertEqual(
            response.json(),
            {"error": "invalid JSON body: a number has more than 64 digits"},
        )

    def test_invalid_json_names_position(self) -> None:
        """
        A body that is not JSON gets a message with the position of the
        error.
        """
        response = self.request(b"POST", b"/sessions", b"{", b"application/json")
        self.assertEqual(
            response.json(),
            {
                "error": "invalid JSON body: Expecting property name enclosed"
                " in double quotes at line 1 column 2"
            },
        )

    def test_not_utf8_gets_400(self) -> None:
        """
        A body that is not UTF-8 gets 400.
        """
        response = self.request(b"POST", b"/sessions", b"\xff\xfe", b"application/sdp")
        self.assertEqual(response.code, 400)
        self.assertEqual(response.json(), {"error": "request body is not UTF-8"})

    def test_wrong_content_type_gets_415(self) -> None:
        """
        A body that is neither SDP nor JSON gets 415.
        """
        response = self.request(b"POST", b"/sessions", OFFER.encode(), b"text/plain")
        self.assertEqual(response.code, 415)
        self.assertIn("application/sdp", response.json()["error"])

    def test_missing_content_type_gets_415(self) -> None:
        """
        A body without Content-Type gets 415.
        """
        response = self.request(b"POST", b"/sessions", OFFER.encode())
        self.assertEqual(response.code, 415)

    def test_declared_length_too_large_gets_413(self) -> None:
        """
        A Content-Length above the limit gets 413, and the manager is not
        called.
        """
        head = (
            b"POST /sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
            b"Content-Type: application/sdp\r\n"
            b"Content-Length: %d\r\n\r\n" % (MAX_BODY_SIZE + 1)
        )
        response = self.raw(head + b"v" * (MAX_BODY_SIZE + 1))
        self.assertEqual(response.code, 413)
        self.assertEqual(self.manager.created, [])

    def test_chunked_body_too_large_gets_413(self) -> None:
        """
        A chunked body that grows beyond the limit gets 413.
        """
        chunk = b"v" * 16384
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(5))
        head = (
            b"POST /sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
            b"Content-Type: application/sdp\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        response = self.raw(head + chunks + b"0\r\n\r\n")
        self.assertEqual(response.code, 413)
        self.assertEqual(self.manager.created, [])

    def test_declared_length_413_before_body(self) -> None:
        """
        Headers that declare a body beyond the limit get 413 at once, before
        any body arrives, and the connection closes.
        """
        for length in (70000, 99999999999):
            transport = self.send_head(length)
            response = parse_response(transport.value())
            self.assertEqual(response.code, 413)
            self.assertEqual(
                response.json(),
                {"error": f"request body larger than {MAX_BODY_SIZE} bytes"},
            )
            self.assertTrue(transport.disconnecting)

    def test_declared_length_no_100_continue(self) -> None:
        """
        C{Expect: 100-continue} with a declared body beyond the limit gets
        413, not C{100 Continue}.
        """
        transport = self.send_head(70000, b"Expect: 100-continue\r\n")
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 413 "))
        self.assertNotIn(b"100 Continue", transport.value())

    def test_body_after_413_ignored(self) -> None:
        """
        Body bytes that arrive after the 413 are discarded, and the manager
        is not called.
        """
        transport = self.send_head(70000)
        written = transport.value()
        self.channel.dataReceived(b"v" * 70000)
        self.assertEqual(transport.value(), written)
        self.assertEqual(self.manager.created, [])

    def test_body_at_limit_accepted(self) -> None:
        """
        A body of exactly the limit is accepted.
        """
        body = OFFER + "a" * (MAX_BODY_SIZE - len(OFFER))
        response = self.post_sdp(body)
        self.assertEqual(response.code, 201)

    def test_get_collection_gets_405(self) -> None:
        """
        C{GET /sessions} gets 405 with an Allow header.
        """
        response = self.request(b"GET", b"/sessions")
        self.assertEqual(response.code, 405)
        self.assertEqual(response.headers["allow"], "POST")
        self.assertIn("error", response.json())


class AuthenticationTests(ApiTestCase):
    """
    The bearer token.
    """

    def test_missing_token_gets_401(self) -> None:
        """
        A request without Authorization gets 401 with a Bearer challenge.
        """
        response = self.request(b"GET", b"/sessions/s1", token=None)
        self.assertEqual(response.code, 401)
        self.assertEqual(response.headers["www-authenticate"], 'Bearer realm="mcs-ice"')
        self.assertEqual(response.json(), {"error": "missing bearer token"})

    def test_wrong_token_gets_401(self) -> None:
        """
        A wrong token gets 401.
        """
        response = self.request(b"GET", b"/sessions/s1", token="guess")
        self.assertEqual(response.code, 401)
        self.assertEqual(response.json(), {"error": "invalid bearer token"})

    def test_basic_scheme_gets_401(self) -> None:
        """
        Another authentication scheme gets 401.
        """
        response = self.request(
            b"GET",
            b"/sessions/s1",
            token=None,
            headers=(b"Authorization: Basic dXNlcjpwYXNz",),
        )
        self.assertEqual(response.code, 401)

    def test_unauthenticated_post_creates_nothing(self) -> None:
        """
        An offer without the token creates no session.
        """
        response = self.request(
            b"POST", b"/sessions", OFFER.encode(), b"application/sdp", token="guess"
        )
        self.assertEqual(response.code, 401)
        self.assertEqual(self.manager.created, [])

    def test_unauthenticated_unknown_path_gets_401(self) -> None:
        """
        Authentication comes before routing, so paths cannot be probed.
        """
        response = self.request(b"GET", b"/admin", token=None)
        self.assertEqual(response.code, 401)


class NoTokenTests(ApiTestCase):
    """
    An API without a configured token.
    """

    token = None

    def test_request_without_token_accepted(self) -> None:
        """
        Without a configured token, requests need no Authorization.
        """
        response = self.request(
            b"POST", b"/sessions", OFFER.encode(), b"application/sdp", token=None
        )
        self.assertEqual(response.code, 201)


class SessionResourceTests(ApiTestCase):
    """
    C{GET}, C{DELETE}, C{PATCH} and C{POST} on C{/sessions/{id}}.
    """

    def test_get_gets_state(self) -> None:
        """
        C{GET} gives the session's id, state and streams, without the answer.
        """
        self.manager.sessions["abc"] = SessionInfo(
            id="abc",
            answer=ANSWER,
            state="completed",
            streams=(
                StreamInfo(
                    mid="0",
                    state="completed",
                    selected=SELECTED,
                    packets_received=3,
                    packets_sent=2,
                    bytes_received=300,
                    bytes_sent=200,
                ),
            ),
        )
        response = self.request(b"GET", b"/sessions/abc")
        self.assertEqual(response.code, 200)
        self.assertEqual(
            response.json(),
            {
                "id": "abc",
                "state": "completed",
                "streams": [
                    {
                        "mid": "0",
                        "state": "completed",
                        "selected": {
                            "transport": "udp",
                            "address": "127.0.0.1",
                            "port": 50000,
                        },
                        "packets_received": 3,
                        "packets_sent": 2,
                        "bytes_received": 300,
                        "bytes_sent": 200,
                        "packets_dropped": 0,
                    }
                ],
            },
        )

    def test_get_unknown_gets_404(self) -> None:
        """
        An unknown session gets 404 with a JSON message.
        """
        response = self.request(b"GET", b"/sessions/nope")
        self.assertEqual(response.code, 404)
        self.assertEqual(response.json(), {"error": "session 'nope' not found"})

    def test_long_unknown_id_not_echoed(self) -> None:
        """
        A 10,000-byte session id is no session id: 404 with a short message
        that does not echo it.
        """
        response = self.request(b"GET", b"/sessions/" + b"a" * 10000)
        self.assertEqual(response.code, 404)
        self.assertEqual(response.json(), {"error": "session not found"})

    def test_malformed_id_not_echoed(self) -> None:
        """
        A session id with characters outside URL-safe base64 gets 404
        without echoing it, on every method.
        """
        for method in (b"GET", b"DELETE", b"PATCH"):
            response = self.request(method, b"/sessions/%3Cscript%3E")
            self.assertEqual(response.code, 404)
            self.assertEqual(response.json(), {"error": "session not found"})

    def test_long_path_gets_400(self) -> None:
        """
        A 20,000-byte request path gets 400 and the connection closes.
        """
        channel = self.site.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        channel.dataReceived(
            b"GET /sessions/" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        response = parse_response(transport.value())
        self.assertEqual(response.code, 400)
        self.assertEqual(
            response.json(),
            {"error": "request line or header line longer than 16384 bytes"},
        )
        self.assertTrue(transport.disconnecting)

    def test_get_trailing_slash(self) -> None:
        """
        A trailing slash names the same session.
        """
        self.post_sdp()
        self.assertEqual(self.request(b"GET", b"/sessions/s1/").code, 200)

    def test_delete_gets_204(self) -> None:
        """
        C{DELETE} ends the session and gets 204 with no body.
        """
        self.post_sdp()
        response = self.request(b"DELETE", b"/sessions/s1")
        self.assertEqual(response.code, 204)
        self.assertEqual(response.body, b"")
        self.assertNotIn("s1", self.manager.sessions)

    def test_delete_unknown_gets_404(self) -> None:
        """
        C{DELETE} of an unknown session gets 404.
        """
        self.assertEqual(self.request(b"DELETE", b"/sessions/s1").code, 404)

    def test_patch_restarts_with_sdp(self) -> None:
        """
        C{PATCH} with a new SDP offer restarts ICE and returns the answer.
        """
        self.post_sdp()
        response = self.request(
            b"PATCH", b"/sessions/s1", b"new offer", b"application/sdp"
        )
        self.assertEqual(response.code, 200)
        self.assertEqual(response.body, ANSWER.encode())
        self.assertEqual(self.manager.restarted, [("s1", "new offer")])

    def test_post_to_location_restarts_with_json(self) -> None:
        """
        C{POST} to the location with JSON restarts ICE and returns JSON.
        """
        self.post_sdp()
        response = self.post_json({"offer": "new offer"}, path=b"/sessions/s1")
        self.assertEqual(response.code, 200)
        self.assertEqual(response.json()["answer"], ANSWER)
        self.assertEqual(self.manager.restarted, [("s1", "new offer")])

    def test_restart_unknown_gets_404(self) -> None:
        """
        A restart of an unknown session gets 404.
        """
        response = self.request(b"PATCH", b"/sessions/x", b"offer", b"application/sdp")
        self.assertEqual(response.code, 404)

    def test_restart_bad_offer_gets_400(self) -> None:
        """
        A restart with a bad offer gets 400 with the manager's message.
        """
        self.post_sdp()
        response = self.request(b"PATCH", b"/sessions/s1", b"bad", b"application/sdp")
        self.assertEqual(response.code, 400)
        self.assertEqual(response.json(), {"error": "offer has no ice-pwd"})

    def test_restart_wrong_content_type_gets_415(self) -> None:
        """
        A restart body of another type gets 415.
        """
        self.post_sdp()
        response = self.request(b"PATCH", b"/sessions/s1", b"x", b"text/plain")
        self.assertEqual(response.code, 415)

    def test_put_gets_405(self) -> None:
        """
        C{PUT} on a session gets 405 with the allowed methods.
        """
        response = self.request(b"PUT", b"/sessions/s1")
        self.assertEqual(response.code, 405)
        self.assertEqual(response.headers["allow"], "GET, PATCH, POST, DELETE")

    def test_unknown_path_gets_404(self) -> None:
        """
        A path outside C{/sessions} gets 404 as JSON.
        """
        response = self.request(b"GET", b"/other")
        self.assertEqual(response.code, 404)
        self.assertIn("error", response.json())

    def test_nested_path_gets_404(self) -> None:
        """
        A path below a session gets 404.
        """
        response = self.request(b"GET", b"/sessions/s1/streams")
        self.assertEqual(response.code, 404)


class LogPrefixTests(unittest.TestCase):
    """
    The name Twisted logs when the API site starts listening.
    """

    def test_site_log_prefix(self) -> None:
        """
        The site is named for what it serves, not for its class.
        """
        site = ApiSite(SessionApi(FakeManager()), reactor=Clock())
        self.assertEqual(site.logPrefix(), "mcs-ice session API")


class CorsTests(ApiTestCase):
    """
    Browser pages of the configured origin.
    """

    def setUp(self) -> None:
        super().setUp()
        self.site = ApiSite(
            SessionApi(self.manager, token=TOKEN, cors_origin=ORIGIN), reactor=Clock()
        )

    def test_preflight_gets_204(self) -> None:
        """
        A preflight from the origin gets 204 with the allowed methods and
        headers, without a token.
        """
        response = self.request(
            b"OPTIONS", b"/sessions", token=None, headers=(b"Origin: " + ORIGIN_BYTES,)
        )
        self.assertEqual(response.code, 204)
        self.assertEqual(response.headers["access-control-allow-origin"], ORIGIN)
        self.assertIn("POST", response.headers["access-control-allow-methods"])
        self.assertIn("Authorization", response.headers["access-control-allow-headers"])

    def test_post_exposes_location(self) -> None:
        """
        A POST from the origin lets the page read the Location header.
        """
        response = self.request(
            b"POST",
            b"/sessions",
            OFFER.encode(),
            b"application/sdp",
            headers=(b"Origin: " + ORIGIN_BYTES,),
        )
        self.assertEqual(response.code, 201)
        self.assertEqual(response.headers["access-control-allow-origin"], ORIGIN)
        self.assertEqual(response.headers["access-control-expose-headers"], "Location")

    def test_other_origin_no_headers(self) -> None:
        """
        Another origin gets no CORS headers, and its preflight needs a token.
        """
        response = self.request(
            b"OPTIONS",
            b"/sessions",
            token=None,
            headers=(b"Origin: https://evil.example",),
        )
        self.assertEqual(response.code, 401)
        self.assertNotIn("access-control-allow-origin", response.headers)

    def test_no_cors_by_default(self) -> None:
        """
        Without a configured origin, no CORS header is sent.
        """
        self.site = ApiSite(SessionApi(self.manager, token=TOKEN), reactor=Clock())
        response = self.request(
            b"OPTIONS", b"/sessions", token=None, headers=(b"Origin: " + ORIGIN_BYTES,)
        )
        self.assertEqual(response.code, 401)
        self.assertNotIn("access-control-allow-origin", response.headers)


@implementer(ISessionManager)
class BrokenManager(FakeManager):
    """
    A manager with a bug: it raises something other than ValueError.
    """

    def get_session(self, session_id: str) -> SessionInfo | None:
        raise RuntimeError("bug")


class InternalErrorTests(ApiTestCase):
    """
    A failing manager.
    """

    def test_manager_bug_gets_500_json(self) -> None:
        """
        An unexpected exception gets a JSON 500 and is logged.
        """
        self.site = ApiSite(SessionApi(BrokenManager(), token=TOKEN), reactor=Clock())
        response = self.request(b"GET", b"/sessions/s1")
        self.assertEqual(response.code, 500)
        self.assertEqual(response.json(), {"error": "internal error"})
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
