"""
The C{twistd mcs-ice} options and the service tree they build.

L{makeService} calls one small builder per area (UDP mux, ICE, TURN), each
adding its services to the parent; extend the builder of your area.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Sequence

from twisted.application.service import IService, MultiService
from twisted.internet import endpoints
from twisted.logger import Logger
from twisted.python import usage

import twisted
import twisted_ice
from twisted_ice.addresses import Transport, host_of_version
from twisted_ice.api import ApiService, ApiSite, SessionApi
from twisted_ice.config import parse_with_config_file
from twisted_ice.credentials import UsersFileError, parse_user, read_users_file
from twisted_ice.interfaces import IIceService, IPathWriter, ITurnService
from twisted_ice.lifecycle import (
    OPERATIONS_OPTIONS,
    build_operations,
    check_operations_options,
)
from twisted_ice.media import (
    ForwardPolicy,
    certificate_fingerprint,
    generate_certificate,
    load_certificate,
)
from twisted_ice.media.handlers import DEFAULT_FORWARD_NETWORKS
from twisted_ice.stun.binding import BindingResponder
from twisted_ice.transport.batching import SendBatch
from twisted_ice.transport.ice import IceService, default_public_addresses
from twisted_ice.transport.tcp import TCP_OPTIONS, build_tcp_mux, check_tcp_options
from twisted_ice.transport.udp import (
    DEFAULT_RECEIVE_BUFFER,
    UdpMux,
    UdpMuxService,
    bind_udp_socket,
    default_interface,
    set_receive_buffer,
)

PROGRAM = "twistd mcs-ice"

log = Logger()


class Options(usage.Options):
    """
    Command-line options of C{twistd mcs-ice}.

    An invalid option ends the process with one line on standard error and
    exit status 1 (L{SystemExit}), in place of twistd's full usage text.
    """

    optParameters = [
        # --- UDP mux and STUN ---------------------------------------------
        [
            "interface",
            None,
            None,
            "IP address to listen on. Default: all addresses, IPv6 and IPv4"
            " (:: dual-stack) when the host has IPv6, else 0.0.0.0.",
        ],
        ["udp-port", None, "9000", "UDP port for ICE, STUN and TURN (0-65535)."],
        [
            "udp-receive-buffer",
            None,
            str(DEFAULT_RECEIVE_BUFFER),
            "Receive buffer size of the UDP socket, in bytes, so that bursts wait"
            " in the kernel rather than being dropped. The kernel caps it at"
            " net.core.rmem_max unless the process may raise that limit"
            " (CAP_NET_ADMIN).",
        ],
        [
            "software",
            None,
            None,
            "SOFTWARE attribute text sent in every STUN response. Default: none.",
        ],
        # --- ICE and the session API --------------------------------------
        [
            "api",
            None,
            "tcp:8090:interface=127.0.0.1",
            "Twisted endpoint string the HTTP session API listens on.",
        ],
        [
            "api-token",
            None,
            None,
            "Bearer token every session API request must carry. Default: none,"
            " so any client that reaches --api can create sessions.",
        ],
        [
            "api-token-file",
            None,
            None,
            "File whose first line is the session API bearer token (a blank first"
            " line is an error); keeps the"
            " token out of the process list.",
        ],
        [
            "dtls-cert",
            None,
            None,
            "PEM certificate whose SHA-256 fingerprint mirrored SDP answers"
            " carry. Default: a self-signed certificate generated at startup.",
        ],
        [
            "api-cors-origin",
            None,
            None,
            "Web origin (such as https://app.example, or *) whose pages may"
            " call the session API from a browser. Default: none.",
        ],
        [
            "max-sessions",
            None,
            "100000",
            "Maximum number of sessions at once; more get 503 (0: no limit)."
            " Each session uses about 2.3 KiB.",
        ],
        [
            "session-idle-timeout",
            None,
            "300",
            "Seconds after which a session with no passed check, or whose"
            " consent expired, is closed (0: never).",
        ],
        # --- TURN ----------------------------------------------------------
        ["realm", None, "twisted-ice", "REALM of the TURN long-term credentials."],
        [
            "users",
            None,
            None,
            "File of TURN users, name:password a line; SIGHUP reloads.",
        ],
        [
            "rest-api-separator",
            None,
            ":",
            "Separator of expiry and user id in TURN REST usernames.",
        ],
        [
            "max-allocations",
            None,
            None,
            "Maximum number of TURN allocations. Default: no limit.",
        ],
        [
            "user-quota",
            None,
            None,
            "Maximum number of TURN allocations of one user. Default: no limit.",
        ],
        [
            "relay-ports",
            None,
            "49152-65535",
            "UDP port range MIN-MAX of TURN relay ports.",
        ],
        [
            "relay-public-ip",
            None,
            None,
            "Public IP address that a 1:1 NAT maps to --relay-ip, of the same"
            " IP version; clients get it, with the relay port, as their relayed"
            " address. Default: no NAT, clients get --relay-ip.",
        ],
        [
            "max-lifetime",
            None,
            "3600",
            "Longest TURN allocation lifetime granted, in seconds.",
        ],
        ["nonce-lifetime", None, "600", "Seconds a TURN nonce stays valid."],
        # --- TCP and TLS ---------------------------------------------------
        *TCP_OPTIONS,
        # --- Operations: config file, metrics, drain ----------------------
        *OPERATIONS_OPTIONS,
    ]

    integer_options = frozenset(
        {
            "udp-port",
            "udp-receive-buffer",
            "tcp-port",
            "max-sessions",
            "max-allocations",
            "user-quota",
            "tcp-max-per-source",
            "tcp-max-connections",
        }
    )
    """Options that a config file must give as integers: a TOML integer, or
    digits in INI."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.public_ip_given = False
        """Whether C{--public-ip} was given, rather than the default."""
        # usage.Options shows an opt_* method's docstring as its help text
        # with the line breaks and indentation, so collapse each run of
        # whitespace to one space.
        self.docs = {
            name: " ".join(doc.split()) if doc else doc
            for name, doc in self.docs.items()
        }

    def opt_version(self) -> None:
        """
        Print the versions of twisted-ice and Twisted, and exit.
        """
        print(f"twisted-ice {twisted_ice.__version__}, Twisted {twisted.__version__}")
        sys.exit(0)

    def parseOptions(self, options: Sequence[str] | None = None) -> None:
        """
        Parse C{options}; exit with one line naming the invalid option.

        @raise SystemExit: with a one-line message when an option is invalid.
        """
        try:
            parse_with_config_file(self, options, super().parseOptions)
        except usage.UsageError as error:
            message = str(error)
            if "--help" not in message:
                message += f" (see '{PROGRAM} --help')"
            raise SystemExit(f"{PROGRAM}: {message}") from None

    def postOptions(self) -> None:
        """
        Check and convert the option values.

        @raise usage.UsageError: when a value is invalid.
        """
        # --- UDP mux and STUN ---------------------------------------------
        self["udp-port"] = parse_port("--udp-port", self["udp-port"])
        self["udp-receive-buffer"] = int(
            parse_positive("--udp-receive-buffer", self["udp-receive-buffer"], int)
        )
        # The default is None, so that --help shows no "[default: ]", and ""
        # is the builders' value for all addresses.
        if self["interface"] is None:
            self["interface"] = ""
        if self["interface"]:
            parse_ip("--interface", self["interface"])
        software = self["software"]
        if software is not None and len(software.encode("utf-8")) > 763:
            raise usage.UsageError("invalid --software: longer than 763 bytes")
        # --- ICE and the session API --------------------------------------
        check_ice_options(self)
        # --- TURN ----------------------------------------------------------
        check_turn_options(self)
        # --- TCP and TLS ---------------------------------------------------
        check_tcp_options(self)
        # --- Operations ----------------------------------------------------
        check_operations_options(self)

    # --- ICE and the session API: repeatable options ------------------------

    def opt_public_ip(self, value: str) -> None:
        """
        IP address to put in ICE host candidates; repeat for several. Default:
        the --interface address, or this machine's addresses but loopback and
        link-local ones when listening on all.
        """
        self.setdefault("public-ip", []).append(value)

    def opt_relay_ip(self, value: str) -> None:
        """
        IP address that TURN relay ports bind on; give it twice, once for
        each IP version, for IPv4 and IPv6 relays. Default: --interface, or
        this machine's first non-loopback address.
        """
        self.setdefault("relay-ip", []).append(value)

    def opt_forward_allow(self, value: str) -> None:
        """
        Network (CIDR) that forward media targets may be in; repeat for
        several. Default: 127.0.0.0/8 and ::1.
        """
        self.setdefault("forward-allow", []).append(value)

    # --- TURN: repeatable options -----------------------------------------

    def opt_user(self, value: str) -> None:
        """
        TURN user NAME:PASSWORD; repeat for more users.
        """
        try:
            parse_user(value)
        except ValueError as error:
            raise usage.UsageError(f"invalid --user: {error}") from None
        self.setdefault("user", []).append(value)

    def opt_auth_secret(self, value: str) -> None:
        """
        TURN REST shared secret; repeat to accept several while rotating.
        """
        if not value:
            raise usage.UsageError("invalid --auth-secret: empty")
        self.setdefault("auth-secret", []).append(value)

    def opt_rfc5766_channels(self) -> None:
        """
        Accept TURN channels up to 0x7FFF (RFC 5766), as turnutils_uclient uses.
        """
        self["rfc5766-channels"] = True

    def opt_allow_peer(self, value: str) -> None:
        """
        CIDR network of TURN peers to allow, over every deny rule; repeatable.
        """
        self.setdefault("allow-peer", []).append(parse_cidr("--allow-peer", value))

    def opt_deny_peer(self, value: str) -> None:
        """
        CIDR network of TURN peers to deny; repeatable.
        """
        self.setdefault("deny-peer", []).append(parse_cidr("--deny-peer", value))


