"""
Tests for long-term authentication in the TURN core (RFC 8489 section 9.2),
its stateless nonces and its retransmission cache.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.test_turn_helpers import (
    CLIENT_PATH,
    KEY,
    OTHER_PATH,
    REALM,
    USERNAME,
    Client,
    error_code,
    make_core,
    responses,
)
from twisted_ice.stun import (
    AttributeType,
    MessageClass,
    Method,
    StunMessage,
    TransportProtocol,
    decode,
)
from twisted_ice.turn import NeedKeys, SendToClient, TurnCore
from twisted_ice.turn.nonces import NonceIssuer

ALLOCATE_UDP = [(AttributeType.REQUESTED_TRANSPORT, TransportProtocol.UDP)]


def unsigned_allocate(*attributes: tuple[int, object]) -> StunMessage:
    """
    Return a decoded Allocate without MESSAGE-INTEGRITY.
    """
    request = StunMessage.request(Method.ALLOCATE, [*ALLOCATE_UDP, *attributes])
    return decode(request.encode(fingerprint=True))


def signed_allocate_reply(
    core: TurnCore, *attributes: tuple[int, object]
) -> StunMessage:
    """
    Send an Allocate signed with L{KEY} and carrying C{attributes} after
    REQUESTED-TRANSPORT, and return the decoded response.
    """
    request = StunMessage.request(Method.ALLOCATE, [*ALLOCATE_UDP, *attributes])
    message = decode(request.encode(integrity_key=KEY))
    reply = core.receive_request(message, CLIENT_PATH, 0.0)
    assert isinstance(reply, SendToClient)
    return decode(reply.data)


class AuthenticationOrderTests(SynchronousTestCase):
    """
    Each check of RFC 8489 section 9.2.4, in its order.
    """

    def test_no_integrity_gets_401(self) -> None:
        """
        A request without MESSAGE-INTEGRITY gets 401 with REALM and NONCE and
        no MESSAGE-INTEGRITY.
        """
        core, _allocator = make_core()
        reply = core.receive_request(unsigned_allocate(), CLIENT_PATH, 0.0)
        assert isinstance(reply, SendToClient)
        response = decode(reply.data)
        self.assertEqual(response.message_class, MessageClass.ERROR_RESPONSE)
        self.assertEqual(error_code(response), 401)
        self.assertEqual(response.get(AttributeType.REALM), REALM)
        self.assertIsInstance(response.get(AttributeType.NONCE), str)
        self.assertFalse(response.has_integrity)
        self.assertTrue(response.has_fingerprint)

    def test_integrity_without_username_gets_400(self) -> None:
        """
        MESSAGE-INTEGRITY without USERNAME gets 400.
        """
        core, _allocator = make_core()
        nonce = Client(core).fetch_nonce(0.0)
        response = signed_allocate_reply(
            core,
            (AttributeType.REALM, REALM),
            (AttributeType.NONCE, nonce),
        )
        self.assertEqual(error_code(response), 400)

    def test_integrity_without_realm_gets_400(self) -> None:
        """
        MESSAGE-INTEGRITY without REALM gets 400.
        """
        core, _allocator = make_core()
        nonce = Client(core).fetch_nonce(0.0)
        response = signed_allocate_reply(
            core,
            (AttributeType.USERNAME, USERNAME),
            (AttributeType.NONCE, nonce),
        )
        self.assertEqual(error_code(response), 400)

    def test_integrity_without_nonce_gets_400(self) -> None:
        """
        MESSAGE-INTEGRITY without NONCE gets 400, without REALM or NONCE in
        the response.
        """
        core, _allocator = make_core()
        response = signed_allocate_reply(
            core,
            (AttributeType.USERNAME, USERNAME),
            (AttributeType.REALM, REALM),
        )
        self.assertEqual(error_code(response), 400)
        self.assertIsNone(response.get(AttributeType.NONCE))
        self.assertFalse(response.has_integrity)

    def test_userhash_without_username_gets_400(self) -> None:
        """
        USERHASH in place of USERNAME gets 400, because the server does not
        offer the username anonymity of RFC 8489.
        """
        core, _allocator = make_core()
        nonce = Client(core).fetch_nonce(0.0)
        response = signed_allocate_reply(
            core,
            (AttributeType.USERHASH, b"h" * 32),
            (AttributeType.REALM, REALM),
            (AttributeType.NONCE, nonce),
        )
        self.assertEqual(error_code(response), 400)

    def test_signed_request_needs_keys(self) -> None:
        """
        A request with USERNAME, REALM, NONCE and MESSAGE-INTEGRITY returns
        L{NeedKeys} for its username.
        """
        core, _allocator = make_core()
        message = Client(core).build(Method.ALLOCATE, ALLOCATE_UDP, 0.0)
        reply = core.receive_request(message, CLIENT_PATH, 0.0)
        self.assertEqual(reply, NeedKeys(USERNAME, REALM))

    def test_other_realm_gets_401(self) -> None:
        """
        A REALM that is not the server's gets 401 with the server's REALM.
        """
        core, _allocator = make_core()
        client = Client(core)
        nonce = client.fetch_nonce(0.0)
        response = signed_allocate_reply(
            core,
            (AttributeType.USERNAME, USERNAME),
            (AttributeType.REALM, "elsewhere.example"),
            (AttributeType.NONCE, nonce),
        )
        self.assertEqual(error_code(response), 401)
        self.assertEqual(response.get(AttributeType.REALM), REALM)

    def test_unknown_user_gets_401(self) -> None:
        """
        A user the store has no keys for (an empty list) gets 401 with REALM
        and NONCE, and no allocation.
        """
        core, allocator = make_core()
        client = Client(core)
        message = client.build(Method.ALLOCATE, ALLOCATE_UDP, 0.0)
        [response] = responses(client.send(message, 0.0, keys=[]))
        self.assertEqual(error_code(response), 401)
        self.assertEqual(response.get(AttributeType.REALM), REALM)
        self.assertIsInstance(response.get(AttributeType.NONCE), str)
        self.assertEqual(core.allocation_count, 0)
        self.assertEqual(allocator.bound, set())

    def test_bad_integrity_gets_401(self) -> None:
        """
        A request signed with the wrong password gets 401 with REALM and
        NONCE, unsigned.
        """
        core, _allocator = make_core()
        client = Client(core, password="not the password")
        message = client.build(Method.ALLOCATE, ALLOCATE_UDP, 0.0)
        [response] = responses(client.send(message, 0.0, keys=[KEY]))
        self.assertEqual(error_code(response), 401)
        self.assertEqual(response.get(AttributeType.REALM), REALM)
        self.assertIsInstance(response.get(AttributeType.NONCE), str)
        self.assertFalse(response.has_integrity)
        self.assertEqual(core.allocation_count, 0)

    def test_stale_nonce_gets_438(self) -> None:
        """
        A correctly signed request with an expired nonce gets 438 with REALM
        and a fresh NONCE.
        """
        core, _allocator = make_core()
        client = Client(core)
        old_nonce = client.fetch_nonce(0.0)
        message = client.build(Method.ALLOCATE, ALLOCATE_UDP, 601.0)
        [response] = responses(client.send(message, 601.0))
        self.assertEqual(error_code(response), 438)
        self.assertEqual(response.get(AttributeType.REALM), REALM)
        new_nonce = response.get(AttributeType.NONCE)
        self.assertIsInstance(new_nonce, str)
        self.assertNotEqual(new_nonce, old_nonce)
        self.assertEqual(core.allocation_count, 0)

    def test_forged_nonce_gets_438(self) -> None:
        """
        A nonce this server did not issue gets 438.
        """
        core, _allocator = make_core()
        client = Client(core)
        client.nonce = "ffffffff.AAAAAAAAAAAAAAAAAAAAAA"
        message = client.build(Method.ALLOCATE, ALLOCATE_UDP, 0.0)
        [response] = responses(client.send(message, 0.0))
        self.assertEqual(error_code(response), 438)

    def test_nonce_of_other_client_gets_438(self) -> None:
        """
        A nonce issued to another client transport address gets 438.
        """
        core, _allocator = make_core()
        client = Client(core, path=OTHER_PATH)
        client.nonce = Client(core).fetch_nonce(0.0)
        message = client.build(Method.ALLOCATE, ALLOCATE_UDP, 0.0)
        [response] = responses(client.send(message, 0.0))
        self.assertEqual(error_code(response), 438)

    def test_fresh_nonce_after_438_succeeds(self) -> None:
        """
        After a 438 the request with the new nonce succeeds.
        """
        core, _allocator = make_core()
        client = Client(core)
        client.fetch_nonce(0.0)
        message = client.build(Method.ALLOCATE, ALLOCATE_UDP, 700.0)
        [stale] = responses(client.send(message, 700.0))
        client.nonce = stale.get(AttributeType.NONCE)
        response = client.allocate(now=700.0)
        self.assertEqual(response.message_class, MessageClass.SUCCESS_RESPONSE)
        self.assertEqual(core.allocation_count, 1)

    def test_second_key_matches(self) -> None:
        """
        Any of the keys the store returns may match, as when REST secrets
        rotate.
        """
        core, _allocator = make_core()
        client = Client(core)
        message = client.build(Method.ALLOCATE, ALLOCATE_UDP, 0.0)
        [response] = responses(client.send(message, 0.0, keys=[b"x" * 16, KEY]))
        self.assertEqual(response.message_class, MessageClass.SUCCESS_RESPONSE)
        self.assertTrue(response.check_integrity(KEY))

    def test_response_signed_with_key(self) -> None:
        """
        A response to an authenticated request carries MESSAGE-INTEGRITY with
        the user's key, and FINGERPRINT because the request had one.
        """
        core, _allocator = make_core()
        response = Client(core).allocate()
        self.assertTrue(response.check_integrity(KEY))
        self.assertTrue(response.check_fingerprint())

    def test_error_after_authentication_signed(self) -> None:
        """
        An error response after authentication (437 here) is signed.
        """
        core, _allocator = make_core()
        response = Client(core).refresh(600)
        self.assertEqual(error_code(response), 437)
        self.assertTrue(response.check_integrity(KEY))

    def test_unknown_comprehension_required_gets_420(self) -> None:
        """
        An unknown comprehension-required attribute gets a signed 420 that
        lists it in UNKNOWN-ATTRIBUTES.
        """
        core, _allocator = make_core()
        response = Client(core).allocate([(0x7FFF, b"????")])
        self.assertEqual(error_code(response), 420)
        self.assertEqual(response.get(AttributeType.UNKNOWN_ATTRIBUTES), (0x7FFF,))
        self.assertTrue(response.check_integrity(KEY))
        self.assertEqual(core.allocation_count, 0)

    def test_software_in_responses(self) -> None:
        """
        The configured SOFTWARE goes into responses.
        """
        core, _allocator = make_core(software="twisted-ice")
        response = Client(core).allocate()
        self.assertEqual(response.get(AttributeType.SOFTWARE), "twisted-ice")


class UnauthenticatedStateTests(SynchronousTestCase):
    """
    No unauthenticated packet creates state.
    """

    def test_challenge_creates_nothing(self) -> None:
        """
        Many unauthenticated requests leave no allocation, no cached
        response and no timer.
        """
        core, allocator = make_core()
        for index in range(100):
            core.receive_request(unsigned_allocate(), CLIENT_PATH, float(index))
        self.assertEqual(core.allocation_count, 0)
        self.assertEqual(allocator.bound, set())
        self.assertIsNone(core.next_deadline())
        self.assertEqual(len(core._cache), 0)

    def test_failed_integrity_creates_nothing(self) -> None:
        """
        A request that fails integrity leaves nothing cached.
        """
        core, _allocator = make_core()
        client = Client(core, password="wrong")
        message = client.build(Method.ALLOCATE, ALLOCATE_UDP, 0.0)
        client.send(message, 0.0, keys=[KEY])
        self.assertEqual(len(core._cache), 0)
        self.assertIsNone(core.next_deadline())

    def test_response_is_not_request(self) -> None:
        """
        A STUN response given to the core is dropped.
        """
        core, _allocator = make_core()
        response = unsigned_allocate().success_response()
        self.assertIsNone(
            core.receive_request(decode(response.encode()), CLIENT_PATH, 0)
        )

    def test_bad_fingerprint_dropped(self) -> None:
        """
        A request whose FINGERPRINT does not match is dropped.
        """
        core, _allocator = make_core()
        data = bytearray(unsigned_allocate().raw or b"")
        data[-1] ^= 0xFF
        self.assertIsNone(core.receive_request(decode(bytes(data)), CLIENT_PATH, 0.0))

    def test_binding_method_gets_400(self) -> None:
        """
        A request of a method that is not TURN's gets 400.
        """
        core, _allocator = make_core()
        message = decode(StunMessage.request(Method.BINDING).encode())
        reply = core.receive_request(message, CLIENT_PATH, 0.0)
        assert isinstance(reply, SendToClient)
        self.assertEqual(error_code(decode(reply.data)), 400)


class RetransmissionTests(SynchronousTestCase):
    """
    A retransmitted request within 40 s gets the same response.
    """

    def test_allocate_retransmission_same_bytes(self) -> None:
        """
        The same Allocate again gets the same bytes, before any key lookup,
        and no second allocation.
        """
        core, allocator = make_core()
        client = Client(core)
        message = client.build(Method.ALLOCATE, ALLOCATE_UDP, 0.0)
        [first] = [a for a in client.send(message, 0.0) if isinstance(a, SendToClient)]
        again = core.receive_request(message, CLIENT_PATH, 39.0)
        self.assertEqual(again, first)
        self.assertEqual(len(allocator.bound), 1)

    def test_allocate_retransmission_after_window(self) -> None:
        """
        After 40 s the same Allocate still gets the same success, from the
        allocation.
        """
        core, _allocator = make_core()
        client = Client(core)
        message = client.build(Method.ALLOCATE, ALLOCATE_UDP, 0.0)
        [first] = [a for a in client.send(message, 0.0) if isinstance(a, SendToClient)]
        self.assertIsInstance(
            core.receive_request(message, CLIENT_PATH, 41.0), NeedKeys
        )
        [again] = core.authenticated_request(message, CLIENT_PATH, [KEY], 41.0)
        self.assertEqual(again, first)

    def test_refresh_delete_retransmission_not_437(self) -> None:
        """
        A retransmitted Refresh with LIFETIME 0 gets the same success, not
        437, although the allocation is gone.
        """
        core, _allocator = make_core()
        client = Client(core)
        client.allocate()
        message = client.build(Method.REFRESH, [(AttributeType.LIFETIME, 0)], 1.0)
        [first] = responses(client.send(message, 1.0))
        [again] = responses(client.send(message, 2.0))
        self.assertEqual(again.message_class, MessageClass.SUCCESS_RESPONSE)
        self.assertEqual(again.raw, first.raw)

    def test_other_transaction_gets_437(self) -> None:
        """
        A second Allocate with another transaction id on the same path gets
        437.
        """
        core, _allocator = make_core()
        client = Client(core)
        client.allocate()
        self.assertEqual(error_code(client.allocate(now=1.0)), 437)

    def test_cache_bounded(self) -> None:
        """
        The cache keeps at most C{max_cached_responses} responses.
        """
        core, _allocator = make_core(max_cached_responses=3)
        client = Client(core)
        client.allocate()
        for index in range(10):
            client.refresh(600, now=float(index))
        self.assertEqual(len(core._cache), 3)


class NonceTests(SynchronousTestCase):
    """
    Tests for L{NonceIssuer}.
    """

    def test_valid_until_lifetime(self) -> None:
        """
        A nonce is valid before its lifetime ends and stale from then on.
        """
        issuer = NonceIssuer(b"s" * 32, 600.0)
        nonce = issuer.issue(CLIENT_PATH, 0.0)
        self.assertTrue(issuer.is_valid(nonce, CLIENT_PATH, 599.0))
        self.assertFalse(issuer.is_valid(nonce, CLIENT_PATH, 600.0))

    def test_bound_to_client(self) -> None:
        """
        A nonce is valid only from the client it was issued to.
        """
        issuer = NonceIssuer(b"s" * 32, 600.0)
        nonce = issuer.issue(CLIENT_PATH, 0.0)
        self.assertFalse(issuer.is_valid(nonce, OTHER_PATH, 1.0))

    def test_bound_to_secret(self) -> None:
        """
        A nonce of another server secret is not valid.
        """
        nonce = NonceIssuer(b"a" * 32, 600.0).issue(CLIENT_PATH, 0.0)
        issuer = NonceIssuer(b"b" * 32, 600.0)
        self.assertFalse(issuer.is_valid(nonce, CLIENT_PATH, 1.0))

    def test_malformed_nonces(self) -> None:
        """
        Malformed nonces are not valid, and raise nothing.
        """
        issuer = NonceIssuer(b"s" * 32, 600.0)
        for nonce in ("", ".", "zz.abc", "1" * 40 + ".abc", "ffffffff", "-1.a"):
            self.assertFalse(issuer.is_valid(nonce, CLIENT_PATH, 0.0), nonce)

    def test_shorter_than_128_characters(self) -> None:
        """
        A nonce is shorter than 128 characters (RFC 8489 section 14.10).
        """
        nonce = NonceIssuer(b"s" * 32, 600.0).issue(CLIENT_PATH, 1e12)
        self.assertLess(len(nonce), 128)
