"""
Interoperability of the lite agent's checks with aioice's STUN encoding.

aioice is the full ICE agent the end-to-end tests use; these tests feed its
encoded check straight to L{twisted_ice.ice.IceAgent} and parse the response
with aioice, without sockets.
"""

from __future__ import annotations

from aioice import stun as aioice_stun
from twisted.trial.unittest import SynchronousTestCase

from tests.test_ice_checks import CANDIDATES, PATH, REMOTE_UFRAG, make_offer
from twisted_ice.ice import CheckResult, IceAgent, IceState, candidate_priority
from twisted_ice.stun import decode


class AioiceCheckTests(SynchronousTestCase):
    """
    A check encoded by aioice, as its controlling agent sends it.
    """

    def setUp(self) -> None:
        self.agent = IceAgent()
        session = self.agent.create_session(
            make_offer(), candidates=CANDIDATES, fingerprint=None, now=0.0
        )
        self.stream = session.streams[0]
        request = aioice_stun.Message(
            message_method=aioice_stun.Method.BINDING,
            message_class=aioice_stun.Class.REQUEST,
        )
        request.attributes["USERNAME"] = f"{self.stream.local_ufrag}:{REMOTE_UFRAG}"
        request.attributes["PRIORITY"] = candidate_priority(126, 65535, 1)
        request.attributes["ICE-CONTROLLING"] = 0x0102030405060708
        request.attributes["USE-CANDIDATE"] = None
        request.add_message_integrity(self.stream.local_pwd.encode("ascii"))
        self.request = request
        self.outcome = self.agent.handle_check(decode(bytes(request)), PATH, 1.0)

    def test_accepted(self) -> None:
        """
        aioice's check passes and nominates the path.
        """
        self.assertEqual(self.outcome.result, CheckResult.SUCCESS)
        self.assertEqual(self.stream.selected, PATH)
        self.assertEqual(self.stream.state, IceState.COMPLETED)

    def test_response_parsed_by_aioice(self) -> None:
        """
        aioice parses the response as a success for its transaction.
        """
        assert self.outcome.response is not None
        response = aioice_stun.parse_message(self.outcome.response)
        self.assertEqual(response.message_class, aioice_stun.Class.RESPONSE)
        self.assertEqual(response.transaction_id, self.request.transaction_id)

    def test_response_integrity(self) -> None:
        """
        aioice verifies the response's MESSAGE-INTEGRITY with our password,
        the remote password from its side.
        """
        assert self.outcome.response is not None
        response = aioice_stun.parse_message(self.outcome.response)
        key = self.stream.local_pwd.encode("ascii")
        self.assertTrue(response.check_message_integrity(key))

    def test_response_mapped_address(self) -> None:
        """
        aioice reads XOR-MAPPED-ADDRESS as its own address.
        """
        assert self.outcome.response is not None
        response = aioice_stun.parse_message(self.outcome.response)
        self.assertEqual(response.attributes["XOR-MAPPED-ADDRESS"], PATH.remote)