def parse_port(option: str, value: object) -> int:
    """
    Convert a port option to an L{int} in 0-65535.

    @raise usage.UsageError: naming C{option} when C{value} is not a port.
    """
    try:
        port = int(str(value))
    except ValueError:
        raise usage.UsageError(
            f"invalid {option} {value!r}: not a port number"
        ) from None
    if not 0 <= port <= 65535:
        raise usage.UsageError(f"invalid {option} {port}: not in 0-65535")
    return port


def makeService(options: Options) -> IService:
    """
    Build the service tree for C{options}.

    The UDP socket is bound here, before twistd starts the reactor, so a port
    in use ends the process with one line and exit status 1.

    @raise SystemExit: when a socket cannot be bound.
    """
    parent = MultiService()
    udp_mux = build_udp_mux(options, parent)
    udp_mux.ice = build_ice(options, parent, udp_mux)
    udp_mux.turn = build_turn(options, parent, udp_mux)
    build_tcp(options, parent, udp_mux)
    return build_operations(options, parent)


# --- UDP mux and STUN --------------------------------------------------------


def build_udp_mux(options: Options, parent: MultiService) -> UdpMux:
    """
    Bind the UDP port and add the service that runs the mux on it.

    @raise SystemExit: when the port cannot be bound.
    """
    interface = options["interface"] or default_interface()
    port = options["udp-port"]
    try:
        sock = bind_udp_socket(interface, port)
    except OSError as error:
        raise SystemExit(
            f"{PROGRAM}: cannot listen on UDP {interface} port {port}:"
            f" {error.strerror or error}"
        ) from None
    requested = options["udp-receive-buffer"]
    size = set_receive_buffer(sock, requested)
    if size < requested:
        log.warn(
            "UDP receive buffer is {size} bytes, not the {requested} of"
            " --udp-receive-buffer: the kernel capped it. Raise net.core.rmem_max"
            " to allow more.",
            size=size,
            requested=requested,
        )
    mux = UdpMux(
        responder=BindingResponder(software=options["software"]), batch=SendBatch()
    )
    UdpMuxService(sock, mux).setServiceParent(parent)  # type: ignore[no-untyped-call]
    return mux


