"""
Replays of connectivity checks captured from Chromium 156 (Debian 12 build)
connecting to the lite agent on loopback.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.test_ice_checks import CANDIDATES, make_offer
from twisted_ice.addresses import Path, Transport
from twisted_ice.ice import CheckResult, Credentials, IceAgent, IceState, Stream
from twisted_ice.stun import AttributeType, decode

LOCAL_UFRAG = "1WQ3YYxiRv+Ewj8Y"
LOCAL_PWD = "CJYll6e1pFWcLiX3xV5dlbD+HJdhf4tk"
REMOTE_UFRAG = "ZYJB"
REMOTE_PWD = "UeZfgFX4p/t2uDa4a2T5MCka"
PATH = Path(Transport.UDP, ("127.0.0.1", 9000), ("127.0.0.1", 45076))

FIRST_CHECK = bytes.fromhex(
    "000100582112a4424e476969456a646f667a5a7200060015315751335959786952762b45"
    "776a38593a5a594a42000000c0570004000003e7802a0008ab000a1f1685adb900240004"
    "6e001eff00080014a27c984bfc00028ae2170d72cc386cf3cd823b5780280004cdd58f54"
)
"""
Chromium's first check: USERNAME, GOOG-NETWORK-INFO (0xC057),
ICE-CONTROLLING and PRIORITY, without USE-CANDIDATE.
"""

NOMINATING_CHECK = bytes.fromhex(
    "0001005c2112a442566d704c7546446d58514f3900060015315751335959786952762b45"
    "776a38593a5a594a42000000c0570004000003e7802a0008ab000a1f1685adb900250000"
    "002400046e001eff00080014d895b86ea08684c59e0acbebbfafa110a9a5df9e80280004"
    "e8de7ad3"
)
"""
Chromium's next check on the same pair, with USE-CANDIDATE.
"""


class CapturedChromiumTests(SynchronousTestCase):
    """
    Chromium's captured checks, against a stream with the captured
    credentials.
    """

    def setUp(self) -> None:
        self.agent = IceAgent()
        credentials = Credentials(
            LOCAL_UFRAG,
            LOCAL_PWD,
            REMOTE_UFRAG,
            REMOTE_PWD,
            LOCAL_PWD.encode("ascii"),
        )
        self.patch(Credentials, "generate", classmethod(lambda cls, u, p: credentials))
        session = self.agent.create_session(
            make_offer(ufrag=REMOTE_UFRAG, pwd=REMOTE_PWD),
            candidates=CANDIDATES,
            fingerprint=None,
            now=0.0,
        )
        self.stream: Stream = session.streams[0]

    def test_first_check_connects(self) -> None:
        """
        The first check passes and makes the stream connected.
        """
        outcome = self.agent.handle_check(decode(FIRST_CHECK), PATH, 1.0)
        self.assertEqual(outcome.result, CheckResult.SUCCESS)
        self.assertEqual(self.stream.state, IceState.CONNECTED)

    def test_nominating_check_completes(self) -> None:
        """
        The check with USE-CANDIDATE selects the pair.
        """
        self.agent.handle_check(decode(FIRST_CHECK), PATH, 1.0)
        self.agent.handle_check(decode(NOMINATING_CHECK), PATH, 1.1)
        self.assertEqual(self.stream.selected, PATH)
        self.assertEqual(self.stream.state, IceState.COMPLETED)

    def test_response_signed(self) -> None:
        """
        The response carries XOR-MAPPED-ADDRESS and verifies with our
        password.
        """
        outcome = self.agent.handle_check(decode(NOMINATING_CHECK), PATH, 1.0)
        assert outcome.response is not None
        response = decode(outcome.response)
        self.assertEqual(response.get(AttributeType.XOR_MAPPED_ADDRESS), PATH.remote)
        self.assertTrue(response.check_integrity(LOCAL_PWD.encode("ascii")))
        self.assertTrue(response.check_fingerprint())

    def test_other_password_gets_401(self) -> None:
        """
        The same bytes against a stream with another password get 401.
        """
        agent = IceAgent()
        credentials = Credentials(
            LOCAL_UFRAG, "x" * 32, REMOTE_UFRAG, REMOTE_PWD, b"x" * 32
        )
        self.patch(Credentials, "generate", classmethod(lambda cls, u, p: credentials))
        agent.create_session(
            make_offer(ufrag=REMOTE_UFRAG, pwd=REMOTE_PWD),
            candidates=CANDIDATES,
            fingerprint=None,
            now=0.0,
        )
        outcome = agent.handle_check(decode(FIRST_CHECK), PATH, 1.0)
        self.assertEqual(outcome.result, CheckResult.BAD_INTEGRITY)
