"""
Tests for Allocate and Refresh in the TURN core (RFC 8656 sections 7 and 8).
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.test_turn_helpers import (
    CLIENT_PATH,
    OTHER_PATH,
    RELAY_HOST,
    RELAY_HOST6,
    TCP_PATH,
    Client,
    FakeAllocator,
    error_code,
    make_core,
    relayed_address,
    responses,
)
from twisted_ice.stun import (
    AddressErrorCode,
    AddressFamily,
    AttributeType,
    MessageClass,
    Method,
    TransportProtocol,
)
from twisted_ice.turn import AllocationCreated, AllocationDeleted, DeletionReason

BOTH_FAMILIES = frozenset({AddressFamily.IPV4, AddressFamily.IPV6})


class AllocateTests(SynchronousTestCase):
    """
    Tests for Allocate requests.
    """

    def test_success_attributes(self) -> None:
        """
        A success carries XOR-RELAYED-ADDRESS, LIFETIME 600 and
        XOR-MAPPED-ADDRESS with the client's address.
        """
        core, allocator = make_core()
        response = Client(core).allocate()
        self.assertEqual(response.message_class, MessageClass.SUCCESS_RESPONSE)
        self.assertEqual(relayed_address(response), (RELAY_HOST, 50000))
        self.assertEqual(response.get(AttributeType.LIFETIME), 600)
        self.assertEqual(
            response.get(AttributeType.XOR_MAPPED_ADDRESS), CLIENT_PATH.remote
        )
        self.assertEqual(allocator.bound, {(RELAY_HOST, 50000)})

    def test_created_event(self) -> None:
        """
        A new allocation gives an L{AllocationCreated} event.
        """
        core, _allocator = make_core()
        client = Client(core)
        message = client.build(
            Method.ALLOCATE,
            [(AttributeType.REQUESTED_TRANSPORT, TransportProtocol.UDP)],
            0.0,
        )
        events = [e for e in client.send(message, 0.0) if not hasattr(e, "data")]
        self.assertEqual(
            events,
            [AllocationCreated(CLIENT_PATH, ((RELAY_HOST, 50000),), "alice", 600.0)],
        )

    def test_missing_transport_gets_400(self) -> None:
        """
        An Allocate without REQUESTED-TRANSPORT gets 400.
        """
        core, _allocator = make_core()
        response = Client(core).request(Method.ALLOCATE, [])
        self.assertEqual(error_code(response), 400)
        self.assertEqual(core.allocation_count, 0)

    def test_tcp_transport_gets_442(self) -> None:
        """
        REQUESTED-TRANSPORT TCP gets 442.
        """
        core, _allocator = make_core()
        response = Client(core).request(
            Method.ALLOCATE,
            [(AttributeType.REQUESTED_TRANSPORT, TransportProtocol.TCP)],
        )
        self.assertEqual(error_code(response), 442)

    def test_dont_fragment_gets_420(self) -> None:
        """
        DONT-FRAGMENT gets 420 listing it, because the server cannot set the
        DF bit.
        """
        core, _allocator = make_core()
        response = Client(core).allocate([(AttributeType.DONT_FRAGMENT, True)])
        self.assertEqual(error_code(response), 420)
        self.assertEqual(
            response.get(AttributeType.UNKNOWN_ATTRIBUTES),
            (AttributeType.DONT_FRAGMENT,),
        )
        self.assertEqual(core.allocation_count, 0)

    def test_lifetime_below_default_becomes_600(self) -> None:
        """
        A LIFETIME below 600 s is granted 600 s.
        """
        core, _allocator = make_core()
        response = Client(core).allocate([(AttributeType.LIFETIME, 30)])
        self.assertEqual(response.get(AttributeType.LIFETIME), 600)

    def test_lifetime_zero_becomes_600(self) -> None:
        """
        LIFETIME 0 in an Allocate is granted 600 s.
        """
        core, _allocator = make_core()
        response = Client(core).allocate([(AttributeType.LIFETIME, 0)])
        self.assertEqual(response.get(AttributeType.LIFETIME), 600)

    def test_lifetime_capped_at_max(self) -> None:
        """
        A LIFETIME above the maximum is granted the maximum, 3600 s.
        """
        core, _allocator = make_core()
        response = Client(core).allocate([(AttributeType.LIFETIME, 0xFFFFFFFF)])
        self.assertEqual(response.get(AttributeType.LIFETIME), 3600)

    def test_lifetime_between_kept(self) -> None:
        """
        A LIFETIME between the default and the maximum is granted.
        """
        core, _allocator = make_core()
        response = Client(core).allocate([(AttributeType.LIFETIME, 1200)])
        self.assertEqual(response.get(AttributeType.LIFETIME), 1200)

    def test_no_relay_port_gets_508(self) -> None:
        """
        When the allocator has no free port the Allocate gets 508.
        """
        core, _allocator = make_core(FakeAllocator(capacity=0))
        response = Client(core).allocate()
        self.assertEqual(error_code(response), 508)
        self.assertEqual(core.allocation_count, 0)

    def test_user_quota_gets_486(self) -> None:
        """
        An Allocate beyond the per-user quota gets 486.
        """
        core, _allocator = make_core(user_quota=1)
        Client(core).allocate()
        response = Client(core, path=OTHER_PATH).allocate()
        self.assertEqual(error_code(response), 486)
        self.assertEqual(core.allocation_count, 1)

    def test_user_quota_per_user(self) -> None:
        """
        The per-user quota does not count other users' allocations.
        """
        core, _allocator = make_core(user_quota=1)
        Client(core).allocate()
        response = Client(core, path=OTHER_PATH, username="bob").allocate()
        self.assertEqual(response.message_class, MessageClass.SUCCESS_RESPONSE)

    def test_total_quota_gets_486(self) -> None:
        """
        An Allocate beyond the total maximum gets 486.
        """
        core, _allocator = make_core(max_allocations=1)
        Client(core).allocate()
        response = Client(core, path=OTHER_PATH, username="bob").allocate()
        self.assertEqual(error_code(response), 486)

    def test_quota_freed_by_delete(self) -> None:
        """
        Deleting an allocation frees its place in the user quota.
        """
        core, _allocator = make_core(user_quota=1)
        Client(core).allocate()
        Client(core).refresh(0, now=1.0)
        response = Client(core, path=OTHER_PATH).allocate(now=2.0)
        self.assertEqual(response.message_class, MessageClass.SUCCESS_RESPONSE)


class AddressFamilyTests(SynchronousTestCase):
    """
    REQUESTED-ADDRESS-FAMILY and ADDITIONAL-ADDRESS-FAMILY (RFC 8656 section
    7.2).
    """

    def test_requested_ipv6(self) -> None:
        """
        REQUESTED-ADDRESS-FAMILY IPv6 gets an IPv6 relayed address.
        """
        core, _allocator = make_core(FakeAllocator(families=BOTH_FAMILIES))
        response = Client(core).allocate(
            [(AttributeType.REQUESTED_ADDRESS_FAMILY, AddressFamily.IPV6)]
        )
        self.assertEqual(relayed_address(response)[0], RELAY_HOST6)

    def test_unavailable_family_gets_440(self) -> None:
        """
        REQUESTED-ADDRESS-FAMILY of a family without relay ports gets 440.
        """
        core, _allocator = make_core()
        response = Client(core).allocate(
            [(AttributeType.REQUESTED_ADDRESS_FAMILY, AddressFamily.IPV6)]
        )
        self.assertEqual(error_code(response), 440)

    def test_unknown_family_value_gets_440(self) -> None:
        """
        REQUESTED-ADDRESS-FAMILY with a value that is no family gets 440.
        """
        core, _allocator = make_core()
        response = Client(core).allocate(
            [(AttributeType.REQUESTED_ADDRESS_FAMILY, 0x03)]
        )
        self.assertEqual(error_code(response), 440)

    def test_no_ipv4_default_gets_440(self) -> None:
        """
        Without REQUESTED-ADDRESS-FAMILY, a server without IPv4 relays returns
        440.
        """
        allocator = FakeAllocator(families=frozenset({AddressFamily.IPV6}))
        core, _allocator = make_core(allocator)
        self.assertEqual(error_code(Client(core).allocate()), 440)

    def test_both_family_attributes_get_400(self) -> None:
        """
        REQUESTED-ADDRESS-FAMILY with ADDITIONAL-ADDRESS-FAMILY gets 400.
        """
        core, _allocator = make_core(FakeAllocator(families=BOTH_FAMILIES))
        response = Client(core).allocate(
            [
                (AttributeType.REQUESTED_ADDRESS_FAMILY, AddressFamily.IPV4),
                (AttributeType.ADDITIONAL_ADDRESS_FAMILY, AddressFamily.IPV6),
            ]
        )
        self.assertEqual(error_code(response), 400)

    def test_additional_ipv4_gets_400(self) -> None:
        """
        ADDITIONAL-ADDRESS-FAMILY IPv4 gets 400.
        """
        core, _allocator = make_core(FakeAllocator(families=BOTH_FAMILIES))
        response = Client(core).allocate(
            [(AttributeType.ADDITIONAL_ADDRESS_FAMILY, AddressFamily.IPV4)]
        )
        self.assertEqual(error_code(response), 400)

    def test_dual_allocation(self) -> None:
        """
        ADDITIONAL-ADDRESS-FAMILY IPv6 gets two XOR-RELAYED-ADDRESS, IPv4
        first.
        """
        core, _allocator = make_core(FakeAllocator(families=BOTH_FAMILIES))
        response = Client(core).allocate(
            [(AttributeType.ADDITIONAL_ADDRESS_FAMILY, AddressFamily.IPV6)]
        )
        relays = response.get_all(AttributeType.XOR_RELAYED_ADDRESS)
        self.assertEqual([host for host, _port in relays], [RELAY_HOST, RELAY_HOST6])
        self.assertIsNone(response.get(AttributeType.ADDRESS_ERROR_CODE))

    def test_dual_allocation_partial(self) -> None:
        """
        A dual allocation on a server without IPv6 relays gets the IPv4
        address and ADDRESS-ERROR-CODE 440 for IPv6.
        """
        core, _allocator = make_core()
        response = Client(core).allocate(
            [(AttributeType.ADDITIONAL_ADDRESS_FAMILY, AddressFamily.IPV6)]
        )
        self.assertEqual(len(response.get_all(AttributeType.XOR_RELAYED_ADDRESS)), 1)
        error = response.get(AttributeType.ADDRESS_ERROR_CODE)
        self.assertIsInstance(error, AddressErrorCode)
        self.assertEqual(error.family, AddressFamily.IPV6)
        self.assertEqual(error.code, 440)

    def test_dual_allocation_second_port_missing(self) -> None:
        """
        A dual allocation whose IPv6 port cannot be bound gets
        ADDRESS-ERROR-CODE 508 for IPv6.
        """
        allocator = FakeAllocator(families=BOTH_FAMILIES, capacity=1)
        core, _allocator = make_core(allocator)
        response = Client(core).allocate(
            [(AttributeType.ADDITIONAL_ADDRESS_FAMILY, AddressFamily.IPV6)]
        )
        error = response.get(AttributeType.ADDRESS_ERROR_CODE)
        self.assertEqual(error.code, 508)

    def test_dual_allocation_no_port_gets_508(self) -> None:
        """
        A dual allocation that binds no port at all gets 508.
        """
        allocator = FakeAllocator(families=BOTH_FAMILIES, capacity=0)
        core, _allocator = make_core(allocator)
        response = Client(core).allocate(
            [(AttributeType.ADDITIONAL_ADDRESS_FAMILY, AddressFamily.IPV6)]
        )
        self.assertEqual(error_code(response), 508)


class EvenPortTests(SynchronousTestCase):
    """
    EVEN-PORT and RESERVATION-TOKEN (RFC 8656 section 7.2).
    """

    def test_even_port(self) -> None:
        """
        EVEN-PORT gets an even relayed port and no token without the R bit.
        """
        core, _allocator = make_core()
        response = Client(core).allocate([(AttributeType.EVEN_PORT, False)])
        self.assertEqual(relayed_address(response)[1] % 2, 0)
        self.assertIsNone(response.get(AttributeType.RESERVATION_TOKEN))

    def test_reserve_next_gives_token(self) -> None:
        """
        EVEN-PORT with R gets a RESERVATION-TOKEN of 8 bytes and reserves the
        next port.
        """
        core, allocator = make_core()
        response = Client(core).allocate([(AttributeType.EVEN_PORT, True)])
        token = response.get(AttributeType.RESERVATION_TOKEN)
        self.assertEqual(len(token), 8)
        host, port = relayed_address(response)
        self.assertEqual(allocator.held, {(host, port + 1)})

    def test_token_takes_reserved_port(self) -> None:
        """
        An Allocate with the RESERVATION-TOKEN gets the held port.
        """
        core, allocator = make_core()
        first = Client(core).allocate([(AttributeType.EVEN_PORT, True)])
        token = first.get(AttributeType.RESERVATION_TOKEN)
        host, port = relayed_address(first)
        second = Client(core, path=OTHER_PATH).allocate(
            [(AttributeType.RESERVATION_TOKEN, token)], now=1.0
        )
        self.assertEqual(relayed_address(second), (host, port + 1))
        self.assertEqual(allocator.held, set())

    def test_unknown_token_gets_508(self) -> None:
        """
        An unknown RESERVATION-TOKEN gets 508.
        """
        core, _allocator = make_core()
        response = Client(core).allocate(
            [(AttributeType.RESERVATION_TOKEN, b"12345678")]
        )
        self.assertEqual(error_code(response), 508)

    def test_expired_token_gets_508(self) -> None:
        """
        A RESERVATION-TOKEN older than 30 s gets 508, and its port was
        released.
        """
        core, allocator = make_core()
        first = Client(core).allocate([(AttributeType.EVEN_PORT, True)])
        token = first.get(AttributeType.RESERVATION_TOKEN)
        host, port = relayed_address(first)
        core.expire(30.0)
        self.assertIn((host, port + 1), allocator.released)
        second = Client(core, path=OTHER_PATH).allocate(
            [(AttributeType.RESERVATION_TOKEN, token)], now=31.0
        )
        self.assertEqual(error_code(second), 508)

    def test_token_with_even_port_gets_400(self) -> None:
        """
        RESERVATION-TOKEN with EVEN-PORT gets 400.
        """
        core, _allocator = make_core()
        response = Client(core).allocate(
            [
                (AttributeType.RESERVATION_TOKEN, b"12345678"),
                (AttributeType.EVEN_PORT, False),
            ]
        )
        self.assertEqual(error_code(response), 400)

    def test_token_with_family_gets_400(self) -> None:
        """
        RESERVATION-TOKEN with REQUESTED-ADDRESS-FAMILY gets 400.
        """
        core, _allocator = make_core()
        response = Client(core).allocate(
            [
                (AttributeType.RESERVATION_TOKEN, b"12345678"),
                (AttributeType.REQUESTED_ADDRESS_FAMILY, AddressFamily.IPV4),
            ]
        )
        self.assertEqual(error_code(response), 400)

    def test_reserve_next_with_dual_gets_400(self) -> None:
        """
        EVEN-PORT with R and ADDITIONAL-ADDRESS-FAMILY gets 400.
        """
        core, _allocator = make_core(FakeAllocator(families=BOTH_FAMILIES))
        response = Client(core).allocate(
            [
                (AttributeType.EVEN_PORT, True),
                (AttributeType.ADDITIONAL_ADDRESS_FAMILY, AddressFamily.IPV6),
            ]
        )
        self.assertEqual(error_code(response), 400)


class RefreshTests(SynchronousTestCase):
    """
    Tests for Refresh requests (RFC 8656 section 8).
    """

    def test_without_allocation_gets_437(self) -> None:
        """
        A Refresh on a 5-tuple without allocation gets 437.
        """
        core, _allocator = make_core()
        self.assertEqual(error_code(Client(core).refresh(600)), 437)

    def test_zero_deletes(self) -> None:
        """
        LIFETIME 0 deletes the allocation and releases its relayed address.
        """
        core, allocator = make_core()
        client = Client(core)
        relay = relayed_address(client.allocate())
        message = client.build(Method.REFRESH, [(AttributeType.LIFETIME, 0)], 1.0)
        actions = client.send(message, 1.0)
        [response] = responses(actions)
        self.assertEqual(response.get(AttributeType.LIFETIME), 0)
        self.assertIn(
            AllocationDeleted(CLIENT_PATH, (relay,), "alice", DeletionReason.REFRESH),
            actions,
        )
        self.assertEqual(core.allocation_count, 0)
        self.assertEqual(allocator.released, [relay])

    def test_below_default_becomes_600(self) -> None:
        """
        A Refresh with LIFETIME 1 is granted 600 s.
        """
        core, _allocator = make_core()
        client = Client(core)
        client.allocate()
        self.assertEqual(client.refresh(1).get(AttributeType.LIFETIME), 600)

    def test_without_lifetime_gets_600(self) -> None:
        """
        A Refresh without LIFETIME is granted the default 600 s.
        """
        core, _allocator = make_core()
        client = Client(core)
        client.allocate()
        self.assertEqual(client.refresh(None).get(AttributeType.LIFETIME), 600)

    def test_capped_at_max(self) -> None:
        """
        A Refresh above the configured maximum is granted the maximum.
        """
        core, _allocator = make_core(max_lifetime=1800.0)
        client = Client(core)
        client.allocate()
        self.assertEqual(client.refresh(7200).get(AttributeType.LIFETIME), 1800)

    def test_extends_expiry(self) -> None:
        """
        A Refresh at 500 s with 600 s keeps the allocation past its first
        expiry at 600 s, until 1100 s.
        """
        core, _allocator = make_core()
        client = Client(core)
        client.allocate()
        client.refresh(600, now=500.0)
        self.assertEqual(core.expire(600.0), [])
        self.assertEqual(core.allocation_count, 1)
        core.expire(1100.0)
        self.assertEqual(core.allocation_count, 0)

    def test_family_mismatch_gets_443(self) -> None:
        """
        A Refresh with a REQUESTED-ADDRESS-FAMILY the allocation does not
        have gets 443.
        """
        core, _allocator = make_core()
        client = Client(core)
        client.allocate()
        response = client.request(
            Method.REFRESH,
            [(AttributeType.REQUESTED_ADDRESS_FAMILY, AddressFamily.IPV6)],
        )
        self.assertEqual(error_code(response), 443)

    def test_zero_with_family_deletes_one_relay(self) -> None:
        """
        LIFETIME 0 with REQUESTED-ADDRESS-FAMILY IPv6 on a dual allocation
        releases the IPv6 relayed address only.
        """
        core, allocator = make_core(FakeAllocator(families=BOTH_FAMILIES))
        client = Client(core)
        client.allocate([(AttributeType.ADDITIONAL_ADDRESS_FAMILY, AddressFamily.IPV6)])
        response = client.request(
            Method.REFRESH,
            [
                (AttributeType.LIFETIME, 0),
                (AttributeType.REQUESTED_ADDRESS_FAMILY, AddressFamily.IPV6),
            ],
        )
        self.assertEqual(response.message_class, MessageClass.SUCCESS_RESPONSE)
        self.assertEqual(core.allocation_count, 1)
        self.assertEqual([host for host, _port in allocator.released], [RELAY_HOST6])

    def test_other_username_gets_441(self) -> None:
        """
        A Refresh signed by another user than the allocation's gets 441.
        """
        core, _allocator = make_core()
        Client(core).allocate()
        response = Client(core, username="bob").refresh(600)
        self.assertEqual(error_code(response), 441)
        self.assertEqual(core.allocation_count, 1)


class PathTests(SynchronousTestCase):
    """
    Allocations are keyed by 5-tuple and end with their TCP connection.
    """

    def test_separate_paths(self) -> None:
        """
        Two client 5-tuples get two allocations.
        """
        core, _allocator = make_core()
        Client(core).allocate()
        Client(core, path=OTHER_PATH).allocate()
        self.assertEqual(core.allocation_count, 2)

    def test_path_closed_deletes(self) -> None:
        """
        Closing a TCP path deletes its allocation and releases its relay.
        """
        core, allocator = make_core()
        relay = relayed_address(Client(core, path=TCP_PATH).allocate())
        actions = core.path_closed(TCP_PATH, 5.0)
        self.assertEqual(
            actions,
            [
                AllocationDeleted(
                    TCP_PATH, (relay,), "alice", DeletionReason.PATH_CLOSED
                )
            ],
        )
        self.assertEqual(allocator.released, [relay])
        self.assertEqual(core.allocation_count, 0)

    def test_path_closed_without_allocation(self) -> None:
        """
        Closing a path without allocation does nothing.
        """
        core, _allocator = make_core()
        self.assertEqual(core.path_closed(TCP_PATH, 0.0), [])