# --- ICE and the session API ---------------------------------------------------


def check_ice_options(options: Options) -> None:
    """
    Check and convert the ICE and session API options: C{public-ip} becomes
    a list of addresses, C{forward-allow} a L{ForwardPolicy}, the token file
    is read, and C{dtls-fingerprint} is set from C{--dtls-cert} or a
    generated certificate.

    @raise usage.UsageError: when a value is invalid.
    """
    options.public_ip_given = bool(options.get("public-ip"))
    addresses = options.get("public-ip") or default_public_addresses(
        options["interface"]
    )
    for address in addresses:
        parsed = parse_ip("--public-ip", address)
        if parsed.is_unspecified or parsed.is_multicast:
            raise usage.UsageError(
                f"invalid --public-ip {address}: not a unicast address"
            )
    if not addresses:
        raise usage.UsageError(
            "no address for ICE candidates found on this machine; give --public-ip"
        )
    options["public-ip"] = [str(ipaddress.ip_address(a)) for a in addresses]

    try:
        options["forward-allow"] = ForwardPolicy(
            options.get("forward-allow") or DEFAULT_FORWARD_NETWORKS
        )
    except ValueError as error:
        raise usage.UsageError(f"invalid --forward-allow: {error}") from None

    token_file = options["api-token-file"]
    if token_file is not None:
        try:
            with open(token_file, encoding="utf-8") as file:
                first_line = file.readline()
        except OSError as error:
            raise usage.UsageError(
                f"cannot read --api-token-file {token_file}: {error.strerror}"
            ) from None
        options["api-token"] = first_line.strip()
        if not first_line:
            raise usage.UsageError(f"invalid --api-token-file {token_file}: empty")
        if not options["api-token"]:
            raise usage.UsageError(
                f"invalid --api-token-file {token_file}: the first line, which"
                " must be the token, is blank"
            )
    token = options["api-token"]
    if token is not None and not token.strip():
        # An empty token would turn authentication off without a word; leaving
        # the option out is the only way to do that.
        raise usage.UsageError(
            "invalid --api-token: empty; give a token, or leave the option out"
            " to accept requests without one"
        )

    if options["dtls-cert"] is None:
        certificate = generate_certificate()
    else:
        try:
            certificate = load_certificate(options["dtls-cert"])
        except (OSError, ValueError) as error:
            raise usage.UsageError(
                f"invalid --dtls-cert {options['dtls-cert']}: {error}"
            ) from None
    options["dtls-fingerprint"] = "sha-256 " + certificate_fingerprint(certificate)

    try:
        idle_timeout = float(options["session-idle-timeout"])
    except ValueError:
        idle_timeout = -1.0
    if not idle_timeout >= 0:
        raise usage.UsageError(
            f"invalid --session-idle-timeout {options['session-idle-timeout']!r}:"
            " not a number of seconds, 0 or more"
        )
    options["session-idle-timeout"] = idle_timeout

    try:
        max_sessions = int(options["max-sessions"])
    except ValueError:
        max_sessions = -1
    if max_sessions < 0:
        raise usage.UsageError(
            f"invalid --max-sessions {options['max-sessions']!r}:"
            " not a whole number, 0 or more"
        )
    options["max-sessions"] = max_sessions


