"""
Build the SDP answer of a lite ICE agent (RFC 8839, RFC 8843, RFC 3264).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Sequence

from twisted_ice.ice.candidates import Candidate
from twisted_ice.ice.credentials import Credentials
from twisted_ice.ice.sdp import (
    Group,
    MediaDescription,
    Offer,
    OfferError,
    _stream_offers,
)

DEFAULT_PORT = 9
"""
The m-line port when there is no candidate: the discard port, as in trickle
ICE descriptions without candidates (RFC 8840).
"""

ANSWER_DIRECTIONS = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}

ANSWER_SETUP = {"actpass": "passive", "active": "passive", "passive": "active"}
"""
The DTLS role of the answer for the offer's C{a=setup} (RFC 5763, RFC 4145).
This server waits for the client's DTLS handshake unless the offer insists on
being passive itself. An offer without C{a=setup} is treated as C{actpass}.
"""

ICE_ATTRIBUTES = frozenset(
    {
        "ice-ufrag",
        "ice-pwd",
        "ice-options",
        "ice-lite",
        "candidate",
        "end-of-candidates",
    }
)
"""
Attributes removed from a caller's answer before ours are added.
"""

CRLF = "\r\n"

UNSPECIFIED_ADDRESS = "0.0.0.0"  # noqa: S104 (an SDP address, not a bind)


class AnswerError(ValueError):
    """
    An SDP answer supplied by the caller that cannot be merged with the
    offer.
    """


def _connection_line(host: str) -> str:
    version = ipaddress.ip_address(host).version
    return f"c=IN IP{version} {host}"


def _default_candidate(candidates: Sequence[Candidate]) -> tuple[str, int]:
    for candidate in candidates:
        if candidate.transport == "udp":
            return candidate.host, candidate.port
    if candidates:
        return candidates[0].host, candidates[0].port
    return UNSPECIFIED_ADDRESS, DEFAULT_PORT


def _format_fingerprint(fingerprint: str) -> str:
    return fingerprint if " " in fingerprint else f"sha-256 {fingerprint}"


class _StreamPlan:
    """
    The source of each m-line's ICE attributes: its stream's credentials,
    and the candidates for the first m-line of each stream.
    """

    def __init__(
        self,
        offer: Offer,
        credentials: Sequence[Credentials],
        candidates: Sequence[Candidate],
    ) -> None:
        if len(credentials) != len(offer.streams):
            raise ValueError(
                f"{len(credentials)} credentials given for {len(offer.streams)} streams"
            )
        self.by_index: dict[int, Credentials] = {}
        self.tagged: set[int] = set()
        self.rtcp_mux: dict[int, bool] = {}
        for stream, stream_credentials in zip(offer.streams, credentials, strict=True):
            self.tagged.add(stream.indexes[0])
            for index in stream.indexes:
                self.by_index[index] = stream_credentials
                self.rtcp_mux[index] = stream.rtcp_mux
        self.candidates = list(candidates)
        self.host, self.port = _default_candidate(candidates)

    def ice_lines(self, index: int) -> list[str]:
        credentials = self.by_index[index]
        lines = [
            f"a=ice-ufrag:{credentials.local_ufrag}",
            f"a=ice-pwd:{credentials.local_pwd}",
        ]
        if index in self.tagged:
            for candidate in self.candidates:
                lines.append(f"a={candidate.to_sdp()}")
            if not self.rtcp_mux[index]:
                for candidate in self.candidates:
                    lines.append(f"a={candidate.for_component(2).to_sdp()}")
        lines.append("a=end-of-candidates")
        return lines


def _session_lines(offer: Offer, origin_id: int, version: int) -> list[str]:
    lines = [
        "v=0",
        f"o=- {origin_id} {version} IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=ice-lite",
    ]
    by_mid = {item.mid: item for item in offer.media}
    for group in offer.bundle_groups:
        mids = [mid for mid in group.mids if not by_mid[mid].rejected]
        if mids:
            lines.append("a=group:BUNDLE " + " ".join(mids))
    return lines


def _mirrored_media(description: MediaDescription) -> list[str]:
    """
    Return the non-ICE attribute lines mirroring one offered m-line: the
    first format's rtpmap, fmtp and rtcp-fb, the reversed direction and the
    data channel parameters.
    """
    lines = []
    first_format = description.formats[0]
    is_rtp = "RTP" in description.proto
    if is_rtp:
        lines.append(f"a={ANSWER_DIRECTIONS[description.direction]}")
        if description.rtcp_mux:
            lines.append("a=rtcp-mux")
        if any(name == "rtcp-rsize" for name, _ in description.attributes):
            lines.append("a=rtcp-rsize")
        prefix = first_format + " "
        for name in ("rtpmap", "rtcp-fb", "fmtp"):
            for value in description.values(name):
                if value.startswith(prefix):
                    lines.append(f"a={name}:{value}")
        return lines

    for name in ("sctp-port", "max-message-size"):
        for value in description.values(name):
            lines.append(f"a={name}:{value}")
    for value in description.values("sctpmap"):
        if value.startswith(first_format + " "):
            lines.append(f"a=sctpmap:{value}")
    return lines


def _mirror(
    offer: Offer,
    plan: _StreamPlan,
    fingerprint: str | None,
    origin_id: int,
    version: int,
) -> str:
    lines = _session_lines(offer, origin_id, version)
    for description in offer.media:
        first_format = description.formats[0]
        if description.index not in plan.by_index:
            lines.append(f"m={description.kind} 0 {description.proto} {first_format}")
            lines.append(f"c=IN IP4 {UNSPECIFIED_ADDRESS}")
            if description.mid is not None:
                lines.append(f"a=mid:{description.mid}")
            continue

        lines.append(
            f"m={description.kind} {plan.port} {description.proto} {first_format}"
        )
        lines.append(_connection_line(plan.host))
        if description.mid is not None:
            lines.append(f"a=mid:{description.mid}")
        lines.extend(plan.ice_lines(description.index))
        if fingerprint is not None:
            lines.append(f"a=fingerprint:{_format_fingerprint(fingerprint)}")
        setup = ANSWER_SETUP.get(description.setup or "actpass")
        if setup is not None:
            lines.append(f"a=setup:{setup}")
        lines.extend(_mirrored_media(description))
    return CRLF.join(lines) + CRLF


def _split_sections(answer: str) -> tuple[list[str], list[list[str]]]:
    session: list[str] = []
    sections: list[list[str]] = []
    for raw in answer.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("m="):
            sections.append([line])
        elif sections:
            sections[-1].append(line)
        else:
            session.append(line)
    return session, sections


def _is_ice_line(line: str) -> bool:
    return line.startswith("a=") and line[2:].partition(":")[0] in ICE_ATTRIBUTES


def _merge_section(
    section: list[str],
    index: int,
    offer: Offer,
    plan: _StreamPlan,
    fingerprint: str | None,
    has_fingerprint: bool,
) -> list[str]:
    fields = section[0].split()
    if len(fields) < 4 or not fields[1].partition("/")[0].isdigit():
        raise AnswerError(
            f"m-line {index + 1} of the answer is invalid: {section[0]!r}"
        )
    rest = [line for line in section[1:] if not _is_ice_line(line)]
    if fields[1] == "0" or index not in plan.by_index:
        return [section[0], *rest]

    fields[1] = str(plan.port)
    head = [" ".join(fields), _connection_line(plan.host)]
    others = [line for line in rest if not line.startswith("a=")]
    attributes = [line for line in rest if line.startswith("a=")]
    head.extend(line for line in others if not line.startswith("c="))
    head.extend(plan.ice_lines(index))
    if not has_fingerprint and fingerprint is not None:
        head.append(f"a=fingerprint:{_format_fingerprint(fingerprint)}")
    if not any(line.startswith("a=setup:") for line in attributes):
        setup = ANSWER_SETUP.get(offer.media[index].setup or "actpass")
        if setup is not None:
            head.append(f"a=setup:{setup}")
    return head + attributes


def _answer_sections(offer: Offer, answer: str) -> tuple[list[str], list[list[str]]]:
    session, sections = _split_sections(answer)
    if len(sections) != len(offer.media):
        raise AnswerError(
            f"the answer has {len(sections)} m-lines but the offer has "
            f"{len(offer.media)}; an answer needs one per offered m-line (RFC 3264)"
        )
    return session, sections


def _answer_groups(session: list[str]) -> list[Group]:
    groups = []
    for line in session:
        if line.startswith("a=group:"):
            fields = line.removeprefix("a=group:").split()
            if fields and fields[0] == "BUNDLE":
                groups.append(Group("BUNDLE", tuple(fields[1:])))
    return groups


def _check_answer_mids(offer: Offer, sections: list[list[str]]) -> None:
    for description, section in zip(offer.media, sections, strict=True):
        mids = [
            line.removeprefix("a=mid:") for line in section if line.startswith("a=mid:")
        ]
        if mids and mids[0] != description.mid:
            raise AnswerError(
                f"m-line {description.index + 1} of the answer has a=mid:{mids[0]}"
                f" but the offered m-line has {description.mid!r}; the answer's"
                " m-lines must be in the offer's order (RFC 3264)"
            )


def _check_answer_groups(offer: Offer, groups: list[Group]) -> None:
    """
    Check that each BUNDLE group of the answer is part of one offered BUNDLE
    group: an answerer may remove m-lines from an offered group but never add
    any (RFC 8843).
    """
    offered = {mid: group for group in offer.bundle_groups for mid in group.mids}
    known = {description.mid for description in offer.media}
    seen: set[str] = set()
    for group in groups:
        listed = " ".join(group.mids)
        for mid in group.mids:
            if mid not in known:
                raise AnswerError(
                    f"the answer's a=group:BUNDLE {listed} names mid {mid!r},"
                    " which no offered m-line has"
                )
            if mid in seen:
                raise AnswerError(
                    f"mid {mid!r} is in more than one a=group:BUNDLE of the"
                    " answer (RFC 8843)"
                )
            seen.add(mid)
            if mid not in offered:
                raise AnswerError(
                    f"the answer's a=group:BUNDLE {listed} includes mid {mid!r},"
                    " which the offer does not bundle; an answer may only"
                    " remove m-lines from an offered BUNDLE group (RFC 8843)"
                )
            if offered[mid] is not offered[group.mids[0]]:
                raise AnswerError(
                    f"the answer's a=group:BUNDLE {listed} joins mids"
                    f" {group.mids[0]!r} and {mid!r}, which the offer has in"
                    " different BUNDLE groups; an answer may only remove m-lines"
                    " from an offered BUNDLE group (RFC 8843)"
                )


def _answered_media(
    offer: Offer, sections: list[list[str]], grouped: set[str]
) -> tuple[MediaDescription, ...]:
    """
    Return the offered m-lines with those the answer rejects marked rejected
    (port 0 without a=bundle-only), so that they get no stream.
    """
    media = []
    for description, section in zip(offer.media, sections, strict=True):
        fields = section[0].split()
        port = fields[1].partition("/")[0] if len(fields) > 1 else ""
        bundle_only = "a=bundle-only" in section
        if port == "0" and not bundle_only:
            description = dataclasses.replace(description, port=0, bundle_only=False)
        elif description.bundle_only and description.mid not in grouped:
            # A bundle-only m-line taken out of the BUNDLE group must be
            # rejected (RFC 8843), because the offerer gathered no transport
            # of its own for it.
            raise AnswerError(
                f"m-line {description.index + 1} (mid {description.mid!r}) is"
                " bundle-only in the offer, so the answer must keep it in its"
                " a=group:BUNDLE or reject it with port 0"
            )
        media.append(description)
    return tuple(media)


def negotiate_bundle(offer: Offer, answer: str) -> Offer:
    """
    Return C{offer} with its streams as the caller's C{answer} negotiates
    them.

    The streams are grouped by the answer's C{a=group:BUNDLE} lines, because
    those are the groups the offerer applies (RFC 8843). The m-lines that the
    answer rejects are left out. Applying it to its own result changes
    nothing.

    @raise AnswerError: C{answer} does not have one m-line per offered
        m-line or has them in another order, a BUNDLE group of the answer is
        not part of one offered group, or an offered bundle-only m-line is
        left out of the answer's groups without being rejected.
    """
    session, sections = _answer_sections(offer, answer)
    _check_answer_mids(offer, sections)
    bundles = _answer_groups(session)
    _check_answer_groups(offer, bundles)
    grouped = {mid for group in bundles for mid in group.mids}
    media = _answered_media(offer, sections, grouped)
    others = tuple(group for group in offer.groups if group.semantics != "BUNDLE")
    groups = others + tuple(bundles)
    try:
        streams = _stream_offers(media, groups)
    except OfferError as error:
        raise AnswerError(
            f"the answer's BUNDLE groups need ICE credentials the offer lacks: {error}"
        ) from None
    return dataclasses.replace(offer, groups=groups, media=media, streams=streams)


def _merge(
    offer: Offer, plan: _StreamPlan, answer: str, fingerprint: str | None
) -> str:
    session, sections = _answer_sections(offer, answer)
    has_fingerprint = any(
        line.startswith("a=fingerprint:") for line in answer.splitlines()
    )

    lines = [line for line in session if not _is_ice_line(line)]
    first_attribute = next(
        (number for number, line in enumerate(lines) if line.startswith("a=")),
        len(lines),
    )
    lines.insert(first_attribute, "a=ice-lite")
    for index, section in enumerate(sections):
        lines.extend(
            _merge_section(section, index, offer, plan, fingerprint, has_fingerprint)
        )
    return CRLF.join(lines) + CRLF


def build_answer(
    offer: Offer,
    credentials: Sequence[Credentials],
    *,
    candidates: Sequence[Candidate],
    fingerprint: str | None,
    answer: str | None = None,
    origin_id: int = 0,
    version: int = 1,
) -> str:
    """
    Build the SDP answer to C{offer}, with CRLF line endings.

    @param credentials: The local credentials of each of C{offer.streams}, in
        the same order. With C{answer}, they are the credentials of each
        stream of C{negotiate_bundle(offer, answer)}.
    @param candidates: The component-1 candidates to advertise. Component-2
        copies are added for streams without rtcp-mux.
    @param fingerprint: The DTLS certificate fingerprint, such as
        C{"sha-256 AB:CD:..."}, or L{None} to leave it out.
    @param answer: An SDP answer without ICE attributes to merge into, or
        L{None} to mirror the offer.
    @param origin_id: The session id of the C{o=} line.
    @param version: The session version of the C{o=} line.
    @raise AnswerError: C{answer} does not have one m-line per offered m-line,
        has a malformed m-line, or bundles in a way L{negotiate_bundle}
        rejects.
    """
    if answer is None:
        plan = _StreamPlan(offer, credentials, candidates)
        return _mirror(offer, plan, fingerprint, origin_id, version)
    offer = negotiate_bundle(offer, answer)
    plan = _StreamPlan(offer, credentials, candidates)
    return _merge(offer, plan, answer, fingerprint)
