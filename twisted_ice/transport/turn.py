"""
The TURN service: the Twisted adapter around the sans-I/O TURN core.

It takes what the muxes route to TURN, looks up long-term keys in an
L{ICredentialStore}, runs the core, writes the replies through the
L{IPathWriter} of each path's transport, relays to peers through the relay
ports, and keeps one timer at the core's next deadline.
"""

from __future__ import annotations

import enum
import ipaddress
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, cast

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_ice.addresses import Address, Path, Transport, host_of_version
from twisted_ice.credentials import (
    ChainedCredentialStore,
    ReloadOnSighup,
    RestCredentialStore,
    StaticCredentialStore,
    UsersFileError,
    UsersFileStore,
    parse_user,
)
from twisted_ice.interfaces import (
    ICredentialStore,
    IPathWriter,
    IStunMessage,
    ITurnService,
)
from twisted_ice.stun import AttributeType, MessageClass, Method, StunMessage, decode
from twisted_ice.transport.batching import SendBatch
from twisted_ice.transport.relay import PeerReceiver, UdpRelayAllocator
from twisted_ice.turn import (
    AllocationCreated,
    AllocationDeleted,
    NeedKeys,
    PeerPolicy,
    RelayNat,
    SendToClient,
    SendToPeer,
    TurnAction,
    TurnConfig,
    TurnCore,
    channeldata,
)
from twisted_ice.turn.indications import parse_send_indication

LOG_INTERVAL = 10.0
"""
Minimum seconds between two log lines of one repeated kind (authentication
failures, unexpected errors). The repeats in between are only counted.
"""

MAX_PENDING_LOOKUPS = 1000
"""
The maximum number of credential lookups that wait for the store at once.
Requests beyond it are dropped, so a slow store cannot make requests pile up.
"""

_AUTHENTICATION_FAILURES = frozenset({401, 441})


class TurnDropReason(enum.StrEnum):
    """
    Why the TURN service dropped something: the keys of L{TurnService.drops}.
    The core counts its own drops in C{TurnCore.drops}.
    """

    NO_WRITER = "no-writer"
    TOO_MANY_LOOKUPS = "too-many-lookups"
    STOPPED = "stopped"
    EXCEPTION = "exception"


class RelayPorts(Protocol):
    """
    The relay ports as the service uses them: L{UdpRelayAllocator} provides
    this next to L{IRelayAllocator}, which the core uses.
    """

    receiver: PeerReceiver | None

    def send(self, relay: Address, peer: Address, data: bytes) -> None:
        """
        Send C{data} from the relay port C{relay} to C{peer}.
        """

    def close(self) -> None:
        """
        Close every relay port.
        """


class _RateLimitedLog:
    """
    A limiter that allows one log line of a kind per L{LOG_INTERVAL} and
    counts the rest.
    """

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._last = float("-inf")
        self.suppressed = 0

    def due(self) -> bool:
        """
        Return whether a line may be logged now, and count it as suppressed
        when not.
        """
        now = self._clock.seconds()
        if now - self._last < LOG_INTERVAL:
            self.suppressed += 1
            return False
        self._last = now
        return True

    def take_suppressed(self) -> int:
        """
        Return how many lines were suppressed since the last one, and reset
        the count.
        """
        count, self.suppressed = self.suppressed, 0
        return count


