"""
Tests for L{twisted_ice.ice.build_answer}: mirrored and merged answers.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.test_sdp_offer import (
    CHROME_OFFER,
    FIREFOX_OFFER,
    SESSION,
    audio,
    sdp,
)
from twisted_ice.ice import (
    AnswerError,
    Credentials,
    Offer,
    build_answer,
    host_candidates,
    negotiate_bundle,
    parse_offer,
)

FINGERPRINT = "sha-256 " + ":".join(["AB"] * 32)
CANDIDATES = host_candidates(["127.0.0.1"], 9000, 443)


def credentials_for(offer: Offer) -> list[Credentials]:
    """
    Return fixed local credentials for each stream of C{offer}.
    """
    return [
        Credentials(
            f"LocalUfrag{index:06d}",
            f"LocalPassword{index:019d}",
            stream.ufrag,
            stream.pwd,
            f"LocalPassword{index:019d}".encode(),
        )
        for index, stream in enumerate(offer.streams)
    ]


def mirror(offer_text: str, **kwargs: object) -> str:
    """
    Build a mirrored answer to C{offer_text}, or a merged one when C{kwargs}
    has an C{answer}, with credentials for the streams it negotiates.
    """
    offer = parse_offer(offer_text)
    options: dict[str, object] = {"candidates": CANDIDATES, "fingerprint": FINGERPRINT}
    options.update(kwargs)
    supplied = options.get("answer")
    negotiated = offer if supplied is None else negotiate_bundle(offer, str(supplied))
    return build_answer(offer, credentials_for(negotiated), **options)  # type: ignore[arg-type]


def sections(answer: str) -> list[list[str]]:
    """
    Split an answer into its session section and one list per m-line.
    """
    result: list[list[str]] = [[]]
    for line in answer.split("\r\n"):
        if line.startswith("m="):
            result.append([])
        if line:
            result[-1].append(line)
    return result


class MirroredAnswerTests(SynchronousTestCase):
    """
    An answer that mirrors Chrome's offer.
    """

    def setUp(self) -> None:
        self.answer = mirror(CHROME_OFFER, origin_id=42, version=3)
        self.session, self.audio, self.video, self.data = sections(self.answer)

    def test_crlf(self) -> None:
        """
        Every line ends with CRLF and there is no bare LF.
        """
        self.assertTrue(self.answer.endswith("\r\n"))
        self.assertEqual(self.answer.count("\n"), self.answer.count("\r\n"))

    def test_session_lines(self) -> None:
        """
        The session section has v=, o=, s=, t=, ice-lite and the BUNDLE group.
        """
        self.assertEqual(
            self.session,
            [
                "v=0",
                "o=- 42 3 IN IP4 127.0.0.1",
                "s=-",
                "t=0 0",
                "a=ice-lite",
                "a=group:BUNDLE 0 1 2",
            ],
        )

    def test_first_codec_only(self) -> None:
        """
        Each RTP m-line answers with the offer's first format.
        """
        self.assertEqual(self.audio[0], "m=audio 9000 UDP/TLS/RTP/SAVPF 111")
        self.assertEqual(self.video[0], "m=video 9000 UDP/TLS/RTP/SAVPF 96")

    def test_codec_attributes(self) -> None:
        """
        The first format's rtpmap, rtcp-fb and fmtp are mirrored, no other
        format's.
        """
        self.assertIn("a=rtpmap:111 opus/48000/2", self.audio)
        self.assertIn("a=fmtp:111 minptime=10;useinbandfec=1", self.audio)
        self.assertIn("a=rtcp-fb:111 transport-cc", self.audio)
        self.assertNotIn("a=rtpmap:63 red/48000/2", self.audio)
        self.assertIn("a=rtcp-fb:96 nack pli", self.video)
        self.assertNotIn("a=fmtp:97 apt=96", self.video)

    def test_connection_line(self) -> None:
        """
        Each m-line has a c= line with the default candidate's address.
        """
        for section in (self.audio, self.video, self.data):
            self.assertEqual(section[1], "c=IN IP4 127.0.0.1")

    def test_mids(self) -> None:
        """
        Each m-line repeats the offer's mid.
        """
        self.assertIn("a=mid:0", self.audio)
        self.assertIn("a=mid:1", self.video)
        self.assertIn("a=mid:2", self.data)

    def test_credentials_everywhere(self) -> None:
        """
        Every bundled m-line has the stream's ufrag and password.
        """
        for section in (self.audio, self.video, self.data):
            self.assertIn("a=ice-ufrag:LocalUfrag000000", section)
            self.assertIn("a=ice-pwd:LocalPassword0000000000000000000", section)
            self.assertIn("a=end-of-candidates", section)

    def test_candidates_in_first_m_line(self) -> None:
        """
        The candidates appear once, in the group's first m-line.
        """
        self.assertIn(f"a={CANDIDATES[0].to_sdp()}", self.audio)
        self.assertIn(f"a={CANDIDATES[1].to_sdp()}", self.audio)
        self.assertEqual(self.answer.count("a=candidate:"), 2)

    def test_direction_reversed(self) -> None:
        """
        sendrecv stays sendrecv and recvonly becomes sendonly.
        """
        self.assertIn("a=sendrecv", self.audio)
        self.assertIn("a=sendonly", self.video)

    def test_rtcp_mux(self) -> None:
        """
        rtcp-mux and rtcp-rsize are answered because they were offered.
        """
        self.assertIn("a=rtcp-mux", self.audio)
        self.assertIn("a=rtcp-rsize", self.audio)

    def test_dtls(self) -> None:
        """
        Each m-line is passive with the given fingerprint.
        """
        for section in (self.audio, self.video, self.data):
            self.assertIn("a=setup:passive", section)
            self.assertIn(f"a=fingerprint:{FINGERPRINT}", section)

    def test_data_channel(self) -> None:
        """
        The data channel m-line mirrors sctp-port and max-message-size.
        """
        self.assertEqual(
            self.data[0], "m=application 9000 UDP/DTLS/SCTP webrtc-datachannel"
        )
        self.assertIn("a=sctp-port:5000", self.data)
        self.assertIn("a=max-message-size:262144", self.data)

    def test_no_ice_options(self) -> None:
        """
        The answer does not offer trickle: a lite agent gives all candidates
        at once.
        """
        self.assertNotIn("a=ice-options", self.answer)

    def test_answer_parses(self) -> None:
        """
        The answer is valid SDP for the offer parser: one stream, our
        credentials, ice-lite.
        """
        parsed = parse_offer(self.answer)
        self.assertTrue(parsed.ice_lite)
        self.assertEqual(parsed.streams[0].ufrag, "LocalUfrag000000")
        self.assertEqual(len(parsed.media[0].candidates), 2)


class MirrorCasesTests(SynchronousTestCase):
    """
    Mirroring details beyond Chrome's offer.
    """

    def test_firefox(self) -> None:
        """
        Firefox's offer is answered with its first codecs and data channel.
        """
        _, audio_section, video, data = sections(mirror(FIREFOX_OFFER))
        self.assertEqual(audio_section[0], "m=audio 9000 UDP/TLS/RTP/SAVPF 109")
        self.assertIn(
            "a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1", audio_section
        )
        self.assertEqual(video[0], "m=video 9000 UDP/TLS/RTP/SAVPF 120")
        self.assertIn("a=max-message-size:1073741823", data)

    def test_directions(self) -> None:
        """
        Each offered direction gets its reverse.
        """
        cases = {
            "sendrecv": "sendrecv",
            "sendonly": "recvonly",
            "recvonly": "sendonly",
            "inactive": "inactive",
        }
        for offered, answered in cases.items():
            answer = mirror(sdp(*SESSION, *audio(), f"a={offered}"))
            self.assertIn(f"a={answered}\r\n", answer, offered)

    def test_passive_offer_gets_active(self) -> None:
        """
        An offer that insists on a=setup:passive gets a=setup:active.
        """
        answer = mirror(sdp(*SESSION, *audio(), "a=setup:passive"))
        self.assertIn("a=setup:active\r\n", answer)

    def test_active_offer_gets_passive(self) -> None:
        """
        An a=setup:active offer gets a=setup:passive.
        """
        answer = mirror(sdp(*SESSION, *audio(), "a=setup:active"))
        self.assertIn("a=setup:passive\r\n", answer)

    def test_bare_fingerprint(self) -> None:
        """
        A fingerprint given without a hash name is SHA-256.
        """
        answer = mirror(sdp(*SESSION, *audio()), fingerprint="AB:CD")
        self.assertIn("a=fingerprint:sha-256 AB:CD\r\n", answer)

    def test_no_fingerprint(self) -> None:
        """
        Without a fingerprint, the answer has no a=fingerprint line.
        """
        answer = mirror(sdp(*SESSION, *audio()), fingerprint=None)
        self.assertNotIn("a=fingerprint", answer)

    def test_rejected_stays_rejected(self) -> None:
        """
        A rejected m-line is answered with port 0 and no ICE attributes.
        """
        offer = sdp(*SESSION, *audio("a"), *audio("b", port=0, credentials=False))
        _, first, second = sections(mirror(offer))
        self.assertEqual(second[0], "m=audio 0 UDP/TLS/RTP/SAVPF 111")
        self.assertIn("a=mid:b", second)
        self.assertFalse(any(line.startswith("a=ice-") for line in second))
        self.assertIn("a=ice-ufrag:LocalUfrag000000", first)

    def test_rejected_left_out_of_bundle(self) -> None:
        """
        The answer's BUNDLE group leaves out rejected mids.
        """
        offer = sdp(
            *SESSION,
            "a=group:BUNDLE a b",
            *audio("a"),
            *audio("b", port=0, credentials=False),
        )
        self.assertIn("a=group:BUNDLE a\r\n", mirror(offer))

    def test_unbundled_credentials(self) -> None:
        """
        Unbundled m-lines each get their own stream's credentials and
        candidates.
        """
        _, first, second = sections(mirror(sdp(*SESSION, *audio("a"), *audio("b"))))
        self.assertIn("a=ice-ufrag:LocalUfrag000000", first)
        self.assertIn("a=ice-ufrag:LocalUfrag000001", second)
        self.assertIn(f"a={CANDIDATES[0].to_sdp()}", second)

    def test_rtcp_candidates_without_mux(self) -> None:
        """
        Without rtcp-mux, component-2 candidates are added and rtcp-mux is
        not answered.
        """
        lines = [line for line in audio() if line != "a=rtcp-mux"]
        answer = mirror(sdp(*SESSION, *lines), candidates=CANDIDATES[:1])
        self.assertIn(f"a={CANDIDATES[0].for_component(2).to_sdp()}\r\n", answer)
        self.assertNotIn("a=rtcp-mux", answer)

    def test_no_candidates(self) -> None:
        """
        Without candidates, the m-line has the discard port and 0.0.0.0.
        """
        _, section = sections(mirror(sdp(*SESSION, *audio()), candidates=()))
        self.assertEqual(section[0], "m=audio 9 UDP/TLS/RTP/SAVPF 111")
        self.assertEqual(section[1], "c=IN IP4 0.0.0.0")

    def test_ipv6_connection(self) -> None:
        """
        An IPv6 default candidate gives a c=IN IP6 line.
        """
        candidates = host_candidates(["::1"], 9000)
        _, section = sections(mirror(sdp(*SESSION, *audio()), candidates=candidates))
        self.assertEqual(section[1], "c=IN IP6 ::1")

    def test_udp_is_default(self) -> None:
        """
        The m-line port is the first UDP candidate's, even after TCP ones.
        """
        candidates = (CANDIDATES[1], CANDIDATES[0])
        _, section = sections(mirror(sdp(*SESSION, *audio()), candidates=candidates))
        self.assertEqual(section[0], "m=audio 9000 UDP/TLS/RTP/SAVPF 111")

    def test_wrong_credentials_count(self) -> None:
        """
        Credentials must match the offer's streams one to one.
        """
        offer = parse_offer(sdp(*SESSION, *audio()))
        self.assertRaises(
            ValueError, build_answer, offer, [], candidates=(), fingerprint=None
        )


SUPPLIED_ANSWER = sdp(
    "v=0",
    "o=- 99 1 IN IP4 127.0.0.1",
    "s=media",
    "t=0 0",
    "a=ice-lite",
    "a=ice-ufrag:TheirUfrag",
    "a=group:BUNDLE 0",
    "m=audio 40000 UDP/TLS/RTP/SAVPF 111",
    "c=IN IP4 127.0.0.2",
    "a=mid:0",
    "a=ice-pwd:theirpasswordtheirpassword",
    "a=candidate:9 1 udp 1 127.0.0.2 40000 typ host",
    "a=end-of-candidates",
    "a=fingerprint:sha-256 11:22",
    "a=setup:active",
    "a=rtpmap:111 opus/48000/2",
    "a=rtcp-mux",
)


class MergedAnswerTests(SynchronousTestCase):
    """
    Merging our ICE attributes into a caller's answer.
    """

    def setUp(self) -> None:
        self.offer = sdp(*SESSION, "a=group:BUNDLE 0", *audio("0"))
        self.answer = mirror(self.offer, answer=SUPPLIED_ANSWER)
        self.session, self.audio = sections(self.answer)

    def test_their_ice_removed(self) -> None:
        """
        The caller's ufrag, password and candidate are gone.
        """
        self.assertNotIn("TheirUfrag", self.answer)
        self.assertNotIn("theirpassword", self.answer)
        self.assertNotIn("127.0.0.2", self.answer)

    def test_ours_added(self) -> None:
        """
        Our credentials, candidates and end-of-candidates are in the m-line.
        """
        self.assertIn("a=ice-ufrag:LocalUfrag000000", self.audio)
        self.assertIn(f"a={CANDIDATES[0].to_sdp()}", self.audio)
        self.assertEqual(self.audio.count("a=end-of-candidates"), 1)

    def test_one_ice_lite(self) -> None:
        """
        The session level has exactly one a=ice-lite.
        """
        self.assertEqual(self.session.count("a=ice-lite"), 1)
        self.assertEqual(self.answer.count("a=ice-lite"), 1)

    def test_caller_lines_kept(self) -> None:
        """
        The caller's origin, DTLS attributes and codecs are kept.
        """
        self.assertIn("o=- 99 1 IN IP4 127.0.0.1", self.session)
        self.assertIn("a=fingerprint:sha-256 11:22", self.audio)
        self.assertIn("a=setup:active", self.audio)
        self.assertNotIn("a=setup:passive", self.audio)
        self.assertNotIn(f"a=fingerprint:{FINGERPRINT}", self.audio)
        self.assertIn("a=rtpmap:111 opus/48000/2", self.audio)

    def test_port_and_connection(self) -> None:
        """
        The m-line port and c= line are our default candidate's.
        """
        self.assertEqual(self.audio[0], "m=audio 9000 UDP/TLS/RTP/SAVPF 111")
        self.assertEqual(self.audio[1], "c=IN IP4 127.0.0.1")

    def test_crlf(self) -> None:
        """
        The merged answer uses CRLF line endings.
        """
        self.assertEqual(self.answer.count("\n"), self.answer.count("\r\n"))

    def test_fingerprint_added_when_missing(self) -> None:
        """
        A caller's answer without fingerprint or setup gets ours.
        """
        supplied = sdp(*SESSION, "m=audio 1 UDP/TLS/RTP/SAVPF 111", "a=mid:0")
        answer = mirror(self.offer, answer=supplied)
        self.assertIn(f"a=fingerprint:{FINGERPRINT}\r\n", answer)
        self.assertIn("a=setup:passive\r\n", answer)

    def test_rejected_stays_rejected(self) -> None:
        """
        An m-line the caller rejected keeps port 0 and gets no ICE lines.
        """
        supplied = sdp(*SESSION, "m=audio 0 UDP/TLS/RTP/SAVPF 111", "a=mid:0")
        _, section = sections(mirror(self.offer, answer=supplied))
        self.assertEqual(section[0], "m=audio 0 UDP/TLS/RTP/SAVPF 111")
        self.assertFalse(any(line.startswith("a=ice-") for line in section))

    def test_m_line_count_mismatch(self) -> None:
        """
        An answer with a different number of m-lines raises AnswerError.
        """
        supplied = sdp(*SESSION)
        error = self.assertRaises(AnswerError, mirror, self.offer, answer=supplied)
        self.assertIn("0 m-lines but the offer has 1", str(error))

    def test_bad_m_line(self) -> None:
        """
        A malformed m-line in the caller's answer raises AnswerError.
        """
        supplied = sdp(*SESSION, "m=audio x")
        self.assertRaises(AnswerError, mirror, self.offer, answer=supplied)


def answer_audio(mid: str, port: int = 9, *extra: str) -> list[str]:
    """
    Return the lines of an audio m-line of a caller's answer, without ICE.
    """
    return [
        f"m=audio {port} UDP/TLS/RTP/SAVPF 111",
        "c=IN IP4 0.0.0.0",
        f"a=mid:{mid}",
        *extra,
        "a=rtcp-mux",
        "a=rtpmap:111 opus/48000/2",
    ]


BUNDLED_OFFER = sdp(*SESSION, "a=group:BUNDLE 0 1", *audio("0"), *audio("1"))


def ufrags(section: list[str]) -> list[str]:
    """
    Return the ice-ufrag values of one m-line.
    """
    return [line for line in section if line.startswith("a=ice-ufrag:")]


class MergedBundleTests(SynchronousTestCase):
    """
    In a merged answer, the streams follow the caller's a=group:BUNDLE
    lines, because those are the groups the offerer applies.
    """

    def test_unbundled_answer_two_streams(self) -> None:
        """
        An answer without a=group to a bundled offer gives each m-line its
        own stream.
        """
        supplied = sdp(*SESSION, *answer_audio("0"), *answer_audio("1"))
        offer = negotiate_bundle(parse_offer(BUNDLED_OFFER), supplied)
        self.assertEqual([stream.mids for stream in offer.streams], [("0",), ("1",)])

    def test_unbundled_answer_credentials(self) -> None:
        """
        Each m-line of an unbundled answer gets its own credentials and its
        own candidates.
        """
        supplied = sdp(*SESSION, *answer_audio("0"), *answer_audio("1"))
        _, first, second = sections(mirror(BUNDLED_OFFER, answer=supplied))
        self.assertEqual(ufrags(first), ["a=ice-ufrag:LocalUfrag000000"])
        self.assertEqual(ufrags(second), ["a=ice-ufrag:LocalUfrag000001"])
        self.assertIn(f"a={CANDIDATES[0].to_sdp()}", second)

    def test_caller_group_kept(self) -> None:
        """
        The caller's a=group:BUNDLE line is kept and matches the streams.
        """
        supplied = sdp(
            *SESSION, "a=group:BUNDLE 0 1", *answer_audio("0"), *answer_audio("1")
        )
        session, first, second = sections(mirror(BUNDLED_OFFER, answer=supplied))
        self.assertIn("a=group:BUNDLE 0 1", session)
        self.assertEqual(ufrags(first), ufrags(second))

    def test_group_narrowed(self) -> None:
        """
        An answer that takes an m-line out of the group and rejects it
        leaves one stream for the rest of the group.
        """
        offer_text = sdp(
            *SESSION, "a=group:BUNDLE 0 1 2", *audio("0"), *audio("1"), *audio("2")
        )
        supplied = sdp(
            *SESSION,
            "a=group:BUNDLE 0 1",
            *answer_audio("0"),
            *answer_audio("1"),
            *answer_audio("2", 0),
        )
        offer = negotiate_bundle(parse_offer(offer_text), supplied)
        self.assertEqual([stream.mids for stream in offer.streams], [("0", "1")])

    def test_rejected_first_m_line(self) -> None:
        """
        When the answer rejects the first m-line of a group, the candidates
        go in the next one.
        """
        supplied = sdp(
            *SESSION,
            "a=group:BUNDLE 1",
            *answer_audio("0", 0),
            *answer_audio("1"),
        )
        _, first, second = sections(mirror(BUNDLED_OFFER, answer=supplied))
        self.assertFalse(any(line.startswith("a=candidate:") for line in first))
        self.assertIn(f"a={CANDIDATES[0].to_sdp()}", second)

    def test_bundle_only_member_kept(self) -> None:
        """
        A bundled m-line with port 0 and a=bundle-only in the answer stays
        in its group's stream.
        """
        supplied = sdp(
            *SESSION,
            "a=group:BUNDLE 0 1",
            *answer_audio("0"),
            *answer_audio("1", 0, "a=bundle-only"),
        )
        offer = negotiate_bundle(parse_offer(BUNDLED_OFFER), supplied)
        self.assertEqual([stream.mids for stream in offer.streams], [("0", "1")])

    def test_idempotent(self) -> None:
        """
        Negotiating an already negotiated offer again changes nothing.
        """
        supplied = sdp(*SESSION, *answer_audio("0"), *answer_audio("1"))
        once = negotiate_bundle(parse_offer(BUNDLED_OFFER), supplied)
        self.assertEqual(negotiate_bundle(once, supplied), once)

    def test_unbundled_offer_bundled_rejected(self) -> None:
        """
        An answer that bundles m-lines the offer did not bundle raises
        AnswerError naming the mid.
        """
        offer_text = sdp(*SESSION, *audio("0"), *audio("1"))
        supplied = sdp(
            *SESSION, "a=group:BUNDLE 0 1", *answer_audio("0"), *answer_audio("1")
        )
        error = self.assertRaises(AnswerError, mirror, offer_text, answer=supplied)
        self.assertIn("includes mid '0', which the offer does not bundle", str(error))

    def test_groups_joined_rejected(self) -> None:
        """
        An answer that joins two offered BUNDLE groups raises AnswerError.
        """
        offer_text = sdp(
            *SESSION,
            "a=group:BUNDLE 0",
            "a=group:BUNDLE 1",
            *audio("0"),
            *audio("1"),
        )
        supplied = sdp(
            *SESSION, "a=group:BUNDLE 0 1", *answer_audio("0"), *answer_audio("1")
        )
        error = self.assertRaises(AnswerError, mirror, offer_text, answer=supplied)
        self.assertIn("different BUNDLE groups", str(error))

    def test_unknown_mid_rejected(self) -> None:
        """
        An answer group naming a mid the offer lacks raises AnswerError.
        """
        supplied = sdp(
            *SESSION, "a=group:BUNDLE 0 9", *answer_audio("0"), *answer_audio("1")
        )
        error = self.assertRaises(AnswerError, mirror, BUNDLED_OFFER, answer=supplied)
        self.assertIn("names mid '9', which no offered m-line has", str(error))

    def test_mid_in_two_groups_rejected(self) -> None:
        """
        An answer that lists one mid in two groups raises AnswerError.
        """
        supplied = sdp(
            *SESSION,
            "a=group:BUNDLE 0",
            "a=group:BUNDLE 0 1",
            *answer_audio("0"),
            *answer_audio("1"),
        )
        error = self.assertRaises(AnswerError, mirror, BUNDLED_OFFER, answer=supplied)
        self.assertIn("mid '0' is in more than one a=group:BUNDLE", str(error))

    def test_mid_order_rejected(self) -> None:
        """
        An answer whose m-lines have the offer's mids in another order
        raises AnswerError.
        """
        supplied = sdp(*SESSION, *answer_audio("1"), *answer_audio("0"))
        error = self.assertRaises(AnswerError, mirror, BUNDLED_OFFER, answer=supplied)
        self.assertIn("m-line 1 of the answer has a=mid:1", str(error))

    def test_bundle_only_unbundled_rejected(self) -> None:
        """
        An offered bundle-only m-line that the answer takes out of the group
        without rejecting it raises AnswerError.
        """
        offer_text = sdp(
            *SESSION,
            "a=group:BUNDLE 0 1",
            *audio("0"),
            *audio("1", 0),
            "a=bundle-only",
        )
        supplied = sdp(*SESSION, *answer_audio("0"), *answer_audio("1"))
        error = self.assertRaises(AnswerError, mirror, offer_text, answer=supplied)
        self.assertIn("(mid '1') is bundle-only in the offer", str(error))
