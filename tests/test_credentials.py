"""
Tests for L{twisted_ice.credentials}.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import signal
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.logger import LogEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from twisted_ice.credentials import (
    ChainedCredentialStore,
    ReloadOnSighup,
    RestCredentialStore,
    StaticCredentialStore,
    UsersFileError,
    UsersFileStore,
    parse_user,
    read_users_file,
    rest_password,
    rest_username_expiry,
)
from twisted_ice.interfaces import ICredentialStore

REALM = "example.org"


def rfc_key(username: str, realm: str, password: str) -> bytes:
    """
    Return the RFC 8489 section 9.2.2 long-term key, computed here from its
    definition: MD5(username ":" realm ":" password).
    """
    text = f"{username}:{realm}:{password}".encode()
    return hashlib.md5(text, usedforsecurity=False).digest()


def rest_credentials(secret: bytes, username: str) -> str:
    """
    Return the TURN REST password of C{username}, computed here from its
    definition: base64(HMAC-SHA1(secret, username)).
    """
    digest = hmac.new(secret, username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def result_of(deferred: Deferred[Any]) -> Any:
    """
    Return the result of a Deferred that has already fired.
    """
    results: list[Any] = []
    deferred.addBoth(results.append)
    assert results, "the Deferred has not fired"
    return results[0]


class ParseUserTests(SynchronousTestCase):
    """
    Tests for L{parse_user}.
    """

    def test_splits_at_first_colon(self) -> None:
        """
        The name ends at the first colon; the password may contain colons.
        """
        self.assertEqual(parse_user("alice:pa:ss"), ("alice", "pa:ss"))

    def test_no_colon(self) -> None:
        """
        Text without a colon is rejected.
        """
        self.assertRaises(ValueError, parse_user, "alice")

    def test_empty_name(self) -> None:
        """
        An empty name is rejected.
        """
        self.assertRaises(ValueError, parse_user, ":secret")

    def test_empty_password(self) -> None:
        """
        An empty password is rejected, and the message names the user.
        """
        error = self.assertRaises(ValueError, parse_user, "alice:")
        self.assertIn("alice", str(error))


class StaticStoreTests(SynchronousTestCase):
    """
    Tests for L{StaticCredentialStore}.
    """

    def test_provides_interface(self) -> None:
        """
        The store provides L{ICredentialStore}.
        """
        self.assertTrue(verifyObject(ICredentialStore, StaticCredentialStore()))

    def test_known_user_key(self) -> None:
        """
        A known user gets one key, MD5(username:realm:password).
        """
        store = StaticCredentialStore({"alice": "secret"})
        keys = result_of(store.get_keys("alice", REALM))
        self.assertEqual(keys, [rfc_key("alice", REALM, "secret")])

    def test_unknown_user(self) -> None:
        """
        An unknown user gets no key.
        """
        store = StaticCredentialStore({"alice": "secret"})
        self.assertEqual(result_of(store.get_keys("bob", REALM)), [])

    def test_invalid_user_name_no_key(self) -> None:
        """
        A user name that the OpaqueString profile rejects (a control
        character) gets no key, and no exception.
        """
        store = StaticCredentialStore({"al\x07ice": "secret"})
        self.assertEqual(result_of(store.get_keys("al\x07ice", REALM)), [])

    def test_key_depends_on_realm(self) -> None:
        """
        The key is computed for the realm asked for.
        """
        store = StaticCredentialStore({"alice": "secret"})
        keys = result_of(store.get_keys("alice", "other"))
        self.assertEqual(keys, [rfc_key("alice", "other", "secret")])


class UsersFileTests(SynchronousTestCase):
    """
    Tests for L{read_users_file} and L{UsersFileStore}.
    """

    def write(self, text: str | bytes) -> str:
        """
        Write C{text} to a new file and return its path.
        """
        path = self.mktemp()
        mode = "wb" if isinstance(text, bytes) else "w"
        with open(path, mode) as f:
            f.write(text)
        return path

    def test_reads_users(self) -> None:
        """
        Each C{name:password} line is one user.
        """
        path = self.write("alice:one\nbob:two\n")
        self.assertEqual(read_users_file(path), {"alice": "one", "bob": "two"})

    def test_comments_and_blank_lines(self) -> None:
        """
        Comment lines and blank lines are skipped.
        """
        path = self.write("# users\n\n  # indented comment\nalice:one\r\n   \n")
        self.assertEqual(read_users_file(path), {"alice": "one"})

    def test_malformed_line(self) -> None:
        """
        A line without a colon is an error naming the file and line number.
        """
        path = self.write("alice:one\nbob\n")
        error = self.assertRaises(UsersFileError, read_users_file, path)
        self.assertIn(f"{path} line 2", str(error))

    def test_error_hides_password(self) -> None:
        """
        The message for a malformed line does not contain the passwords.
        """
        path = self.write("alice:hunter2\n:nameless\n")
        error = self.assertRaises(UsersFileError, read_users_file, path)
        self.assertNotIn("nameless", str(error))

    def test_missing_file(self) -> None:
        """
        A file that does not exist is an error naming it.
        """
        path = self.mktemp()
        error = self.assertRaises(UsersFileError, read_users_file, path)
        self.assertIn(path, str(error))

    def test_not_utf8(self) -> None:
        """
        A file that is not UTF-8 is an error.
        """
        path = self.write(b"alice:\xff\n")
        self.assertRaises(UsersFileError, read_users_file, path)

    def test_store_keys(self) -> None:
        """
        The store gives the key of a user of the file.
        """
        store = UsersFileStore(self.write("alice:one\n"))
        keys = result_of(store.get_keys("alice", REALM))
        self.assertEqual(keys, [rfc_key("alice", REALM, "one")])

    def test_reload_replaces_users(self) -> None:
        """
        L{UsersFileStore.reload} reads the file again.
        """
        path = self.write("alice:one\n")
        store = UsersFileStore(path)
        with open(path, "w") as f:
            f.write("bob:two\n")
        self.assertTrue(store.reload())
        self.assertEqual(store.users, {"bob": "two"})

    def test_reload_bad_file_keeps_users(self) -> None:
        """
        When the file has become malformed, the reload fails and the users
        loaded before stay.
        """
        path = self.write("alice:one\n")
        store = UsersFileStore(path)
        with open(path, "w") as f:
            f.write("bob\n")
        events: list[LogEvent] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        self.assertFalse(store.reload())
        self.assertEqual(store.users, {"alice": "one"})
        self.assertEqual(events[-1]["log_level"].name, "error")

    def test_reload_missing_file_keeps_users(self) -> None:
        """
        When the file has been removed, the users loaded before stay.
        """
        path = self.write("alice:one\n")
        store = UsersFileStore(path)
        os.remove(path)
        self.assertFalse(store.reload())
        self.assertEqual(store.users, {"alice": "one"})

    def test_reload_logs_count(self) -> None:
        """
        A reload logs the number of users, never a password.
        """
        path = self.write("alice:hunter2\nbob:two\n")
        store = UsersFileStore(path)
        events: list[LogEvent] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        store.reload()
        self.assertEqual(events[-1]["count"], 2)
        self.assertNotIn("hunter2", repr(events[-1]))


class FakeReactor:
    """
    Records what is scheduled with C{callFromThread}.
    """

    def __init__(self) -> None:
        self.calls: list[Callable[[], Any]] = []

    def callFromThread(self, f: Callable[..., Any], *args: object) -> None:
        """
        Record C{f}.
        """
        self.calls.append(lambda: f(*args))


class FakeSignals:
    """
    A stand-in for L{signal.signal} that records the installed handlers.
    """

    def __init__(self, previous: Any = signal.SIG_DFL) -> None:
        self.handlers: dict[int, Any] = {signal.SIGHUP: previous}

    def install(self, signum: int, handler: Any) -> Any:
        """
        Install C{handler}, returning the previous one.
        """
        previous = self.handlers.get(signum)
        self.handlers[signum] = handler
        return previous


class ReloadOnSighupTests(SynchronousTestCase):
    """
    Tests for L{ReloadOnSighup}.
    """

    def setUp(self) -> None:
        self.path = self.mktemp()
        with open(self.path, "w") as f:
            f.write("alice:one\n")
        self.store = UsersFileStore(self.path)
        self.reactor = FakeReactor()
        self.signals = FakeSignals(previous="previous handler")
        self.service = ReloadOnSighup(
            self.store, reactor=self.reactor, install=self.signals.install
        )

    def rewrite(self, text: str) -> None:
        """
        Replace the contents of the users file.
        """
        with open(self.path, "w") as f:
            f.write(text)

    def test_start_installs_handler(self) -> None:
        """
        Starting the service installs a SIGHUP handler.
        """
        self.service.startService()
        self.assertTrue(callable(self.signals.handlers[signal.SIGHUP]))

    def test_signal_schedules_reload(self) -> None:
        """
        The handler only schedules the reload in the reactor thread; the file
        is read when the reactor runs the call.
        """
        self.service.startService()
        self.rewrite("bob:two\n")
        self.signals.handlers[signal.SIGHUP](signal.SIGHUP, None)
        self.assertEqual(self.store.users, {"alice": "one"})
        self.assertEqual(len(self.reactor.calls), 1)
        self.reactor.calls[0]()
        self.assertEqual(self.store.users, {"bob": "two"})

    def test_signal_bad_file_keeps_users(self) -> None:
        """
        A SIGHUP while the file is malformed keeps the users loaded before.
        """
        self.service.startService()
        self.rewrite("no colon here\n")
        self.signals.handlers[signal.SIGHUP](signal.SIGHUP, None)
        self.reactor.calls[0]()
        self.assertEqual(self.store.users, {"alice": "one"})

    def test_stop_restores_handler(self) -> None:
        """
        Stopping the service restores the handler installed before.
        """
        self.service.startService()
        self.service.stopService()
        self.assertEqual(self.signals.handlers[signal.SIGHUP], "previous handler")


class RestUsernameTests(SynchronousTestCase):
    """
    Tests for L{rest_username_expiry} and L{rest_password}.
    """

    def test_expiry_first(self) -> None:
        """
        C{expiry:userId} gives the expiry.
        """
        self.assertEqual(rest_username_expiry("1700000000:alice"), 1700000000)

    def test_user_first(self) -> None:
        """
        C{userId:expiry} gives the expiry when the first part is not a number.
        """
        self.assertEqual(rest_username_expiry("alice:1700000000"), 1700000000)

    def test_bare_expiry(self) -> None:
        """
        A username that is only a number is its expiry.
        """
        self.assertEqual(rest_username_expiry("1700000000"), 1700000000)

    def test_user_id_with_separator(self) -> None:
        """
        The user id after the expiry may contain the separator.
        """
        self.assertEqual(rest_username_expiry("1700000000:a:b"), 1700000000)

    def test_no_number(self) -> None:
        """
        A username with no number at either end has no expiry.
        """
        self.assertIsNone(rest_username_expiry("alice:bob"))

    def test_plain_name(self) -> None:
        """
        A plain user name has no expiry.
        """
        self.assertIsNone(rest_username_expiry("alice"))

    def test_non_ascii_digits(self) -> None:
        """
        Digits of other scripts are not an expiry.
        """
        self.assertIsNone(rest_username_expiry("\u0661\u0662:alice"))

    def test_other_separator(self) -> None:
        """
        A configured separator replaces the colon.
        """
        self.assertEqual(rest_username_expiry("1700000000-alice", "-"), 1700000000)

    def test_password(self) -> None:
        """
        The password is base64(HMAC-SHA1(secret, username)).
        """
        self.assertEqual(
            rest_password(b"s3cret", "1700000000:alice"),
            rest_credentials(b"s3cret", "1700000000:alice"),
        )


class RestStoreTests(SynchronousTestCase):
    """
    Tests for L{RestCredentialStore}.
    """

    now = 1_700_000_000.5

    def store(self, *secrets: bytes) -> RestCredentialStore:
        """
        Return a store with C{secrets} at the time L{now}.
        """
        return RestCredentialStore(list(secrets), clock=lambda: self.now)

    def test_provides_interface(self) -> None:
        """
        The store provides L{ICredentialStore}.
        """
        self.assertTrue(verifyObject(ICredentialStore, self.store(b"s")))

    def test_valid_username_key(self) -> None:
        """
        An unexpired username gets the long-term key of its REST password.
        """
        username = "1700003600:alice"
        keys = result_of(self.store(b"s3cret").get_keys(username, REALM))
        password = rest_credentials(b"s3cret", username)
        self.assertEqual(keys, [rfc_key(username, REALM, password)])

    def test_expired(self) -> None:
        """
        A username whose expiry is before now gets no key.
        """
        keys = result_of(self.store(b"s").get_keys("1699999999:alice", REALM))
        self.assertEqual(keys, [])

    def test_expiry_second_still_valid(self) -> None:
        """
        A username is valid through its expiry second, as in coturn.
        """
        store = RestCredentialStore([b"s"], clock=lambda: 1_700_000_000.0)
        keys = result_of(store.get_keys("1700000000:alice", REALM))
        self.assertEqual(len(keys), 1)

    def test_expired_just_after(self) -> None:
        """
        Half a second after its expiry second, a username has expired.
        """
        keys = result_of(self.store(b"s").get_keys("1700000000:alice", REALM))
        self.assertEqual(keys, [])

    def test_user_first_username(self) -> None:
        """
        C{userId:expiry} usernames are accepted.
        """
        username = "alice:1700003600"
        keys = result_of(self.store(b"s").get_keys(username, REALM))
        password = rest_credentials(b"s", username)
        self.assertEqual(keys, [rfc_key(username, REALM, password)])

    def test_no_expiry(self) -> None:
        """
        A username without an expiry gets no key.
        """
        keys = result_of(self.store(b"s").get_keys("alice", REALM))
        self.assertEqual(keys, [])

    def test_rotation_two_secrets(self) -> None:
        """
        With two secrets, a username gets one key per secret, in order, so
        passwords made with either secret are accepted.
        """
        username = "1700003600:alice"
        keys = result_of(self.store(b"old", b"new").get_keys(username, REALM))
        old = rfc_key(username, REALM, rest_credentials(b"old", username))
        new = rfc_key(username, REALM, rest_credentials(b"new", username))
        self.assertEqual(keys, [old, new])

    def test_clock_read_per_request(self) -> None:
        """
        The clock is read at each lookup, so a username expires while the
        store runs.
        """
        store = self.store(b"s")
        self.assertEqual(len(result_of(store.get_keys("1700000100:a", REALM))), 1)
        self.now = 1_700_000_101.0
        self.assertEqual(result_of(store.get_keys("1700000100:a", REALM)), [])


class ChainedStoreTests(SynchronousTestCase):
    """
    Tests for L{ChainedCredentialStore}.
    """

    def test_provides_interface(self) -> None:
        """
        The store provides L{ICredentialStore}.
        """
        store = ChainedCredentialStore([StaticCredentialStore()])
        self.assertTrue(verifyObject(ICredentialStore, store))

    def test_keys_of_all_stores(self) -> None:
        """
        The keys of every store are returned, in store order.
        """
        first = StaticCredentialStore({"1700003600:a": "x"})
        second = RestCredentialStore([b"s"], clock=lambda: 1_700_000_000)
        store = ChainedCredentialStore([first, second])
        keys = result_of(store.get_keys("1700003600:a", REALM))
        rest = rest_credentials(b"s", "1700003600:a")
        self.assertEqual(
            keys,
            [rfc_key("1700003600:a", REALM, "x"), rfc_key("1700003600:a", REALM, rest)],
        )

    def test_failing_store_skipped(self) -> None:
        """
        A store whose lookup fails is logged and gives no key; the others
        still count.
        """

        class Failing:
            def get_keys(self, username: str, realm: str) -> Deferred[list[bytes]]:
                return fail(RuntimeError("database down"))

        store = ChainedCredentialStore(
            [Failing(), StaticCredentialStore({"alice": "one"})]  # type: ignore[list-item]
        )
        keys = result_of(store.get_keys("alice", REALM))
        self.assertEqual(keys, [rfc_key("alice", REALM, "one")])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_waits_for_slow_store(self) -> None:
        """
        The result waits for every store.
        """
        slow: Deferred[list[bytes]] = Deferred()

        class Slow:
            def get_keys(self, username: str, realm: str) -> Deferred[list[bytes]]:
                return slow

        store = ChainedCredentialStore(
            [Slow(), StaticCredentialStore({"alice": "one"})]  # type: ignore[list-item]
        )
        results: list[list[bytes]] = []
        store.get_keys("alice", REALM).addCallback(results.append)
        self.assertEqual(results, [])
        slow.callback([b"k" * 16])
        self.assertEqual(results, [[b"k" * 16, rfc_key("alice", REALM, "one")]])
