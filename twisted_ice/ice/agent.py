"""
The lite ICE agent (RFC 8445 section 2.5): sessions from offers, connectivity
check handling, nomination and consent (RFC 7675).
"""

from __future__ import annotations

import heapq
import itertools
import secrets
import types
from collections.abc import Mapping, Sequence

from twisted_ice.addresses import Path, Transport
from twisted_ice.ice.answer import build_answer, negotiate_bundle
from twisted_ice.ice.candidates import Candidate
from twisted_ice.ice.checks import (
    AcceptedCheck,
    CheckOutcome,
    CheckResult,
    validate_check,
)
from twisted_ice.ice.credentials import Credentials
from twisted_ice.ice.events import (
    ConsentExpired,
    CredentialsRetired,
    Event,
    Nominated,
    PathClosed,
    PathValidated,
    SessionStateChanged,
    StateChanged,
)
from twisted_ice.ice.sdp import Offer, OfferError, StreamOffer, parse_offer
from twisted_ice.ice.session import Session, Stream
from twisted_ice.ice.states import IceState, StreamInput, session_state
from twisted_ice.stun import AttributeType, StunMessage

CONSENT_TIMEOUT = 30.0
"""
Seconds without a passed check after which consent expires (RFC 7675 section
5.1).
"""


def _parse_full_offer(offer: str | Offer) -> Offer:
    parsed = parse_offer(offer) if isinstance(offer, str) else offer
    if parsed.ice_lite:
        # A lite agent never sends checks (RFC 8445), so two of them never
        # connect.
        raise OfferError(
            "the offer has a=ice-lite, but this agent is lite too and needs a "
            "full ICE agent as its peer"
        )
    return parsed