@implementer(ITurnService)
class TurnService(Service):
    """
    The Twisted adapter that runs a L{TurnCore} for the muxes.

    Requests are handled in two phases. First the core responds to requests
    that need no key, or names the user whose keys the credential store must
    find. Once the store's L{Deferred} fires, the core authenticates and runs
    the request. A store failure is logged and gets a 500 (Server Error)
    response, unsigned, so the client neither takes it for wrong
    credentials nor waits.

    @ivar core: the TURN state.
    @ivar writers: the writer for each transport. The TCP/TLS mux registers
        its own with L{register_writer}.
    @ivar drops: the messages this service dropped, by L{TurnDropReason}.
    @ivar errors_sent: the STUN error responses sent, by error code.
    @ivar authentication_failures: authenticated requests rejected with 401
        or 441.
    @ivar draining: whether new allocations are rejected, with 300 (Try
        Alternate) when C{alternate_server} is set, else with 486.
    @ivar alternate_server: the ALTERNATE-SERVER of that 300, or L{None}.
    """

    log = Logger()

    def __init__(
        self,
        core: TurnCore,
        store: ICredentialStore,
        relays: RelayPorts,
        writers: dict[Transport, IPathWriter] | None = None,
        reactor: IReactorTime | None = None,
    ) -> None:
        """
        @param core: the TURN core, built with C{relays} as its allocator.
        @param store: the credential store that long-term keys are looked up
            in.
        @param relays: the relay ports. Their receiver is set to this
            service.
        @param writers: the writer for each transport.
        @param reactor: the clock and timer, or L{None} for the global
            reactor.
        """
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = cast(IReactorTime, global_reactor)
        self.core = core
        self.writers: dict[Transport, IPathWriter] = dict(writers or {})
        self.drops: Counter[TurnDropReason] = Counter()
        self.errors_sent: Counter[int] = Counter()
        self.authentication_failures = 0
        self.draining = False
        self.alternate_server: Address | None = None
        self._store = store
        self._relays = relays
        self._reactor = reactor
        self._timer: IDelayedCall | None = None
        self._pending_lookups = 0
        self._auth_log = _RateLimitedLog(reactor)
        self._error_log = _RateLimitedLog(reactor)
        relays.receiver = self.peer_datagram_received

    @property
    def max_channel(self) -> int:
        """
        The highest channel number ChannelBind accepts: 0x4FFF, or 0x7FFF
        with the RFC 5766 range. The muxes route ChannelData up to it.
        """
        return self.core.config.max_channel

    def register_writer(self, transport: Transport, writer: IPathWriter) -> None:
        """
        Send what goes to paths of C{transport} through C{writer}.
        """
        self.writers[transport] = writer

    # --- Service ---------------------------------------------------------

    def startService(self) -> None:
        """
        Start the service and log its configuration.
        """
        super().startService()  # type: ignore[no-untyped-call]
        self.log.info("TURN server started")

    def stopService(self) -> object:
        """
        Cancel the timer and close every relay port.
        """
        super().stopService()  # type: ignore[no-untyped-call]
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self._relays.close()
        self.log.info(
            "TURN server stopped with {count} allocations",
            count=self.core.allocation_count,
        )
        return None

    # --- ITurnService ------------------------------------------------------

    def stun_received(self, message: IStunMessage, data: bytes, path: Path) -> None:
        """
        Handle a TURN request or a Send indication from C{path}. Never raises.
        """
        try:
            self._stun_received(cast(StunMessage, message), path)
        except Exception:
            self._unexpected_error("a STUN message", path)

    def channel_data_received(self, data: bytes, path: Path) -> None:
        """
        Relay one ChannelData message from C{path} to its peer. Never raises.
        """
        try:
            action = self.core.channel_data(data, path, self._reactor.seconds())
            if action is not None:
                self._relays.send(action.relay, action.peer, action.data)
        except Exception:
            self._unexpected_error("ChannelData", path)

    def send_indication_received(self, data: bytes, path: Path) -> bool:
        """
        Relay a Send indication of the common form from C{path} to its peer,
        without the general decoder. Never raises.

        @return: whether it had that form; when not, the caller decodes it and
            calls L{stun_received}.
        """
        try:
            values = parse_send_indication(data)
            if values is None:
                return False
            action = self.core.send_data(
                values[0], values[1], path, self._reactor.seconds()
            )
            if action is not None:
                self._relays.send(action.relay, action.peer, action.data)
        except Exception:
            self._unexpected_error("a Send indication", path)
        return True

    def path_closed(self, path: Path) -> None:
        """
        Delete the allocation of a closed TCP or TLS connection. Never raises.
        """
        try:
            self._run(self.core.path_closed(path, self._reactor.seconds()))
        except Exception:
            self._unexpected_error("a closed connection", path)

    # --- Relay ports -------------------------------------------------------

    def peer_datagram_received(
        self, relay: Address, peer: Address, data: bytes
    ) -> None:
        """
        Pass a datagram that C{peer} sent to the relay port C{relay} to its
        client. Never raises.
        """
        try:
            action = self.core.peer_datagram(relay, peer, data, self._reactor.seconds())
            if action is None:
                return
            # self._write, inlined: this runs for every packet from a peer.
            path = action.path
            writer = self.writers.get(path.transport)
            if writer is None:
                self.drops[TurnDropReason.NO_WRITER] += 1
                return
            writer.write_to(action.data, path)
        except Exception:
            self._unexpected_error("a peer datagram", peer)

    # --- Requests ------------------------------------------------------------

    def _stun_received(self, message: StunMessage, path: Path) -> None:
        now = self._reactor.seconds()
        if message.message_class is MessageClass.INDICATION:
            action = self.core.send_indication(message, path, now)
            if action is not None:
                self._relays.send(action.relay, action.peer, action.data)
            return

        if (
            self.draining
            and message.method == Method.ALLOCATE
            and self.core.allocation(path) is None
        ):
            self._refuse_while_draining(message, path)
            return
        result = self.core.receive_request(message, path, now)
        if result is None:
            return
        if isinstance(result, SendToClient):
            self._count_error(result.data)
            self._write(result.path, result.data)
            return
        self._look_up(message, path, result)

    def _refuse_while_draining(self, message: StunMessage, path: Path) -> None:
        """
        Reject an Allocate for a new allocation while the server drains.

        The response is 300 (Try Alternate) with ALTERNATE-SERVER when one is
        set, else 486 (Allocation Quota Reached). It is sent before
        authentication and unsigned, like a 401 challenge, so a client is
        redirected even before it has a nonce.
        """
        if self.alternate_server is None:
            response = message.error_response(486)
        else:
            alternate = (AttributeType.ALTERNATE_SERVER, self.alternate_server)
            response = message.error_response(300, attributes=[alternate])
        data = response.encode(fingerprint=message.has_fingerprint)
        self._count_error(data)
        self._write(path, data)

    def _count_error(self, data: bytes) -> None:
        """
        Count C{data} in L{errors_sent} when it is a STUN error response.
        """
        # An error response has both class bits set (RFC 8489 section 5).
        # The responses the core builds carry ERROR-CODE as the first
        # attribute, so its class and number are at bytes 26-27.
        if len(data) < 28 or data[0] & 0xC1 != 0x01 or data[1] & 0x10 == 0:
            return
        if data[20:22] == b"\x00\x09":
            self.errors_sent[(data[26] & 0x07) * 100 + data[27]] += 1

    def _look_up(self, message: StunMessage, path: Path, need: NeedKeys) -> None:
        if self._pending_lookups >= MAX_PENDING_LOOKUPS:
            self.drops[TurnDropReason.TOO_MANY_LOOKUPS] += 1
            return
        self._pending_lookups += 1
        lookup: Deferred[list[bytes]] = self._store.get_keys(need.username, need.realm)
        lookup.addCallbacks(
            self._keys_found,
            self._lookup_failed,
            callbackArgs=(message, path, need),
            errbackArgs=(message, path, need),
        )
        lookup.addErrback(self._callback_failed, path)

    def _keys_found(
        self, keys: list[bytes], message: StunMessage, path: Path, need: NeedKeys
    ) -> None:
        self._pending_lookups -= 1
        if not self.running:
            self.drops[TurnDropReason.STOPPED] += 1
            return
        actions = self.core.authenticated_request(
            message, path, keys, self._reactor.seconds()
        )
        self._run(actions, need.username)

    def _lookup_failed(
        self, failure: Failure, message: StunMessage, path: Path, need: NeedKeys
    ) -> None:
        self._pending_lookups -= 1
        self.log.failure(
            "Credential lookup failed for TURN user {username} from {client}."
            " Responding with 500 (Server Error)",
            failure,
            username=need.username,
            client=path.remote,
        )
        if not self.running:
            return
        response = message.error_response(500)
        self._write(path, response.encode(fingerprint=message.has_fingerprint))

    def _callback_failed(self, failure: Failure, path: Path) -> None:
        self.drops[TurnDropReason.EXCEPTION] += 1
        if self._error_log.due():
            self.log.failure(
                "Failed to handle a TURN request from {client}"
                " (failures since the last log: {suppressed})",
                failure,
                client=path.remote,
                suppressed=self._error_log.take_suppressed(),
            )

    # --- Actions -------------------------------------------------------------

    def _run(self, actions: Iterable[TurnAction], username: str | None = None) -> None:
        for action in actions:
            if isinstance(action, SendToClient):
                if username is not None:
                    self._check_authentication(action, username)
                self._count_error(action.data)
                self._write(action.path, action.data)
            elif isinstance(action, SendToPeer):
                self._relays.send(action.relay, action.peer, action.data)
            elif isinstance(action, AllocationCreated):
                self.log.info(
                    "TURN allocation created for {username} from {client} over"
                    " {transport}: relay {relays}, lifetime {lifetime} s",
                    event="allocation.created",
                    username=action.username,
                    client=action.path.remote,
                    transport=action.path.transport.value,
                    relays=_format_addresses(action.relays),
                    lifetime=action.lifetime,
                )
            elif isinstance(action, AllocationDeleted):
                self.log.info(
                    "TURN allocation deleted for {username} from {client}"
                    " ({reason}): relay {relays}",
                    event="allocation.deleted",
                    username=action.username,
                    client=action.path.remote,
                    reason=action.reason.value,
                    relays=_format_addresses(action.relays),
                )
        self._schedule()

    def _check_authentication(self, action: SendToClient, username: str) -> None:
        """
        Log, rate-limited, a response that rejects the credentials.
        """
        data = action.data
        # The class bits of an error response are both set (RFC 8489 section 5).
        if len(data) < 20 or data[0] & 0x01 == 0 or data[1] & 0x10 == 0:
            return
        error = decode(data).get(AttributeType.ERROR_CODE)
        code = getattr(error, "code", None)
        if code in _AUTHENTICATION_FAILURES:
            self.authentication_failures += 1
        if code not in _AUTHENTICATION_FAILURES or not self._auth_log.due():
            return
        self.log.warn(
            "TURN authentication failed ({code}) for user {username} from"
            " {client} (failures since the last log: {suppressed})",
            event="authentication.failed",
            code=code,
            username=username,
            client=action.path.remote,
            suppressed=self._auth_log.take_suppressed(),
        )

    def _write(self, path: Path, data: bytes) -> None:
        writer = self.writers.get(path.transport)
        if writer is None:
            self.drops[TurnDropReason.NO_WRITER] += 1
            return
        writer.write_to(data, path)

    # --- Timer ---------------------------------------------------------------

    def _schedule(self) -> None:
        """
        Keep the timer at or before the core's next deadline. A timer that
        fires early only finds nothing to expire and is set again.
        """
        deadline = self.core.next_deadline()
        timer = self._timer
        if deadline is None:
            if timer is not None and timer.active():
                timer.cancel()
            self._timer = None
            return
        if timer is not None and timer.active():
            if timer.getTime() <= deadline:
                return
            timer.cancel()
        if not self.running:
            return
        delay = max(0.0, deadline - self._reactor.seconds())
        self._timer = self._reactor.callLater(delay, self._expire)

    def _expire(self) -> None:
        self._timer = None
        try:
            self._run(self.core.expire(self._reactor.seconds()))
        except Exception:
            self._unexpected_error("the expiry timer", None)
            self._schedule_retry()

    def _schedule_retry(self) -> None:
        # After a failure in expire, try again later rather than busy-loop.
        if self.running and self._timer is None:
            self._timer = self._reactor.callLater(LOG_INTERVAL, self._expire)

    def _unexpected_error(self, what: str, source: object) -> None:
        """
        Count and log, rate-limited, the exception being handled.
        """
        self.drops[TurnDropReason.EXCEPTION] += 1
        if not self._error_log.due():
            return
        self.log.failure(
            "Failed to handle {what} from {source}"
            " (failures since the last log: {suppressed})",
            what=what,
            source=source,
            suppressed=self._error_log.take_suppressed(),
        )