def build_ice(
    options: Options, parent: MultiService, writer: IPathWriter
) -> IIceService | None:
    """
    Build the lite ICE agent that sends through C{writer}, and the session
    API in front of it.

    @raise SystemExit: when the C{--api} endpoint string is invalid.
    """
    ice = IceService(
        addresses=options["public-ip"],
        udp_port=options["udp-port"],
        fingerprint=options["dtls-fingerprint"],
        forward_policy=options["forward-allow"],
        session_idle_timeout=options["session-idle-timeout"] or None,
        max_sessions=options["max-sessions"] or None,
    )
    ice.writers[Transport.UDP] = writer
    ice.setServiceParent(parent)  # type: ignore[no-untyped-call]

    from twisted.internet import reactor

    try:
        endpoint = endpoints.serverFromString(reactor, options["api"])
    except ValueError as error:
        raise SystemExit(
            f"{PROGRAM}: invalid --api {options['api']!r}: {error}"
        ) from None
    resource = SessionApi(
        ice, token=options["api-token"], cors_origin=options["api-cors-origin"]
    )
    site = ApiSite(resource)
    api = ApiService(endpoint, site, options["api"])
    api.setServiceParent(parent)  # type: ignore[no-untyped-call]
    return ice


# --- TURN ----------------------------------------------------------------------


