"""
Parsing of SDP offers (RFC 8866) for what a lite ICE answerer needs: ICE
attributes (RFC 8839), BUNDLE groups (RFC 8843), rtcp-mux, DTLS setup and
fingerprint, and the m-lines with their formats.
"""

from __future__ import annotations

import dataclasses

from twisted_ice.ice.candidates import Candidate, parse_candidate
from twisted_ice.ice.credentials import is_valid_pwd, is_valid_ufrag

SETUP_ROLES = frozenset({"actpass", "active", "passive", "holdconn"})
DIRECTIONS = frozenset({"sendrecv", "sendonly", "recvonly", "inactive"})


class OfferError(ValueError):
    """
    An SDP offer that cannot be answered; the message names the line or
    attribute that is missing or invalid.
    """


@dataclasses.dataclass(frozen=True, slots=True)
class Group:
    """
    An C{a=group} line (RFC 5888): its semantics, such as C{BUNDLE}, and the
    mids it names.
    """

    semantics: str
    mids: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class MediaDescription:
    """
    One m-line of an offer and its attributes.

    @ivar index: The m-line's position in the offer, from 0.
    @ivar ufrag: The effective ice-ufrag: the media-level one, else the
        session-level one, else L{None}. C{pwd} and C{ice_options} likewise.
    @ivar rejected: Whether the port is 0 without C{a=bundle-only}.
    @ivar attributes: Every C{a=} line of the m-line as C{(name, value)}, in
        order; C{value} is L{None} for a property attribute such as
        C{a=rtcp-mux}.
    """

    index: int
    kind: str
    port: int
    proto: str
    formats: tuple[str, ...]
    mid: str | None
    ufrag: str | None
    pwd: str | None
    ice_options: tuple[str, ...]
    candidates: tuple[Candidate, ...]
    end_of_candidates: bool
    rtcp_mux: bool
    bundle_only: bool
    setup: str | None
    fingerprint: str | None
    direction: str
    attributes: tuple[tuple[str, str | None], ...]

    @property
    def rejected(self) -> bool:
        """
        Whether the offerer itself disabled this m-line (port 0 without
        C{a=bundle-only}, RFC 8843).
        """
        return self.port == 0 and not self.bundle_only

    def values(self, name: str) -> list[str]:
        """
        Return the values of every C{a=name:value} line of this m-line.
        """
        return [value for key, value in self.attributes if key == name and value]


@dataclasses.dataclass(frozen=True, slots=True)
class StreamOffer:
    """
    One ICE transport the offer requests: a BUNDLE group, or one m-line
    outside any BUNDLE group. Its credentials are those of its first m-line
    that has them.

    @ivar indexes: The positions of its m-lines in the offer.
    """

    mids: tuple[str, ...]
    indexes: tuple[int, ...]
    ufrag: str
    pwd: str
    ice_options: tuple[str, ...]
    rtcp_mux: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Offer:
    """
    A parsed SDP offer.

    @ivar streams: The ICE transports, in m-line order of their first m-line.
    """

    session_ufrag: str | None
    session_pwd: str | None
    session_ice_options: tuple[str, ...]
    session_fingerprint: str | None
    session_setup: str | None
    ice_lite: bool
    groups: tuple[Group, ...]
    media: tuple[MediaDescription, ...]
    streams: tuple[StreamOffer, ...]

    @property
    def bundle_groups(self) -> tuple[Group, ...]:
        """
        The groups with BUNDLE semantics.
        """
        return tuple(group for group in self.groups if group.semantics == "BUNDLE")


def _split_attribute(value: str) -> tuple[str, str | None]:
    name, colon, rest = value.partition(":")
    return name, (rest.strip() if colon else None)