class IceAgent:
    """
    The sessions of a lite ICE agent and the registries that route checks and
    media to their streams.

    Nothing here does I/O: the caller passes the current time as C{now} and
    schedules L{expire} at L{next_deadline}.
    """

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._ufrags: dict[str, Stream] = {}
        self._paths: dict[Path, Stream] = {}
        # Consent deadlines as (deadline, tie-breaker, stream), at most one
        # entry per stream. An entry may be earlier than the stream's
        # deadline but never later. Entries of closed streams are skipped.
        self._deadlines: list[tuple[float, int, Stream]] = []
        self._counter = itertools.count()

    # --- Sessions -----------------------------------------------------------

    @property
    def sessions(self) -> Mapping[str, Session]:
        """
        The live sessions by id, read-only.
        """
        return types.MappingProxyType(self._sessions)

    def get_session(self, session_id: str) -> Session | None:
        """
        Return the live session C{session_id}, or L{None}.
        """
        return self._sessions.get(session_id)

    def _new_session_id(self) -> str:
        while True:
            session_id = secrets.token_urlsafe(16)
            if session_id not in self._sessions:
                return session_id

    def _new_credentials(self, stream_offer: StreamOffer) -> Credentials:
        while True:
            credentials = Credentials.generate(stream_offer.ufrag, stream_offer.pwd)
            if credentials.local_ufrag not in self._ufrags:
                return credentials

    def create_session(
        self,
        offer: str | Offer,
        *,
        candidates: Sequence[Candidate],
        fingerprint: str | None,
        answer: str | None = None,
        now: float,
    ) -> Session:
        """
        Create a session for C{offer} and build its SDP answer.

        @param candidates: The host candidates to advertise.
        @param fingerprint: The DTLS fingerprint to put in a mirrored answer,
            such as C{"sha-256 AB:CD:..."}, or L{None}.
        @param answer: An SDP answer without ICE attributes to merge ours
            into, or L{None} to mirror the offer. Its BUNDLE groups decide
            the streams (L{negotiate_bundle}).
        @raise twisted_ice.ice.sdp.OfferError: The offer is invalid, or is
            from a lite agent.
        @raise twisted_ice.ice.answer.AnswerError: C{answer} does not fit the
            offer.
        """
        parsed = _parse_full_offer(offer)
        if answer is not None:
            parsed = negotiate_bundle(parsed, answer)
        session = Session(
            self._new_session_id(),
            now,
            tuple(candidates),
            fingerprint,
            secrets.randbits(62),
        )
        streams = tuple(
            Stream(session, item.mids, self._new_credentials(item), item.rtcp_mux)
            for item in parsed.streams
        )
        session.answer = self._build_answer(session, parsed, streams, answer)
        session.streams = streams

        self._sessions[session.id] = session
        for stream in streams:
            self._ufrags[stream.local_ufrag] = stream
        return session

    def _build_answer(
        self,
        session: Session,
        offer: Offer,
        streams: Sequence[Stream],
        answer: str | None,
    ) -> str:
        return build_answer(
            offer,
            [stream.credentials for stream in streams],
            candidates=session.candidates,
            fingerprint=session.fingerprint,
            answer=answer,
            origin_id=session.origin_id,
            version=session.version,
        )

    def restart_session(
        self,
        session_id: str,
        offer: str | Offer,
        *,
        answer: str | None = None,
        now: float,
    ) -> Session:
        """
        Apply a new offer to a live session and build the new answer.

        A stream whose offered ufrag or pwd changed is an ICE restart (RFC
        8445 section 9). It gets new local credentials and keeps accepting
        the old ones until a check with the new ones passes. Streams are
        matched to the offer by their mids, and streams the offer no longer
        has are closed.

        @raise KeyError: No live session has this id.
        @raise twisted_ice.ice.sdp.OfferError: The offer is invalid or from
            a lite agent. The session is unchanged.
        @raise twisted_ice.ice.answer.AnswerError: C{answer} does not fit the
            offer. The session is unchanged.
        """
        session = self._sessions[session_id]
        parsed = _parse_full_offer(offer)
        if answer is not None:
            parsed = negotiate_bundle(parsed, answer)

        by_mid = {mid: stream for stream in session.streams for mid in stream.mids}
        plan: list[tuple[StreamOffer, Stream | None, Credentials]] = []
        kept: set[int] = set()
        for item in parsed.streams:
            existing = next((by_mid[mid] for mid in item.mids if mid in by_mid), None)
            if existing is not None and id(existing) in kept:
                existing = None
            if existing is None:
                plan.append((item, None, self._new_credentials(item)))
                continue
            kept.add(id(existing))
            current = existing.credentials
            if (current.remote_ufrag, current.remote_pwd) == (item.ufrag, item.pwd):
                plan.append((item, existing, current))
            else:
                plan.append((item, existing, self._new_credentials(item)))

        session.version += 1
        try:
            session.answer = build_answer(
                parsed,
                [credentials for _, _, credentials in plan],
                candidates=session.candidates,
                fingerprint=session.fingerprint,
                answer=answer,
                origin_id=session.origin_id,
                version=session.version,
            )
        except ValueError:
            session.version -= 1
            raise

        streams = []
        for item, existing, credentials in plan:
            if existing is None:
                stream = Stream(session, item.mids, credentials, item.rtcp_mux)
                self._ufrags[credentials.local_ufrag] = stream
            else:
                stream = existing
                stream.mids = item.mids
                stream.rtcp_mux = item.rtcp_mux
                if credentials is not stream.credentials:
                    self._restart_stream(stream, credentials)
            streams.append(stream)
        for stream in session.streams:
            if id(stream) not in kept:
                self._close_stream(stream)
        session.streams = tuple(streams)
        self._update_session_state(session)
        return session

    def _restart_stream(self, stream: Stream, credentials: Credentials) -> None:
        if stream.previous_credentials is not None:
            # A second restart before the first completed: only the latest
            # old credentials stay accepted.
            self._ufrags.pop(stream.previous_credentials.local_ufrag, None)
        stream.previous_credentials = stream.credentials
        stream.credentials = credentials
        self._ufrags[credentials.local_ufrag] = stream
        stream.apply(StreamInput.RESTARTED)

    def _close_stream(self, stream: Stream) -> None:
        if stream.state is IceState.CLOSED:
            return
        self._ufrags.pop(stream.credentials.local_ufrag, None)
        if stream.previous_credentials is not None:
            self._ufrags.pop(stream.previous_credentials.local_ufrag, None)
        self._unregister_paths(stream)
        stream.apply(StreamInput.CLOSED)

    def _unregister_paths(self, stream: Stream) -> tuple[Path, ...]:
        paths = tuple(stream.valid_paths)
        for path in paths:
            if self._paths.get(path) is stream:
                del self._paths[path]
        stream.valid_paths.clear()
        return paths

    def close_session(self, session_id: str) -> Session | None:
        """
        Close a session and all its streams, and remove all their ufrags and
        paths from the registries.

        @return: The closed session, or L{None} when no live session has this
            id.
        """
        session = self._sessions.pop(session_id, None)
        if session is None:
            return None
        for stream in session.streams:
            self._close_stream(stream)
        session.state = IceState.CLOSED
        return session

    def _update_session_state(self, session: Session) -> Event | None:
        old = session.state
        if old is IceState.CLOSED:
            return None
        new = session_state(stream.state for stream in session.streams)
        if new is old:
            return None
        session.state = new
        return SessionStateChanged(session, old, new)

    # --- Lookups ------------------------------------------------------------

    def is_local_ufrag(self, ufrag: str) -> bool:
        """
        Return whether C{ufrag} is the current or still-accepted previous
        local ufrag of a live stream.
        """
        return ufrag in self._ufrags

    def stream_for_path(self, path: Path) -> Stream | None:
        """
        Return the stream whose consent is live and on which C{path} passed a
        check, or L{None}.
        """
        return self._paths.get(path)

    # --- Checks -------------------------------------------------------------

    def handle_check(
        self, message: StunMessage, path: Path, now: float
    ) -> CheckOutcome:
        """
        Respond to one Binding request that arrived on C{path}.

        L{validate_check} lists the tests and their error responses. A
        request that fails any of them changes no state. A passed check
        refreshes consent, makes C{path} valid for its component, and
        nominates it when USE-CANDIDATE is among the protected attributes.
        The first passed check with the credentials of an ICE restart also
        retires the previous ones.
        """
        checked = validate_check(message, self._ufrags.get)
        if isinstance(checked, CheckOutcome):
            return checked

        stream = checked.stream
        events: list[Event] = []
        self._validate_path(stream, path, checked.component, events)
        nominated = self._nominate(stream, path, checked, events)

        if checked.previous:
            stream_input = StreamInput.PREVIOUS_CHECK_PASSED
        elif nominated:
            stream_input = StreamInput.NOMINATED
        else:
            stream_input = StreamInput.CHECK_PASSED
        self._apply(stream, stream_input, events)

        if not checked.previous and stream.previous_credentials is not None:
            retired = stream.previous_credentials.local_ufrag
            self._ufrags.pop(retired, None)
            stream.previous_credentials = None
            events.append(CredentialsRetired(stream, retired))

        self._refresh_consent(stream, now)
        response = message.success_response(
            [(AttributeType.XOR_MAPPED_ADDRESS, path.remote)]
        ).encode(integrity_key=checked.credentials.local_key, fingerprint=True)
        return CheckOutcome(CheckResult.SUCCESS, response, tuple(events), stream)

    def _validate_path(
        self, stream: Stream, path: Path, component: int, events: list[Event]
    ) -> None:
        if stream.valid_paths.get(path) == component:
            return
        other = self._paths.get(path)
        if other is not None and other is not stream:
            # The client reused this 5-tuple for another stream: it moves,
            # and the old stream no longer sends on it.
            del other.valid_paths[path]
            if other.selected == path:
                other.selected = None
            if other.selected_rtcp == path:
                other.selected_rtcp = None
        stream.valid_paths[path] = component
        self._paths[path] = stream
        events.append(PathValidated(stream, path, component))

    def _nominate(
        self,
        stream: Stream,
        path: Path,
        checked: AcceptedCheck,
        events: list[Event],
    ) -> bool:
        """
        Apply USE-CANDIDATE, and return whether the stream has a nominated
        path for component 1 that this check confirms.
        """
        previous = stream.selected if checked.component == 1 else stream.selected_rtcp
        if checked.use_candidate and previous != path:
            if checked.component == 1:
                stream.selected = path
            else:
                stream.selected_rtcp = path
            events.append(Nominated(stream, path, checked.component, previous))
        if checked.component != 1:
            return stream.state is IceState.COMPLETED
        return stream.selected == path

    def _apply(
        self, stream: Stream, stream_input: StreamInput, events: list[Event]
    ) -> None:
        old = stream.apply(stream_input)
        if stream.state is old:
            return
        events.append(StateChanged(stream, old, stream.state))
        session_event = self._update_session_state(stream.session)
        if session_event is not None:
            events.append(session_event)

    # --- Closed connections ---------------------------------------------

    def path_closed(self, path: Path, now: float) -> list[Event]:
        """
        Unregister C{path} because its TCP or TLS connection closed, so that
        no media is accepted from it or sent on it.

        A nominated path loses its nomination, so a C{completed} stream goes
        C{connected} until the client nominates another path. A stream left
        without any valid path goes C{disconnected}, as on consent expiry,
        and a later passed check revives it. UDP paths, paths that are not
        registered and the nominations of C{disconnected} streams are left
        alone.

        @param now: The current time. Closing a path starts and stops no
            timer, so it is not used yet.
        """
        if path.transport is Transport.UDP:
            return []
        stream = self._paths.pop(path, None)
        if stream is None:
            return []
        component = stream.valid_paths.pop(path)
        selected = stream.selected == path
        selected_rtcp = stream.selected_rtcp == path
        if selected:
            stream.selected = None
        if selected_rtcp:
            stream.selected_rtcp = None

        events: list[Event] = [
            PathClosed(stream, path, component, selected or selected_rtcp)
        ]
        if not stream.valid_paths:
            self._apply(stream, StreamInput.LAST_PATH_CLOSED, events)
        elif selected:
            self._apply(stream, StreamInput.SELECTED_PATH_CLOSED, events)
        return events

    # --- Consent ------------------------------------------------------------

    def _refresh_consent(self, stream: Stream, now: float) -> None:
        stream.last_check = now
        if stream.consent_scheduled is None:
            deadline = now + CONSENT_TIMEOUT
            stream.consent_scheduled = deadline
            heapq.heappush(self._deadlines, (deadline, next(self._counter), stream))

    def next_deadline(self) -> float | None:
        """
        Return the earliest time at which L{expire} may have work, or L{None}.

        It can be earlier than the next actual expiry, never later.
        """
        deadlines = self._deadlines
        while deadlines and deadlines[0][2].state is IceState.CLOSED:
            heapq.heappop(deadlines)[2].consent_scheduled = None
        return deadlines[0][0] if deadlines else None

    def expire(self, now: float) -> list[Event]:
        """
        Expire the consent of every stream without a passed check in the
        last 30 s (RFC 7675 section 5.1): it goes C{disconnected} and its
        paths are no longer accepted.
        """
        events: list[Event] = []
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            _, _, stream = heapq.heappop(deadlines)
            stream.consent_scheduled = None
            if stream.last_check is None or stream.state in (
                IceState.CLOSED,
                # Its last path closed: no path is left to expire, and the
                # next passed check schedules consent again.
                IceState.DISCONNECTED,
            ):
                continue
            deadline = stream.last_check + CONSENT_TIMEOUT
            if deadline > now:
                stream.consent_scheduled = deadline
                heapq.heappush(deadlines, (deadline, next(self._counter), stream))
                continue
            paths = self._unregister_paths(stream)
            events.append(ConsentExpired(stream, paths))
            self._apply(stream, StreamInput.CONSENT_EXPIRED, events)
        return events