def build_turn(
    options: Options, parent: MultiService, mux: UdpMux
) -> ITurnService | None:
    """
    Build the TURN server that sends to clients through C{mux}, and to peers
    in the same batches as C{mux}. Return L{None} when no TURN user or REST
    secret is configured.
    """
    from twisted_ice.transport.turn import build_turn_service

    turn = build_turn_service(options, parent, mux, batch=mux.batch)
    if turn is not None and relay_public_ip_missing(options):
        log.warn(
            "TURN relay address {relay_ip} is none of the --public-ip addresses"
            " ({public_ip}), so clients behind that NAT get a private relayed"
            " address. Set --relay-public-ip to the relay's public address.",
            relay_ip=", ".join(options["relay-ip"]),
            public_ip=", ".join(options["public-ip"]),
        )
    return turn


def relay_public_ip_missing(options: Options) -> bool:
    """
    Return whether the checked options look like a 1:1 NAT without
    C{--relay-public-ip}: TURN is on, C{--public-ip} was given, and none of
    its addresses is the relay address.
    """
    return (
        bool(options["turn"])
        and options.public_ip_given
        and options["relay-public-ip"] is None
        and not set(options["relay-ip"]) & set(options["public-ip"])
    )


def parse_ip(option: str, value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """
    Parse the IP address C{value} of C{option}.

    @raise usage.UsageError: naming the option and the value, when C{value}
        is not an IP address.
    """
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise usage.UsageError(
            f"invalid {option} {value!r}: not an IP address"
        ) from None


def parse_cidr(option: str, value: str) -> str:
    """
    Normalize a CIDR network (C{192.0.2.0/24}, C{2001:db8::/32}, or one
    address); host bits are allowed and cleared.

    @raise usage.UsageError: naming C{option} when C{value} is not a network.
    """
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise usage.UsageError(
            f"invalid {option} {value!r}: not a CIDR network such as 192.0.2.0/24"
        ) from None


def parse_positive(option: str, value: object, kind: type[int] | type[float]) -> float:
    """
    Convert C{value} to a positive number of C{kind}.

    @raise usage.UsageError: naming C{option} when it is not one.
    """
    try:
        number = kind(str(value))
    except ValueError:
        raise usage.UsageError(f"invalid {option} {value!r}: not a number") from None
    if not number > 0 or number != number or number == float("inf"):
        raise usage.UsageError(f"invalid {option} {value!r}: not a positive number")
    return number


def parse_port_range(option: str, value: str) -> range:
    """
    Convert C{MIN-MAX} to the range of ports from MIN to MAX inclusive.

    @raise usage.UsageError: naming C{option} when C{value} is not a range of
        ports 1-65535 with MIN <= MAX.
    """
    low_text, dash, high_text = value.partition("-")
    if not dash:
        raise usage.UsageError(f"invalid {option} {value!r}: expected MIN-MAX")
    low = parse_port(option, low_text.strip())
    high = parse_port(option, high_text.strip())
    if low == 0 or low > high:
        raise usage.UsageError(
            f"invalid {option} {value!r}: expected 1 <= MIN <= MAX <= 65535"
        )
    return range(low, high + 1)


def default_relay_ip(interface: str) -> str | None:
    """
    Return the address of the relay ports when C{--relay-ip} is not given:
    C{interface} itself, or, for a wildcard, this machine's first address
    that is neither loopback nor link-local, IPv4 first.
    """
    if interface and not ipaddress.ip_address(interface).is_unspecified:
        return interface
    addresses = default_public_addresses(interface)
    return addresses[0] if addresses else None


def check_turn_options(options: Options) -> None:
    """
    Check and convert the TURN options; set C{options["turn"]} to whether
    TURN is enabled, which it is when a user, a users file or a REST secret
    is configured.

    @raise usage.UsageError: when a value is invalid.
    """
    options.setdefault("user", [])
    options.setdefault("auth-secret", [])
    options.setdefault("allow-peer", [])
    options.setdefault("deny-peer", [])
    options.setdefault("rfc5766-channels", False)
    options.setdefault("relay-ip", [])
    if not options["realm"]:
        raise usage.UsageError("invalid --realm: empty")
    if options["users"] is not None:
        try:
            read_users_file(options["users"])
        except UsersFileError as error:
            raise usage.UsageError(f"invalid --users: {error}") from None
    if len(options["rest-api-separator"]) != 1:
        raise usage.UsageError(
            f"invalid --rest-api-separator {options['rest-api-separator']!r}:"
            " not one character"
        )
    for option in ("max-allocations", "user-quota"):
        if options[option] is not None:
            options[option] = int(parse_positive(f"--{option}", options[option], int))
    options["relay-ports"] = parse_port_range("--relay-ports", options["relay-ports"])
    options["max-lifetime"] = parse_positive(
        "--max-lifetime", options["max-lifetime"], float
    )
    if options["max-lifetime"] < 600:
        raise usage.UsageError(
            f"invalid --max-lifetime {options['max-lifetime']:g}: below 600 s,"
            " the default allocation lifetime"
        )
    options["nonce-lifetime"] = parse_positive(
        "--nonce-lifetime", options["nonce-lifetime"], float
    )
    options["turn"] = bool(
        options["user"] or options["users"] is not None or options["auth-secret"]
    )
    if not options["turn"]:
        return

    values = options["relay-ip"]
    if not values:
        default = default_relay_ip(options["interface"])
        if not default:
            raise usage.UsageError(
                "missing --relay-ip: no address for TURN relay ports found on"
                " this machine"
            )
        values = [default]
    relay_ips: list[str] = []
    versions: set[int] = set()
    for relay_ip in values:
        address = parse_ip("--relay-ip", relay_ip)
        if address.is_unspecified:
            raise usage.UsageError(
                f"invalid --relay-ip {relay_ip!r}: a wildcard address; give the"
                " address that clients reach"
            )
        if address.version in versions:
            raise usage.UsageError(
                f"invalid --relay-ip {relay_ip!r}: a second IPv{address.version}"
                " address; give at most one IPv4 and one IPv6 address"
            )
        versions.add(address.version)
        relay_ips.append(str(address))
    options["relay-ip"] = relay_ips
    check_relay_public_ip(options)


def check_relay_public_ip(options: Options) -> None:
    """
    Check C{--relay-public-ip} against the checked C{--relay-ip} addresses.

    @raise usage.UsageError: when it is not a unicast IP address of the IP
        version of a relay address.
    """
    value = options["relay-public-ip"]
    if value is None:
        return
    public = parse_ip("--relay-public-ip", value)
    if public.is_unspecified or public.is_multicast:
        raise usage.UsageError(
            f"invalid --relay-public-ip {value!r}: not a unicast address"
        )
    if host_of_version(options["relay-ip"], public.version) is None:
        raise usage.UsageError(
            f"invalid --relay-public-ip {value!r}: not of the IP version of"
            f" --relay-ip {', '.join(options['relay-ip'])}"
        )
    options["relay-public-ip"] = str(public)


# --- TCP and TLS -----------------------------------------------------------------


def build_tcp(options: Options, parent: MultiService, udp_mux: UdpMux) -> None:
    """
    Add the TCP/TLS listener on C{--tcp-port}, sharing the UDP mux's Binding
    responder and services, unless the port is 0.

    @raise SystemExit: when the port cannot be bound.
    """
    interface = options["interface"] or default_interface()
    build_tcp_mux(
        options, parent, interface, udp_mux.responder, udp_mux.ice, udp_mux.turn
    )