def _split_lines(sdp: str) -> list[tuple[int, str, str]]:
    lines = []
    for number, raw in enumerate(sdp.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if len(line) < 2 or line[1] != "=" or not line[0].isalpha():
            raise OfferError(f"line {number} is not an SDP 'x=value' line: {line!r}")
        lines.append((number, line[0], line[2:]))
    return lines


def _describe(index: int, kind: str) -> str:
    return f"m-line {index + 1} ({kind})"


def _check_credentials(where: str, ufrag: str | None, pwd: str | None) -> None:
    if ufrag is not None and not is_valid_ufrag(ufrag):
        raise OfferError(
            f"{where} has an invalid a=ice-ufrag {ufrag!r}: it must be 4 to 256 "
            "characters of A-Z, a-z, 0-9, '+' and '/' (RFC 8839)"
        )
    if pwd is not None and not is_valid_pwd(pwd):
        raise OfferError(
            f"{where} has an invalid a=ice-pwd of {len(pwd)} characters: it must "
            "be 22 to 256 characters of A-Z, a-z, 0-9, '+' and '/' (RFC 8839)"
        )


def _parse_m_line(number: int, value: str) -> tuple[str, int, str, tuple[str, ...]]:
    fields = value.split()
    if len(fields) < 4:
        raise OfferError(
            f"line {number}: the m-line {value!r} needs media, port, proto and at "
            "least one format"
        )
    kind, port_field, proto = fields[0], fields[1], fields[2]
    port_text = port_field.partition("/")[0]
    if not port_text.isdigit() or int(port_text) > 65535:
        raise OfferError(f"line {number}: the m-line port {port_field!r} is invalid")
    return kind, int(port_text), proto, tuple(fields[3:])


class _MediaBuilder:
    """
    Collects the lines of one m-line while parsing.
    """

    def __init__(self, index: int, number: int, value: str) -> None:
        self.index = index
        self.kind, self.port, self.proto, self.formats = _parse_m_line(number, value)
        self.attributes: list[tuple[str, str | None]] = []
        self.candidates: list[Candidate] = []

    def add(self, number: int, value: str) -> None:
        name, attribute_value = _split_attribute(value)
        if name == "candidate":
            try:
                self.candidates.append(parse_candidate(attribute_value or ""))
            except ValueError as error:
                raise OfferError(
                    f"line {number} of {_describe(self.index, self.kind)}: {error}"
                ) from None
        self.attributes.append((name, attribute_value))

    def first(self, name: str) -> str | None:
        for key, value in self.attributes:
            if key == name:
                return value
        return None

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self.attributes)

    def build(self, session: dict[str, str | None]) -> MediaDescription:
        where = _describe(self.index, self.kind)
        ufrag = self.first("ice-ufrag")
        pwd = self.first("ice-pwd")
        _check_credentials(where, ufrag, pwd)

        setup = self.first("setup") or session["setup"]
        if setup is not None and setup not in SETUP_ROLES:
            raise OfferError(
                f"{where} has a=setup:{setup}, expected one of actpass, active, "
                "passive, holdconn (RFC 4145)"
            )

        options = self.first("ice-options") or session["ice-options"] or ""
        direction = "sendrecv"
        for key, _ in self.attributes:
            if key in DIRECTIONS:
                direction = key
        return MediaDescription(
            index=self.index,
            kind=self.kind,
            port=self.port,
            proto=self.proto,
            formats=self.formats,
            mid=self.first("mid"),
            ufrag=ufrag if ufrag is not None else session["ice-ufrag"],
            pwd=pwd if pwd is not None else session["ice-pwd"],
            ice_options=tuple(options.split()),
            candidates=tuple(self.candidates),
            end_of_candidates=self.has("end-of-candidates"),
            rtcp_mux=self.has("rtcp-mux"),
            bundle_only=self.has("bundle-only"),
            setup=setup,
            fingerprint=self.first("fingerprint") or session["fingerprint"],
            direction=direction,
            attributes=tuple(self.attributes),
        )


def _parse_group(value: str | None) -> Group:
    fields = (value or "").split()
    if not fields:
        raise OfferError("an a=group line has no semantics")
    return Group(fields[0], tuple(fields[1:]))


def _check_mids(media: tuple[MediaDescription, ...], groups: tuple[Group, ...]) -> None:
    seen: set[str] = set()
    for description in media:
        if description.mid is None:
            continue
        if description.mid in seen:
            raise OfferError(
                f"{_describe(description.index, description.kind)} repeats "
                f"a=mid:{description.mid}; mids must be unique (RFC 5888)"
            )
        seen.add(description.mid)

    grouped: set[str] = set()
    for group in groups:
        if group.semantics != "BUNDLE":
            continue
        for description in media:
            if description.mid is None:
                raise OfferError(
                    f"{_describe(description.index, description.kind)} has no "
                    "a=mid, which a=group:BUNDLE requires (RFC 8843)"
                )
        for mid in group.mids:
            if mid not in seen:
                raise OfferError(
                    f"a=group:BUNDLE names mid {mid!r}, which no m-line has"
                )
            if mid in grouped:
                raise OfferError(
                    f"mid {mid!r} is in more than one a=group:BUNDLE (RFC 8843)"
                )
            grouped.add(mid)


