"""
The HTTP session API, shaped like WHIP. C{POST /sessions} with an SDP offer
creates a session and returns the SDP answer. C{GET}, C{PATCH} and C{DELETE}
on its location read, restart and end it.
"""

from __future__ import annotations

import hmac
import json
import re
from typing import Any
from urllib.parse import quote

from twisted.logger import Logger
from twisted.web import http, server
from twisted.web.resource import Resource

from twisted_ice.addresses import Transport
from twisted_ice.api.status import SessionInfo, SessionLimitError
from twisted_ice.interfaces import ISessionManager
from twisted_ice.media import MediaSpec, parse_target

MAX_BODY_SIZE = 64 * 1024
"""
The largest request body accepted, in bytes. Chromium's offer with one audio
and one data channel m-line is about 2 KiB.
"""

MAX_JSON_DEPTH = 16
"""
The deepest nesting of arrays and objects accepted in a JSON body. A valid
body nests two deep; the bound keeps C{json.loads} far from Python's
recursion limit.
"""

MAX_JSON_INT_DIGITS = 64
"""
The maximum number of digits of a JSON integer. No member of a valid body is an
integer, and the bound comes before Python's own limit of 4300 digits.
"""

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""
The format of a session id: URL-safe base64 characters, as
C{secrets.token_urlsafe} writes them. A path segment of any other form is
no session, and is not echoed in the 404.
"""

SDP = b"application/sdp"
JSON = b"application/json"

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


class ApiError(Exception):
    """
    An HTTP error response: a status code and a message for the client.
    """

    def __init__(
        self, code: int, message: str, headers: dict[bytes, bytes] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}


def json_depth(text: str) -> int:
    """
    Return the deepest nesting of arrays and objects in the JSON C{text},
    ignoring brackets inside strings. On text that is not JSON the result
    is only an estimate, and C{json.loads} rejects that text anyway.
    """
    depth = 0
    deepest = 0
    for char in _JSON_STRING.sub("", text):
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def parse_json_int(digits: str) -> int:
    """
    Convert a JSON integer, as C{json.loads} calls it.

    @raise ValueError: The integer has more than L{MAX_JSON_INT_DIGITS}
        digits.
    """
    if len(digits.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise ValueError(f"a number has more than {MAX_JSON_INT_DIGITS} digits")
    return int(digits)


class ApiRequest(server.Request):
    """
    A request whose body is bounded: beyond C{max_body_size} bytes, declared
    or received, the body is discarded and C{body_too_large} is set.
    """

    max_body_size = MAX_BODY_SIZE
    body_too_large = False

    def gotLength(self, length: int | None) -> None:
        """
        Reject a declared length beyond the limit before any body arrives.
        """
        if length is not None and length > self.max_body_size:
            self.body_too_large = True
            length = 0
        server.Request.gotLength(self, length)

    def handleContentChunk(self, data: bytes) -> None:
        """
        Store a chunk of the body unless the body is already too large.
        """
        if self.body_too_large or self.content is None:
            return
        if self.content.tell() + len(data) > self.max_body_size:
            self.body_too_large = True
            self.content.seek(0)
            self.content.truncate()
            return
        self.content.write(data)


def media_type(request: server.Request) -> bytes | None:
    """
    Return the lowercased media type of the request's Content-Type, without
    parameters, or L{None} without the header.
    """
    value = request.getHeader(b"content-type")
    if value is None:
        return None
    return value.split(b";", 1)[0].strip().lower()


def parse_transports(request: server.Request) -> frozenset[Transport] | None:
    """
    Return the transports that C{?transport=} names, or L{None} without it.
    The parameter repeats or lists transports separated by commas.

    @raise ApiError: A name is neither C{udp} nor C{tcp}.
    """
    values = (request.args or {}).get(b"transport")
    if not values:
        return None
    transports = set()
    for value in values:
        for name in value.decode("ascii", "replace").split(","):
            if name not in ("udp", "tcp"):
                raise ApiError(
                    http.BAD_REQUEST, f"invalid transport {name!r}: use udp or tcp"
                )
            transports.add(Transport(name))
    return frozenset(transports)


def client_address(request: server.Request) -> str:
    """
    Return the client's address as C{host:port} (C{[host]:port} for IPv6),
    for logs.
    """
    address = request.getClientAddress()
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is None or port is None:
        return str(address)
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


class SessionApi(Resource):
    """
    The root resource of the API. It routes C{/sessions} and
    C{/sessions/{id}} itself.

    @ivar manager: The session manager that creates, reads, restarts and
        closes sessions.
    @ivar token: The bearer token every request must carry, or L{None} to
        accept requests without one.
    @ivar default_media: The media of a session created from a bare SDP
        offer without C{?media=}.
    @ivar cors_origin: The web origin (such as C{https://app.example}) whose
        pages may call the API from a browser, C{*} for any, or L{None} for
        none.
    @ivar draining: Whether the server is draining. While it is, C{/health}
        responds with 503, and so do requests for new sessions.
    """

    isLeaf = True
    log = Logger()
    draining = False

    def __init__(
        self,
        manager: ISessionManager,
        token: str | None = None,
        default_media: MediaSpec | None = None,
        cors_origin: str | None = None,
    ) -> None:
        Resource.__init__(self)
        self.manager = manager
        self.token = token.encode("utf-8") if token else None
        self.default_media = default_media or MediaSpec()
        self.cors_origin = cors_origin.encode("ascii") if cors_origin else None

    def render(self, request: server.Request) -> bytes:
        """
        Authenticate, route and respond to one request. Every failure becomes
        a JSON error response.
        """
        request.setHeader(b"cache-control", b"no-store")
        if self.allow_origin(request) and request.method == b"OPTIONS":
            return self.preflight(request)
        try:
            return self.dispatch(request)
        except ApiError as error:
            return self.error(request, error)
        except Exception:
            self.log.failure("Session API request failed")
            return self.error(
                request, ApiError(http.INTERNAL_SERVER_ERROR, "internal error")
            )

    def allow_origin(self, request: server.Request) -> bool:
        """
        Add the CORS headers when the request's Origin is the configured one,
        and return whether it is.
        """
        if self.cors_origin is None:
            return False
        origin = request.getHeader(b"origin")
        if origin is None:
            return False
        if self.cors_origin != b"*" and origin != self.cors_origin:
            return False
        request.setHeader(b"access-control-allow-origin", origin)
        request.setHeader(b"access-control-expose-headers", b"Location")
        request.setHeader(b"vary", b"Origin")
        return True

    def preflight(self, request: server.Request) -> bytes:
        """
        Respond to a CORS preflight request: 204 with the methods and headers
        a page may use. A preflight carries no token, so it is handled before
        authentication, and it changes nothing.
        """
        request.setResponseCode(http.NO_CONTENT)
        request.setHeader(b"access-control-allow-methods", b"GET, POST, PATCH, DELETE")
        request.setHeader(
            b"access-control-allow-headers", b"Authorization, Content-Type"
        )
        request.setHeader(b"access-control-max-age", b"600")
        return b""

    def error(self, request: server.Request, error: ApiError) -> bytes:
        """
        Write C{error} as C{{"error": message}}.
        """
        request.setResponseCode(error.code)
        for name, value in error.headers.items():
            request.setHeader(name, value)
        return self.json(request, {"error": error.message})

    def json(self, request: server.Request, value: Any) -> bytes:
        """
        Write C{value} as the JSON body.
        """
        request.setHeader(b"content-type", JSON)
        return json.dumps(value).encode("utf-8") + b"\n"

    def authenticate(self, request: server.Request) -> None:
        """
        Check the bearer token in constant time.

        @raise ApiError: 401, the token is missing or wrong.
        """
        if self.token is None:
            return
        challenge = {b"www-authenticate": b'Bearer realm="mcs-ice"'}
        header = request.getHeader(b"authorization") or b""
        scheme, _, credentials = header.partition(b" ")
        if scheme.lower() != b"bearer":
            raise ApiError(http.UNAUTHORIZED, "missing bearer token", challenge)
        if not hmac.compare_digest(credentials.strip(), self.token):
            raise ApiError(http.UNAUTHORIZED, "invalid bearer token", challenge)

    def dispatch(self, request: server.Request) -> bytes:
        """
        Route C{request} to the handler of its path and method.
        """
        if [s for s in request.postpath or [] if s] == [b"health"]:
            return self.health(request)
        self.authenticate(request)

        segments = [s for s in request.postpath or [] if s]
        method = request.method
        if segments == [b"sessions"]:
            if method == b"POST":
                return self.create(request)
            raise ApiError(
                http.NOT_ALLOWED, "use POST on /sessions", {b"allow": b"POST"}
            )
        if len(segments) == 2 and segments[0] == b"sessions":
            session_id = segments[1].decode("utf-8", "replace")
            if not SESSION_ID.fullmatch(session_id):
                raise ApiError(http.NOT_FOUND, "session not found")
            if method == b"GET":
                return self.read(request, session_id)
            if method == b"DELETE":
                return self.delete(request, session_id)
            if method in (b"PATCH", b"POST"):
                return self.restart(request, session_id)
            raise ApiError(
                http.NOT_ALLOWED,
                "use GET, PATCH, POST or DELETE on a session",
                {b"allow": b"GET, PATCH, POST, DELETE"},
            )
        raise ApiError(http.NOT_FOUND, "not found: the API serves /sessions")

    def health(self, request: server.Request) -> bytes:
        """
        Write C{{"status": "ok"}}, or C{{"status": "draining"}} with 503.
        It needs no bearer token, so that load balancers can probe it, and
        it reveals nothing but that status.
        """
        if request.method not in (b"GET", b"HEAD"):
            raise ApiError(
                http.NOT_ALLOWED, "use GET on /health", {b"allow": b"GET, HEAD"}
            )
        if self.draining:
            request.setResponseCode(http.SERVICE_UNAVAILABLE)
            return self.json(request, {"status": "draining"})
        return self.json(request, {"status": "ok"})

    def read_body(self, request: server.Request) -> tuple[bytes, str]:
        """
        Return the request's media type and its body as text.

        @raise ApiError: 413, 415 or 400 (a body that is not UTF-8).
        """
        if getattr(request, "body_too_large", False):
            raise ApiError(
                http.REQUEST_ENTITY_TOO_LARGE,
                f"request body larger than {MAX_BODY_SIZE} bytes",
            )
        kind = media_type(request)
        if kind not in (SDP, JSON):
            raise ApiError(
                http.UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/sdp or application/json",
            )
        assert request.content is not None
        data = request.content.read()
        if len(data) > MAX_BODY_SIZE:
            raise ApiError(
                http.REQUEST_ENTITY_TOO_LARGE,
                f"request body larger than {MAX_BODY_SIZE} bytes",
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(http.BAD_REQUEST, "request body is not UTF-8") from None
        return kind, text

    def parse_json(self, text: str) -> dict[str, Any]:
        """
        Parse a JSON request body: an object with a string C{offer}, an
        optional string C{answer} and an optional C{media} object.

        @raise ApiError: 400, naming the invalid member.
        """
        if json_depth(text) > MAX_JSON_DEPTH:
            raise ApiError(
                http.BAD_REQUEST,
                f"invalid JSON body: nested deeper than {MAX_JSON_DEPTH} levels",
            )
        try:
            value = json.loads(text, parse_int=parse_json_int)
        except json.JSONDecodeError as error:
            raise ApiError(
                http.BAD_REQUEST,
                f"invalid JSON body: {error.msg} at line {error.lineno}"
                f" column {error.colno}",
            ) from None
        except ValueError as error:
            # Besides JSONDecodeError, parse_json_int raises ValueError here,
            # with a message that contains no advice about Python's limits.
            raise ApiError(http.BAD_REQUEST, f"invalid JSON body: {error}") from None
        except RecursionError:
            raise ApiError(
                http.BAD_REQUEST, "invalid JSON body: nested too deeply"
            ) from None
        if not isinstance(value, dict):
            raise ApiError(http.BAD_REQUEST, "the JSON body must be an object")
        unknown = set(value) - {"offer", "answer", "media"}
        if unknown:
            raise ApiError(
                http.BAD_REQUEST, f"unknown members: {', '.join(sorted(unknown))}"
            )
        if not isinstance(value.get("offer"), str):
            raise ApiError(http.BAD_REQUEST, "offer must be an SDP string")
        if value.get("answer") is not None and not isinstance(value["answer"], str):
            raise ApiError(http.BAD_REQUEST, "answer must be an SDP string")
        return value

    def query_media(self, request: server.Request) -> MediaSpec:
        """
        Return the media that C{?media=} and C{?target=} name, or the
        default media without them.

        @raise ApiError: 400, the media is invalid.
        """
        args = request.args or {}
        mode = args.get(b"media")
        target = args.get(b"target")
        if not mode and not target:
            return self.default_media
        try:
            return MediaSpec(
                mode[0].decode("utf-8", "replace") if mode else "forward",
                parse_target(target[0].decode("utf-8", "replace")) if target else None,
            )
        except ValueError as error:
            raise ApiError(http.BAD_REQUEST, str(error)) from None

    def create(self, request: server.Request) -> bytes:
        """
        Create a session and respond with C{201} and the SDP answer, as SDP
        or as JSON like the request. Respond with 503 while the server
        drains.
        """
        if self.draining:
            raise ApiError(
                http.SERVICE_UNAVAILABLE,
                "the server is draining and creates no new sessions."
                " Create the session on another server",
            )
        kind, text = self.read_body(request)
        transports = parse_transports(request)

        answer: str | None = None
        if kind == SDP:
            offer = text
            media = self.query_media(request)
        else:
            body = self.parse_json(text)
            offer = body["offer"]
            answer = body.get("answer")
            try:
                media = (
                    MediaSpec.from_json(body["media"])
                    if "media" in body
                    else self.default_media
                )
            except ValueError as error:
                raise ApiError(http.BAD_REQUEST, str(error)) from None

        try:
            session = self.manager.create_session(
                offer, answer=answer, media=media, transports=transports
            )
        except SessionLimitError as error:
            raise ApiError(
                http.SERVICE_UNAVAILABLE, str(error), {b"retry-after": b"10"}
            ) from None
        except ValueError as error:
            self.log.info(
                "Rejected a session request from {client}: {error}",
                client=client_address(request),
                error=error,
            )
            raise ApiError(http.BAD_REQUEST, str(error)) from None

        location = self.location(session)
        request.setResponseCode(http.CREATED)
        request.setHeader(b"location", location.encode("ascii"))
        return self.write_answer(request, kind, session, location)

    def write_answer(
        self, request: server.Request, kind: bytes, session: SessionInfo, location: str
    ) -> bytes:
        """
        Write the SDP answer as the body, in the request's media type.
        """
        if kind == SDP:
            request.setHeader(b"content-type", SDP)
            return session.answer.encode("utf-8")
        reply = session.to_json()
        reply["answer"] = session.answer
        reply["location"] = location
        return self.json(request, reply)

    def location(self, session: SessionInfo) -> str:
        """
        Return the path of C{session}'s resource.
        """
        return "/sessions/" + quote(session.id, safe="")

    def read(self, request: server.Request, session_id: str) -> bytes:
        """
        Write the session's state as JSON, or 404.
        """
        session = self.manager.get_session(session_id)
        if session is None:
            raise ApiError(http.NOT_FOUND, f"session {session_id!r} not found")
        return self.json(request, session.to_json())

    def delete(self, request: server.Request, session_id: str) -> bytes:
        """
        End the session: 204, or 404.
        """
        if not self.manager.close_session(session_id):
            raise ApiError(http.NOT_FOUND, f"session {session_id!r} not found")
        request.setResponseCode(http.NO_CONTENT)
        return b""

    def restart(self, request: server.Request, session_id: str) -> bytes:
        """
        Restart ICE with a new offer: 200 with the new SDP answer, or 404.
        """
        kind, text = self.read_body(request)
        offer = text if kind == SDP else self.parse_json(text)["offer"]

        try:
            session = self.manager.restart_session(session_id, offer)
        except ValueError as error:
            raise ApiError(http.BAD_REQUEST, str(error)) from None
        if session is None:
            raise ApiError(http.NOT_FOUND, f"session {session_id!r} not found")
        return self.write_answer(request, kind, session, self.location(session))


class ApiChannel(http.HTTPChannel):
    """
    An HTTP/1.1 connection of the API that rejects a request as soon as its
    headers declare a body beyond L{MAX_BODY_SIZE}. The response is 413, sent
    without waiting for the body and without C{100 Continue}, and then the
    connection closes.
    A request line or header line beyond C{MAX_LENGTH} bytes gets 400 and
    the connection closes.
    """

    max_body_size = MAX_BODY_SIZE
    rejected = False

    def allHeadersReceived(self) -> None:
        """
        Reject a declared body beyond the limit, else go on as usual.
        """
        if self.length is not None and self.length > self.max_body_size:
            self.reject(
                http.REQUEST_ENTITY_TOO_LARGE,
                f"request body larger than {self.max_body_size} bytes",
            )
            return
        super().allHeadersReceived()  # type: ignore[no-untyped-call]

    def lineLengthExceeded(self, line: bytes) -> None:
        """
        Reject a request line or header line beyond C{MAX_LENGTH} bytes.
        """
        self.reject(
            http.BAD_REQUEST,
            f"request line or header line longer than {self.MAX_LENGTH} bytes",
        )

    def dataReceived(self, data: bytes) -> None:
        """
        Discard what arrives after a rejection, until the connection closes.
        """
        if self.rejected:
            return
        super().dataReceived(data)  # type: ignore[no-untyped-call]

    def reject(self, code: int, message: str) -> None:
        """
        Write a JSON error response with C{code} and close the connection.
        """
        self.rejected = True
        body = json.dumps({"error": message}).encode("utf-8") + b"\n"
        head = (
            b"HTTP/1.1 %d %s\r\n" % (code, http.RESPONSES[code])
            + b"Content-Type: application/json\r\n"
            + b"Content-Length: %d\r\n" % len(body)
            + b"Cache-Control: no-store\r\n"
            + b"Connection: close\r\n\r\n"
        )
        assert self.transport is not None
        self.transport.write(head + body)
        self.loseConnection()  # type: ignore[no-untyped-call]


class ApiSite(server.Site):
    """
    The site of the session API, with HTTP/1.1 connections that reject
    request bodies beyond L{MAX_BODY_SIZE} and no tracebacks in error pages.
    """

    # A plain HTTPChannel in place of the wrapper that negotiates HTTP/2
    # over TLS ALPN, because the API serves HTTP/1.1 without TLS.
    protocol = ApiChannel  # type: ignore[assignment]
    requestFactory = ApiRequest
    displayTracebacks = False
    noisy = False

    def __init__(self, resource: SessionApi, reactor: Any = None) -> None:
        """
        @param reactor: The reactor for connection timeouts; the global one
            by default.
        """
        server.Site.__init__(self, resource, reactor=reactor)

    def logPrefix(self) -> str:
        """
        Name the site in Twisted's C{... starting on PORT} line, which
        C{noisy} does not turn off.
        """
        return "mcs-ice session API"