def _format_addresses(addresses: Iterable[Address]) -> str:
    return ", ".join(
        f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        for host, port in addresses
    )


def own_addresses(options: Mapping[str, Any]) -> list[Address]:
    """
    Return this server's ICE addresses for the peer policy, so a client can
    reach the lite ICE agent through its relay here.

    Each address is the UDP port on one host: the relay address, its public
    address behind a 1:1 NAT (C{--relay-public-ip}), the listening address
    and the ICE candidate addresses (C{--public-ip}).
    """
    port = options["udp-port"]
    hosts = {*options["relay-ip"], *options.get("public-ip", ())}
    if options.get("relay-public-ip"):
        hosts.add(options["relay-public-ip"])
    if options.get("interface"):
        hosts.add(options["interface"])
    return [(host, port) for host in sorted(hosts)]


def build_credential_store(
    options: Mapping[str, Any],
) -> tuple[ICredentialStore, UsersFileStore | None]:
    """
    Build the credential store of the TURN options: the C{--user} users, the
    C{--users} file and the C{--auth-secret} REST secrets, chained.

    @return: the store, and the users file store to reload on SIGHUP.
    @raise UsersFileError: when the users file cannot be read.
    """
    stores: list[ICredentialStore] = []
    if options["user"]:
        stores.append(StaticCredentialStore(dict(map(parse_user, options["user"]))))
    users_file = None
    if options["users"] is not None:
        users_file = UsersFileStore(options["users"])
        stores.append(users_file)
    if options["auth-secret"]:
        secrets = [secret.encode("utf-8") for secret in options["auth-secret"]]
        stores.append(
            RestCredentialStore(secrets, separator=options["rest-api-separator"])
        )
    return ChainedCredentialStore(stores), users_file