def _stream_offers(
    media: tuple[MediaDescription, ...], groups: tuple[Group, ...]
) -> tuple[StreamOffer, ...]:
    by_mid = {description.mid: description for description in media}
    members: list[list[MediaDescription]] = []
    grouped: set[int] = set()
    for group in groups:
        if group.semantics != "BUNDLE":
            continue
        live = [by_mid[mid] for mid in group.mids if not by_mid[mid].rejected]
        live.sort(key=lambda description: description.index)
        grouped.update(by_mid[mid].index for mid in group.mids)
        if live:
            members.append(live)
    for description in media:
        if description.index not in grouped and not description.rejected:
            members.append([description])
    members.sort(key=lambda descriptions: descriptions[0].index)

    streams = []
    for descriptions in members:
        source = next((item for item in descriptions if item.ufrag and item.pwd), None)
        if source is None or source.ufrag is None or source.pwd is None:
            first = descriptions[0]
            raise OfferError(
                f"{_describe(first.index, first.kind)} has no a=ice-ufrag and "
                "a=ice-pwd, at media or session level"
            )
        streams.append(
            StreamOffer(
                mids=tuple(item.mid for item in descriptions if item.mid is not None),
                indexes=tuple(item.index for item in descriptions),
                ufrag=source.ufrag,
                pwd=source.pwd,
                ice_options=source.ice_options,
                # Only RTP m-lines have an RTCP component (RFC 5761).
                rtcp_mux=all(
                    item.rtcp_mux for item in descriptions if "RTP" in item.proto
                ),
            )
        )
    return tuple(streams)


def parse_offer(sdp: str) -> Offer:
    """
    Parse an SDP offer, with CRLF or LF line endings.

    @raise OfferError: The offer has no m-line, or an m-line that is not
        rejected has no ice-ufrag or ice-pwd at media or session level. An
        ice-ufrag or ice-pwd breaks RFC 8839 (ufrag 4-256 and pwd 22-256
        ice-chars). A BUNDLE group names an unknown mid, or an m-line has no
        mid while the offer uses BUNDLE. A mid repeats. A line is malformed.
    """
    session: dict[str, str | None] = {
        "ice-ufrag": None,
        "ice-pwd": None,
        "ice-options": None,
        "fingerprint": None,
        "setup": None,
    }
    ice_lite = False
    groups: list[Group] = []
    builders: list[_MediaBuilder] = []

    for number, kind, value in _split_lines(sdp):
        if kind == "m":
            builders.append(_MediaBuilder(len(builders), number, value))
            continue
        if kind != "a":
            continue
        if builders:
            builders[-1].add(number, value)
            continue
        name, attribute_value = _split_attribute(value)
        if name == "group":
            groups.append(_parse_group(attribute_value))
        elif name == "ice-lite":
            ice_lite = True
        elif name in session and session[name] is None:
            session[name] = attribute_value

    if not builders:
        raise OfferError("the offer has no m-line")
    _check_credentials("the session level", session["ice-ufrag"], session["ice-pwd"])
    if session["setup"] is not None and session["setup"] not in SETUP_ROLES:
        raise OfferError(
            f"the session level has a=setup:{session['setup']}, expected one of "
            "actpass, active, passive, holdconn (RFC 4145)"
        )

    media = tuple(builder.build(session) for builder in builders)
    group_tuple = tuple(groups)
    _check_mids(media, group_tuple)
    return Offer(
        session_ufrag=session["ice-ufrag"],
        session_pwd=session["ice-pwd"],
        session_ice_options=tuple((session["ice-options"] or "").split()),
        session_fingerprint=session["fingerprint"],
        session_setup=session["setup"],
        ice_lite=ice_lite,
        groups=group_tuple,
        media=media,
        streams=_stream_offers(media, group_tuple),
    )
