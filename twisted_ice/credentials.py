"""
The TURN credential stores: static users, a users file reloaded on SIGHUP, the
TURN REST scheme of shared secrets, and a chain of stores.

Each store returns the candidate long-term keys (RFC 8489 section 9.2.2) for a
USERNAME and REALM as a L{Deferred}, so a store backed by a database fits the
same interface. The TURN core tries each key against MESSAGE-INTEGRITY.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path as FilePath
from types import FrameType
from typing import Any, Protocol

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_ice.interfaces import ICredentialStore
from twisted_ice.stun import long_term_key

DEFAULT_REALM = "twisted-ice"
"""
The REALM sent in 401 responses when C{--realm} is not given.
"""

REST_SEPARATOR = ":"
"""
The separator between expiry timestamp and user id in a TURN REST username, as
in coturn's C{--rest-api-separator} default.
"""


class UsersFileError(ValueError):
    """
    A users file could not be read, or a line of it is not C{name:password}.
    """


def parse_user(text: str) -> tuple[str, str]:
    """
    Split C{NAME:PASSWORD} at the first colon.

    @raise ValueError: when there is no colon, or the name or the password is
        empty. The message never contains the password.
    """
    name, colon, password = text.partition(":")
    if not colon:
        raise ValueError("expected NAME:PASSWORD")
    if not name:
        raise ValueError("the user name is empty")
    if not password:
        raise ValueError(f"the password of user {name!r} is empty")
    return name, password


def read_users_file(path: str) -> dict[str, str]:
    """
    Read a users file: one C{name:password} a line, in UTF-8. Blank lines and
    lines whose first non-blank character is C{#} are skipped, and spaces
    around a line are removed.

    @raise UsersFileError: when the file cannot be read or decoded, or a line
        is malformed. The message names the file and the line number, never a
        password.
    """
    try:
        text = FilePath(path).read_text(encoding="utf-8")
    except OSError as error:
        raise UsersFileError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise UsersFileError(
            f"cannot read {path}: not UTF-8 at byte {error.start}"
        ) from None

    users: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            name, password = parse_user(line)
        except ValueError as error:
            raise UsersFileError(f"{path} line {number}: {error}") from None
        users[name] = password
    return users


def _keys_for(username: str, realm: str, passwords: Iterable[str]) -> list[bytes]:
    """
    Return the long-term keys for C{username} in C{realm} with each password,
    skipping those that the OpaqueString profile rejects.
    """
    keys = []
    for password in passwords:
        try:
            keys.append(long_term_key(username, realm, password))
        except ValueError:
            continue
    return keys


@implementer(ICredentialStore)
class StaticCredentialStore:
    """
    Users with fixed passwords, as given by C{--user NAME:PASSWORD}, valid in
    every realm.

    @ivar users: the passwords by user name. L{UsersFileStore} replaces it on
        reload.
    """

    def __init__(self, users: Mapping[str, str] | None = None) -> None:
        """
        @param users: the passwords by user name.
        """
        self.users: dict[str, str] = dict(users or {})

    def get_keys(self, username: str, realm: str) -> Deferred[list[bytes]]:
        """
        Return the long-term key of C{username}, or no key for an unknown user.
        """
        password = self.users.get(username)
        if password is None:
            return succeed([])
        return succeed(_keys_for(username, realm, [password]))


class UsersFileStore(StaticCredentialStore):
    """
    The users of a file (see L{read_users_file}), read at creation and again
    by L{reload}.
    """

    log = Logger()

    def __init__(self, path: str) -> None:
        """
        Read the users of C{path}.

        @raise UsersFileError: when the file cannot be read or is malformed.
        """
        super().__init__(read_users_file(path))
        self.path = path

    def reload(self) -> bool:
        """
        Read the file again and replace the users with its contents. When the
        file cannot be read or is malformed, log the error and keep the users
        loaded before.

        @return: whether the users were replaced.
        """
        try:
            users = read_users_file(self.path)
        except UsersFileError as error:
            self.log.error(
                "Failed to reload TURN users, keeping the {count} loaded before:"
                " {error}",
                count=len(self.users),
                error=str(error),
            )
            return False
        self.users = users
        self.log.info(
            "Reloaded {count} TURN users from {path}", count=len(users), path=self.path
        )
        return True


class _ThreadSafeCaller(Protocol):
    def callFromThread(  # noqa: N802 (Twisted's name)
        self, callable: Callable[..., Any], *args: object
    ) -> None: ...


SignalHandler = Callable[[int, FrameType | None], Any] | int | None
SignalInstaller = Callable[[int, SignalHandler], SignalHandler]


class ReloadOnSighup(Service):
    """
    A service that reloads a L{UsersFileStore} when the process receives
    SIGHUP, while it runs.

    The signal handler only schedules the reload with C{callFromThread}, so
    the file is read in the reactor thread between two events, never in the
    middle of one. The handler that was installed before is restored on stop.
    """

    def __init__(
        self,
        store: UsersFileStore,
        reactor: _ThreadSafeCaller | None = None,
        install: SignalInstaller = signal.signal,
    ) -> None:
        """
        @param store: the store to reload.
        @param reactor: what schedules the reload; the global reactor when
            L{None}.
        @param install: installs a signal handler and returns the previous
            one, like L{signal.signal}; tests pass a fake.
        """
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor  # type: ignore[assignment]
        assert reactor is not None
        self.store = store
        self._reactor = reactor
        self._install = install
        self._previous: SignalHandler = None

    def startService(self) -> None:
        """
        Install the SIGHUP handler.
        """
        super().startService()  # type: ignore[no-untyped-call]
        self._previous = self._install(signal.SIGHUP, self._signal_received)

    def stopService(self) -> object:
        """
        Restore the SIGHUP handler that was installed before.
        """
        previous = self._previous
        self._install(signal.SIGHUP, signal.SIG_DFL if previous is None else previous)
        return super().stopService()  # type: ignore[no-untyped-call]

    def _signal_received(self, signum: int, frame: FrameType | None) -> None:
        self._reactor.callFromThread(self.store.reload)


def rest_username_expiry(username: str, separator: str = REST_SEPARATOR) -> int | None:
    """
    Return the expiry time (Unix seconds) of a TURN REST username.

    The username is C{expiry:userId}, as coturn and the TURN REST API draft
    write it; C{userId:expiry} is accepted when the first part is not a
    number, and a bare C{expiry} too.

    @return: the expiry, or L{None} when neither end of the username is a
        decimal number.
    """
    first, found, rest = username.partition(separator)
    if first.isascii() and first.isdecimal():
        return int(first)
    if not found:
        return None
    last = username.rpartition(separator)[2]
    if last.isascii() and last.isdecimal():
        return int(last)
    return None


def rest_password(secret: bytes, username: str) -> str:
    """
    Return the TURN REST password of C{username}:
    C{base64(HMAC-SHA1(secret, username))}.
    """
    digest = hmac.new(secret, username.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


@implementer(ICredentialStore)
class RestCredentialStore:
    """
    The TURN REST scheme: the password of a username is derived from a shared
    secret, and the username carries its own expiry time.

    Several secrets are valid at once, so a secret can be rotated: the new one
    is added, the applications switch to it, then the old one is removed.
    A username is valid up to and including its expiry second, as in coturn.
    """

    def __init__(
        self,
        secrets: Sequence[bytes],
        clock: Callable[[], float] = time.time,
        separator: str = REST_SEPARATOR,
    ) -> None:
        """
        @param secrets: the shared secrets, each tried in turn.
        @param clock: returns the current Unix time in seconds.
        @param separator: the character between expiry and user id.
        """
        self.secrets = list(secrets)
        self._clock = clock
        self._separator = separator

    def get_keys(self, username: str, realm: str) -> Deferred[list[bytes]]:
        """
        Return one long-term key per secret, or no key when C{username} has
        no expiry or has expired.
        """
        expiry = rest_username_expiry(username, self._separator)
        if expiry is None or expiry < self._clock():
            return succeed([])
        passwords = [rest_password(secret, username) for secret in self.secrets]
        return succeed(_keys_for(username, realm, passwords))


@implementer(ICredentialStore)
class ChainedCredentialStore:
    """
    Several stores at once: the keys of a username are those of every store.

    A store that fails is logged and counts as no key, so a failing database
    store does not lock out the static users.
    """

    log = Logger()

    def __init__(self, stores: Sequence[ICredentialStore]) -> None:
        """
        @param stores: the stores to ask, in order.
        """
        self.stores = list(stores)

    def get_keys(self, username: str, realm: str) -> Deferred[list[bytes]]:
        """
        Return the keys of all stores for C{username}, in store order.
        """
        if len(self.stores) == 1:
            return self.stores[0].get_keys(username, realm)
        lookups = [store.get_keys(username, realm) for store in self.stores]
        gathered: Deferred[list[tuple[bool, Any]]] = DeferredList(
            lookups, consumeErrors=True
        )
        return gathered.addCallback(self._merge)

    def _merge(self, results: list[tuple[bool, Any]]) -> list[bytes]:
        keys: list[bytes] = []
        for store, (succeeded, result) in zip(self.stores, results, strict=True):
            if succeeded:
                keys.extend(result)
                continue
            assert isinstance(result, Failure)
            self.log.failure("Credential store {store!r} failed", result, store=store)
        return keys