def build_turn_service(
    options: Mapping[str, Any],
    parent: MultiService,
    writer: IPathWriter,
    batch: SendBatch | None = None,
) -> TurnService | None:
    """
    Build the TURN service of C{twistd mcs-ice} from its checked options, and
    add it (and the SIGHUP reload of a users file) to C{parent}.

    @param writer: sends to clients over UDP.
    @param batch: holds the datagrams to peers until the end of the reactor
        iteration, or L{None} to send each one at once.

    @return: the service, or L{None} when TURN is not enabled.
    @raise SystemExit: when the users file has become unreadable.
    """
    if not options.get("turn"):
        return None
    try:
        store, users_file = build_credential_store(options)
    except UsersFileError as error:
        raise SystemExit(f"twistd mcs-ice: invalid --users: {error}") from None

    relays = UdpRelayAllocator(options["relay-ip"], options["relay-ports"], batch=batch)
    config = TurnConfig(
        realm=options["realm"],
        nonce_lifetime=options["nonce-lifetime"],
        max_lifetime=options["max-lifetime"],
        max_allocations=options["max-allocations"],
        user_quota=options["user-quota"],
        software=options.get("software"),
        max_channel=(
            channeldata.RFC5766_CHANNEL_MAX
            if options.get("rfc5766-channels")
            else channeldata.CHANNEL_MAX
        ),
    )
    own = own_addresses(options)
    policy = PeerPolicy(
        own_addresses=own,
        allow=options["allow-peer"],
        deny=options["deny-peer"],
    )
    public_ip = options.get("relay-public-ip")
    nat_hosts = None
    if public_ip:
        version = ipaddress.ip_address(public_ip).version
        private = host_of_version(options["relay-ip"], version)
        # The option checks made sure a relay address has that IP version.
        assert private is not None
        nat_hosts = {private: public_ip}
    nat = RelayNat(nat_hosts, own)
    service = TurnService(
        TurnCore(config, relays, policy, nat), store, relays, {Transport.UDP: writer}
    )
    service.setServiceParent(parent)  # type: ignore[no-untyped-call]
    if users_file is not None:
        ReloadOnSighup(users_file).setServiceParent(parent)  # type: ignore[no-untyped-call]
    TurnService.log.info(
        "TURN enabled: realm {realm}, relay ports {relay_ip} {low}-{high}"
        " (public address {public_ip})",
        realm=config.realm,
        relay_ip=", ".join(options["relay-ip"]),
        public_ip=public_ip or ", ".join(options["relay-ip"]),
        low=options["relay-ports"].start,
        high=options["relay-ports"].stop - 1,
    )
    return service
