"""
Tests for L{twisted_ice.ice.parse_offer}.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from twisted_ice.ice import (
    Credentials,
    Group,
    Offer,
    OfferError,
    build_answer,
    host_candidates,
    parse_offer,
)

CHROME_OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1 2",
        "a=extmap-allow-mixed",
        "a=msid-semantic: WMS 9d5e1a47-2f7e-4d8e-9b25-7f3f6c0f0a11",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=ice-ufrag:Hk3a",
        "a=ice-pwd:q8pZk0bXo3Vd5sLrT2yUeW9n",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 5B:2C:8E:21:04:9F:3A:B6:7D:0E:C1:55:92:AF:4E:31:6C:D8:07:BB:19:E2:53:7A:90:FE:62:48:C3:1D:AA:5E",  # noqa: E501 (a real SDP line)
        "a=setup:actpass",
        "a=mid:0",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",  # noqa: E501 (a real SDP line)
        "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=sendrecv",
        "a=msid:9d5e1a47-2f7e-4d8e-9b25-7f3f6c0f0a11 6b1c3f0e-5a0d-4c39-8e1f-2d7b9a4c6e21",  # noqa: E501 (a real SDP line)
        "a=rtcp-mux",
        "a=rtcp-rsize",
        "a=rtpmap:111 opus/48000/2",
        "a=rtcp-fb:111 transport-cc",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=rtpmap:63 red/48000/2",
        "a=fmtp:63 111/111",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:13 CN/8000",
        "a=rtpmap:110 telephone-event/48000",
        "a=rtpmap:126 telephone-event/8000",
        "a=ssrc:1001 cname:kq3Yb7Pp8vXw2Lz1",
        "a=ssrc:1001 msid:9d5e1a47-2f7e-4d8e-9b25-7f3f6c0f0a11 6b1c3f0e-5a0d-4c39-8e1f-2d7b9a4c6e21",  # noqa: E501 (a real SDP line)
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=ice-ufrag:Hk3a",
        "a=ice-pwd:q8pZk0bXo3Vd5sLrT2yUeW9n",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 5B:2C:8E:21:04:9F:3A:B6:7D:0E:C1:55:92:AF:4E:31:6C:D8:07:BB:19:E2:53:7A:90:FE:62:48:C3:1D:AA:5E",  # noqa: E501 (a real SDP line)
        "a=setup:actpass",
        "a=mid:1",
        "a=extmap:14 urn:ietf:params:rtp-hdrext:toffset",
        "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=recvonly",
        "a=rtcp-mux",
        "a=rtcp-rsize",
        "a=rtpmap:96 VP8/90000",
        "a=rtcp-fb:96 goog-remb",
        "a=rtcp-fb:96 transport-cc",
        "a=rtcp-fb:96 ccm fir",
        "a=rtcp-fb:96 nack",
        "a=rtcp-fb:96 nack pli",
        "a=rtpmap:97 rtx/90000",
        "a=fmtp:97 apt=96",
        "a=rtpmap:102 H264/90000",
        "a=rtcp-fb:102 nack pli",
        "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",  # noqa: E501 (a real SDP line)
        "a=rtpmap:103 rtx/90000",
        "a=fmtp:103 apt=102",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "c=IN IP4 0.0.0.0",
        "a=ice-ufrag:Hk3a",
        "a=ice-pwd:q8pZk0bXo3Vd5sLrT2yUeW9n",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 5B:2C:8E:21:04:9F:3A:B6:7D:0E:C1:55:92:AF:4E:31:6C:D8:07:BB:19:E2:53:7A:90:FE:62:48:C3:1D:AA:5E",  # noqa: E501 (a real SDP line)
        "a=setup:actpass",
        "a=mid:2",
        "a=sctp-port:5000",
        "a=max-message-size:262144",
        "",
    ]
)
"""
An offer as Chrome writes it (libwebrtc, unified plan): audio, video and a
data channel in one BUNDLE group, trickle ICE, no candidates yet.
"""

FIREFOX_OFFER = "\r\n".join(
    [
        "v=0",
        "o=mozilla...THIS_IS_SDPARTA-128.0 3047916233154384121 0 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "a=fingerprint:sha-256 0E:61:5C:94:2B:7A:D3:18:FF:40:6E:A9:2C:57:B1:E3:90:0D:4F:86:C2:3B:7D:15:A8:E6:51:09:CC:72:3F:B4",  # noqa: E501 (a real SDP line)
        "a=group:BUNDLE 0 1 2",
        "a=ice-options:trickle",
        "a=msid-semantic:WMS *",
        "m=audio 54321 UDP/TLS/RTP/SAVPF 109 9 0 8 101",
        "c=IN IP4 127.0.0.1",
        "a=candidate:0 1 UDP 2122252543 127.0.0.1 54321 typ host",
        "a=candidate:1 1 TCP 2105524479 127.0.0.1 9 typ host tcptype active",
        "a=sendrecv",
        "a=end-of-candidates",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level",
        "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1",
        "a=fmtp:101 0-15",
        "a=ice-pwd:7e2c3b8a91d04f65a8c1e3b7d29f0a46",
        "a=ice-ufrag:5a1f9c2e",
        "a=mid:0",
        "a=msid:{4c8d5e2f-1a3b-4c6d-8e9f-0a1b2c3d4e5f} {7f6e5d4c-3b2a-1908-f7e6-d5c4b3a29180}",  # noqa: E501 (a real SDP line)
        "a=rtcp-mux",
        "a=rtpmap:109 opus/48000/2",
        "a=rtpmap:9 G722/8000/1",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=setup:actpass",
        "a=ssrc:2918273645 cname:{a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d}",
        "m=video 54321 UDP/TLS/RTP/SAVPF 120 124 121 125 126 127 97 98",
        "c=IN IP4 127.0.0.1",
        "a=sendrecv",
        "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=extmap:4 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        "a=extmap:5 urn:ietf:params:rtp-hdrext:toffset",
        "a=fmtp:126 profile-level-id=42e01f;level-asymmetry-allowed=1;packetization-mode=1",  # noqa: E501 (a real SDP line)
        "a=fmtp:97 profile-level-id=42e01f;level-asymmetry-allowed=1",
        "a=fmtp:120 max-fs=12288;max-fr=60",
        "a=fmtp:124 apt=120",
        "a=fmtp:121 max-fs=12288;max-fr=60",
        "a=fmtp:125 apt=121",
        "a=fmtp:127 apt=126",
        "a=fmtp:98 apt=97",
        "a=ice-pwd:7e2c3b8a91d04f65a8c1e3b7d29f0a46",
        "a=ice-ufrag:5a1f9c2e",
        "a=mid:1",
        "a=msid:{4c8d5e2f-1a3b-4c6d-8e9f-0a1b2c3d4e5f} {0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d}",  # noqa: E501 (a real SDP line)
        "a=rtcp-fb:120 nack",
        "a=rtcp-fb:120 nack pli",
        "a=rtcp-fb:120 ccm fir",
        "a=rtcp-fb:120 goog-remb",
        "a=rtcp-fb:121 nack",
        "a=rtcp-mux",
        "a=rtcp-rsize",
        "a=rtpmap:120 VP8/90000",
        "a=rtpmap:124 rtx/90000",
        "a=rtpmap:121 VP9/90000",
        "a=rtpmap:125 rtx/90000",
        "a=rtpmap:126 H264/90000",
        "a=rtpmap:127 rtx/90000",
        "a=rtpmap:97 H264/90000",
        "a=rtpmap:98 rtx/90000",
        "a=setup:actpass",
        "a=ssrc:3051627384 cname:{a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d}",
        "m=application 54321 UDP/DTLS/SCTP webrtc-datachannel",
        "c=IN IP4 127.0.0.1",
        "a=sendrecv",
        "a=ice-pwd:7e2c3b8a91d04f65a8c1e3b7d29f0a46",
        "a=ice-ufrag:5a1f9c2e",
        "a=mid:2",
        "a=setup:actpass",
        "a=sctp-port:5000",
        "a=max-message-size:1073741823",
        "",
    ]
)
"""
An offer as Firefox writes it: fingerprint and ice-options at session level,
candidates gathered in the first m-line.
"""

CHROME_FINGERPRINT = (
    "sha-256 5B:2C:8E:21:04:9F:3A:B6:7D:0E:C1:55:92:AF:4E:31:6C:D8:07:BB:19:"
    "E2:53:7A:90:FE:62:48:C3:1D:AA:5E"
)

SESSION = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "t=0 0"]
CREDENTIALS = ["a=ice-ufrag:Cl1e", "a=ice-pwd:clientpasswordclientpw"]


def sdp(*lines: str) -> str:
    """
    Join SDP lines with CRLF.
    """
    return "\r\n".join(lines) + "\r\n"


def audio(mid: str | None = "0", port: int = 9, credentials: bool = True) -> list[str]:
    """
    Return the lines of an audio m-line.
    """
    lines = [f"m=audio {port} UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0"]
    if credentials:
        lines.extend(CREDENTIALS)
    if mid is not None:
        lines.append(f"a=mid:{mid}")
    lines.extend(["a=rtcp-mux", "a=rtpmap:111 opus/48000/2"])
    return lines


class ChromeOfferTests(SynchronousTestCase):
    """
    Parsing Chrome's offer.
    """

    def setUp(self) -> None:
        self.offer = parse_offer(CHROME_OFFER)

    def test_media(self) -> None:
        """
        The three m-lines are audio, video and application, with their mids.
        """
        self.assertEqual(
            [item.kind for item in self.offer.media], ["audio", "video", "application"]
        )
        self.assertEqual([item.mid for item in self.offer.media], ["0", "1", "2"])

    def test_formats(self) -> None:
        """
        The formats are kept in offer order.
        """
        self.assertEqual(
            self.offer.media[0].formats,
            ("111", "63", "9", "0", "8", "13", "110", "126"),
        )
        self.assertEqual(self.offer.media[2].formats, ("webrtc-datachannel",))

    def test_bundle(self) -> None:
        """
        The BUNDLE group names all three mids.
        """
        self.assertEqual(self.offer.groups, (Group("BUNDLE", ("0", "1", "2")),))

    def test_one_stream(self) -> None:
        """
        One BUNDLE group makes one stream with Chrome's credentials.
        """
        (stream,) = self.offer.streams
        self.assertEqual(stream.mids, ("0", "1", "2"))
        self.assertEqual(stream.ufrag, "Hk3a")
        self.assertEqual(stream.pwd, "q8pZk0bXo3Vd5sLrT2yUeW9n")
        self.assertTrue(stream.rtcp_mux)

    def test_ice_options(self) -> None:
        """
        Chrome offers trickle ICE.
        """
        self.assertEqual(self.offer.media[0].ice_options, ("trickle",))

    def test_dtls(self) -> None:
        """
        Setup and fingerprint are read per m-line.
        """
        self.assertEqual(self.offer.media[0].setup, "actpass")
        self.assertEqual(self.offer.media[0].fingerprint, CHROME_FINGERPRINT)

    def test_directions(self) -> None:
        """
        The audio m-line is sendrecv and the video one recvonly.
        """
        self.assertEqual(self.offer.media[0].direction, "sendrecv")
        self.assertEqual(self.offer.media[1].direction, "recvonly")

    def test_no_candidates(self) -> None:
        """
        A trickle offer has no candidates yet.
        """
        self.assertEqual(self.offer.media[0].candidates, ())
        self.assertFalse(self.offer.media[0].end_of_candidates)

    def test_lf_line_endings(self) -> None:
        """
        LF line endings parse the same as CRLF.
        """
        offer = parse_offer(CHROME_OFFER.replace("\r\n", "\n"))
        self.assertEqual(offer, self.offer)


class FirefoxOfferTests(SynchronousTestCase):
    """
    Parsing Firefox's offer.
    """

    def setUp(self) -> None:
        self.offer = parse_offer(FIREFOX_OFFER)

    def test_session_level(self) -> None:
        """
        Firefox puts the fingerprint and ice-options at session level.
        """
        self.assertEqual(self.offer.session_ice_options, ("trickle",))
        assert self.offer.session_fingerprint is not None
        self.assertTrue(self.offer.session_fingerprint.startswith("sha-256 0E:61"))

    def test_session_level_inherited(self) -> None:
        """
        The m-lines inherit the session-level fingerprint and ice-options.
        """
        self.assertEqual(
            self.offer.media[1].fingerprint, self.offer.session_fingerprint
        )
        self.assertEqual(self.offer.media[1].ice_options, ("trickle",))

    def test_credentials(self) -> None:
        """
        The media-level credentials are those of the stream.
        """
        (stream,) = self.offer.streams
        self.assertEqual(stream.ufrag, "5a1f9c2e")
        self.assertEqual(stream.pwd, "7e2c3b8a91d04f65a8c1e3b7d29f0a46")

    def test_candidates(self) -> None:
        """
        The gathered candidates are parsed, and end-of-candidates seen.
        """
        candidates = self.offer.media[0].candidates
        self.assertEqual(len(candidates), 2)
        self.assertEqual(candidates[0].host, "127.0.0.1")
        self.assertEqual(candidates[0].port, 54321)
        self.assertEqual(candidates[1].tcptype, "active")
        self.assertTrue(self.offer.media[0].end_of_candidates)

    def test_data_channel(self) -> None:
        """
        The data channel m-line keeps its sctp-port and max-message-size.
        """
        application = self.offer.media[2]
        self.assertEqual(application.proto, "UDP/DTLS/SCTP")
        self.assertEqual(application.values("sctp-port"), ["5000"])
        self.assertEqual(application.values("max-message-size"), ["1073741823"])


class OfferStructureTests(SynchronousTestCase):
    """
    Streams from BUNDLE groups, unbundled and rejected m-lines.
    """

    def test_session_level_credentials(self) -> None:
        """
        Credentials at session level apply to m-lines without their own.
        """
        offer = parse_offer(sdp(*SESSION, *CREDENTIALS, *audio(credentials=False)))
        self.assertEqual(offer.session_ufrag, "Cl1e")
        self.assertEqual(offer.streams[0].ufrag, "Cl1e")

    def test_media_level_overrides(self) -> None:
        """
        Media-level credentials take precedence over session-level ones.
        """
        offer = parse_offer(
            sdp(
                *SESSION,
                "a=ice-ufrag:Sess",
                "a=ice-pwd:sessionpasswordsession",
                *audio(),
            )
        )
        self.assertEqual(offer.streams[0].ufrag, "Cl1e")

    def test_unbundled_streams(self) -> None:
        """
        Each m-line outside a BUNDLE group is its own stream.
        """
        offer = parse_offer(sdp(*SESSION, *audio("a"), *audio("b")))
        self.assertEqual([stream.mids for stream in offer.streams], [("a",), ("b",)])

    def test_rejected_m_line_no_stream(self) -> None:
        """
        An m-line with port 0 makes no stream and needs no credentials.
        """
        offer = parse_offer(
            sdp(*SESSION, *audio("a"), *audio("b", port=0, credentials=False))
        )
        self.assertTrue(offer.media[1].rejected)
        self.assertEqual([stream.mids for stream in offer.streams], [("a",)])

    def test_bundle_only_not_rejected(self) -> None:
        """
        Port 0 with a=bundle-only is part of its BUNDLE group.
        """
        offer = parse_offer(
            sdp(
                *SESSION,
                "a=group:BUNDLE a b",
                *audio("a"),
                *audio("b", port=0, credentials=False),
                "a=bundle-only",
            )
        )
        self.assertFalse(offer.media[1].rejected)
        self.assertEqual(offer.streams[0].mids, ("a", "b"))

    def test_rtcp_mux_absent(self) -> None:
        """
        A stream without a=rtcp-mux has two components.
        """
        lines = [line for line in audio() if line != "a=rtcp-mux"]
        offer = parse_offer(sdp(*SESSION, *lines))
        self.assertFalse(offer.streams[0].rtcp_mux)


class OfferErrorTests(SynchronousTestCase):
    """
    An offer that cannot be answered raises L{OfferError} naming the problem.
    """

    def assert_error(self, offer: str, *fragments: str) -> None:
        """
        Assert that parsing C{offer} raises L{OfferError} with a message that
        contains each of C{fragments}.
        """
        error = self.assertRaises(OfferError, parse_offer, offer)
        for fragment in fragments:
            self.assertIn(fragment, str(error))

    def test_is_value_error(self) -> None:
        """
        L{OfferError} is a L{ValueError}.
        """
        self.assertTrue(issubclass(OfferError, ValueError))

    def test_no_m_line(self) -> None:
        """
        An offer without media is rejected.
        """
        self.assert_error(sdp(*SESSION), "no m-line")

    def test_no_ufrag(self) -> None:
        """
        An m-line without ice-ufrag at either level is rejected.
        """
        lines = [line for line in audio() if not line.startswith("a=ice-ufrag")]
        self.assert_error(sdp(*SESSION, *lines), "m-line 1 (audio)", "a=ice-ufrag")

    def test_no_pwd(self) -> None:
        """
        An m-line without ice-pwd at either level is rejected.
        """
        lines = [line for line in audio() if not line.startswith("a=ice-pwd")]
        self.assert_error(sdp(*SESSION, *lines), "m-line 1 (audio)", "a=ice-pwd")

    def test_short_ufrag(self) -> None:
        """
        A ufrag of 3 characters is below RFC 8839's minimum of 4.
        """
        lines = [line.replace("Cl1e", "Cl1") for line in audio()]
        self.assert_error(
            sdp(*SESSION, *lines), "invalid a=ice-ufrag 'Cl1'", "4 to 256"
        )

    def test_ufrag_bad_character(self) -> None:
        """
        A ufrag with a character outside ice-char is rejected.
        """
        lines = [line.replace("Cl1e", "Cl-1e") for line in audio()]
        self.assert_error(sdp(*SESSION, *lines), "invalid a=ice-ufrag 'Cl-1e'")

    def test_short_pwd(self) -> None:
        """
        A password of 21 characters is below RFC 8839's minimum of 22.
        """
        lines = [
            "a=ice-pwd:" + "p" * 21 if line.startswith("a=ice-pwd") else line
            for line in audio()
        ]
        self.assert_error(sdp(*SESSION, *lines), "invalid a=ice-pwd of 21", "22 to 256")

    def test_long_ufrag(self) -> None:
        """
        A ufrag of 257 characters is above RFC 8839's maximum of 256.
        """
        lines = [line.replace("Cl1e", "u" * 257) for line in audio()]
        self.assert_error(sdp(*SESSION, *lines), "invalid a=ice-ufrag")

    def test_invalid_session_pwd(self) -> None:
        """
        An invalid session-level password is rejected too.
        """
        self.assert_error(
            sdp(*SESSION, "a=ice-pwd:short", *audio()), "the session level", "a=ice-pwd"
        )

    def test_bundle_without_mid(self) -> None:
        """
        An m-line without a=mid in an offer using BUNDLE is rejected.
        """
        self.assert_error(
            sdp(*SESSION, "a=group:BUNDLE 0", *audio("0"), *audio(None)),
            "m-line 2 (audio) has no a=mid",
            "BUNDLE",
        )

    def test_bundle_unknown_mid(self) -> None:
        """
        A BUNDLE group naming a mid no m-line has is rejected.
        """
        self.assert_error(
            sdp(*SESSION, "a=group:BUNDLE 0 7", *audio("0")), "mid '7'", "no m-line"
        )

    def test_mid_in_two_bundles(self) -> None:
        """
        A mid may be in only one BUNDLE group.
        """
        self.assert_error(
            sdp(*SESSION, "a=group:BUNDLE 0", "a=group:BUNDLE 0", *audio("0")),
            "more than one",
        )

    def test_duplicate_mid(self) -> None:
        """
        Two m-lines with the same mid are rejected.
        """
        self.assert_error(
            sdp(*SESSION, *audio("x"), *audio("x")), "m-line 2 (audio)", "repeats"
        )

    def test_bad_m_line(self) -> None:
        """
        An m-line without formats is rejected with its line number.
        """
        self.assert_error(sdp(*SESSION, "m=audio 9 RTP/AVP"), "line 5", "format")

    def test_bad_port(self) -> None:
        """
        An m-line port that is not a number is rejected.
        """
        self.assert_error(sdp(*SESSION, "m=audio x RTP/AVP 0"), "port 'x'")

    def test_bad_candidate(self) -> None:
        """
        A malformed candidate line is rejected with its m-line.
        """
        self.assert_error(
            sdp(*SESSION, *audio(), "a=candidate:1 1 udp"),
            "m-line 1 (audio)",
            "candidate",
        )

    def test_bad_setup(self) -> None:
        """
        An a=setup value outside RFC 4145's four is rejected.
        """
        self.assert_error(sdp(*SESSION, *audio(), "a=setup:client"), "a=setup:client")

    def test_not_sdp(self) -> None:
        """
        Text that is not SDP is rejected with the offending line.
        """
        self.assert_error("hello world\r\n", "line 1", "hello world")


CHROME_LINES = CHROME_OFFER.split("\r\n")


def answer_or_error(text: str) -> None:
    """
    Parse C{text} and answer it; only L{OfferError} may escape.
    """
    try:
        offer = parse_offer(text)
    except OfferError:
        return
    assert isinstance(offer, Offer)
    credentials = [
        Credentials("LocalUfrag", "p" * 22, item.ufrag, item.pwd, b"p" * 22)
        for item in offer.streams
    ]
    answer = build_answer(
        offer,
        credentials,
        candidates=host_candidates(["127.0.0.1"], 9000),
        fingerprint="sha-256 AB",
    )
    assert answer.endswith("\r\n")


class OfferFuzzTests(SynchronousTestCase):
    """
    Arbitrary offers give an answer or an L{OfferError}, nothing else.
    """

    @settings(max_examples=200, deadline=None)
    @given(st.text(max_size=400))
    def test_random_text(self, text: str) -> None:
        """
        Random text never raises anything but L{OfferError}.
        """
        answer_or_error(text)

    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(st.sampled_from(range(len(CHROME_LINES))), max_size=10),
        st.lists(st.text(max_size=40), max_size=5),
    )
    def test_mutated_chrome_offer(self, dropped: list[int], extra: list[str]) -> None:
        """
        Chrome's offer with lines dropped and random lines appended never
        raises anything but L{OfferError}.
        """
        lines = [
            line for index, line in enumerate(CHROME_LINES) if index not in dropped
        ]
        answer_or_error("\r\n".join(lines + extra))
