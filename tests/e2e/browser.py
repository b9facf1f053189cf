"""
Headless Chromium for the end-to-end tests: the launcher, and a private
network namespace to run a browser scenario in.

Chromium on Linux never gathers candidates on the loopback interface, even
with C{--allow-loopback-in-peer-connection} (seen with Debian's chromium and
Playwright 1.65). In the host's network namespace it would therefore send
its checks from the machine's external address, and the server would answer
there. L{run_in_private_network} instead runs a scenario in a new user and
network namespace that has only loopback and a veth pair with no link
outside: Chromium gathers the veth address L{PRIVATE_HOST}, and no packet can
leave the namespace.

Typical use, from a trial test::

    require_private_network()
    result = run_in_private_network(
        [sys.executable, "-m", "tests.e2e.my_scenario"], timeout=60
    )

and in the scenario module, inside the namespace::

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            ...
        finally:
            browser.close()

Never install a browser with Playwright: L{CHROMIUM} is Debian's package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from twisted.trial import unittest

from tests.e2e.support import ROOT, require_command

CHROMIUM = "/usr/bin/chromium"
"""Debian's chromium; the tests never download another browser."""

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
"""
Flags for a headless Chromium that contacts nothing by itself and shows its
real host candidates (no mDNS names).
"""

LAUNCH_TIMEOUT = 20.0
"""Seconds Chromium has to start."""

PRIVATE_HOST = "10.211.0.1"
"""The non-loopback address inside the private namespace."""

_PRIVATE_GATEWAY = "10.211.0.2"

_NETWORK_SETUP = " && ".join(
    [
        "ip link set lo up",
        "ip link add veth0 type veth peer name veth1",
        f"ip addr add {PRIVATE_HOST}/24 dev veth0",
        "ip link set veth0 up",
        "ip link set veth1 up",
        # Chromium gathers only on interfaces of a network with a default
        # route; the gateway is the veth peer, which has no address, so the
        # route leads nowhere.
        f"ip route add default via {_PRIVATE_GATEWAY} dev veth0",
    ]
)

RESULT_PREFIX = "RESULT "
"""The prefix of the JSON line a scenario prints as its result."""


def launch_chromium(
    playwright: Any,
    timeout: float = LAUNCH_TIMEOUT,
    extra_args: Sequence[str] = (),
) -> Any:
    """
    Launch Debian's headless Chromium with L{CHROMIUM_ARGS}.

    @param playwright: What C{sync_playwright()} gives.
    @param extra_args: Flags appended to L{CHROMIUM_ARGS}.
    @return: The Playwright C{Browser}; close it in a C{finally}.
    """
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, *extra_args],
        headless=True,
        timeout=timeout * 1000,
    )


def require_private_network() -> None:
    """
    Check that Chromium, C{unshare} and C{ip} exist and that this user may
    create a user and network namespace.

    @raise unittest.FailTest: Under CI, when something is missing.
    @raise unittest.SkipTest: Outside CI, when something is missing.
    """
    require_command(CHROMIUM)
    unshare = require_command("unshare")
    require_command("ip")
    probe = subprocess.run(  # noqa: S603
        [unshare, "--user", "--map-root-user", "--net", "true"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    if probe.returncode != 0:
        message = f"cannot create a network namespace: {probe.stderr.strip()}"
        if os.environ.get("CI"):
            raise unittest.FailTest(message)
        raise unittest.SkipTest(message)


def run_in_private_network(
    argv: Sequence[str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """
    Run C{argv} from the repository root in a new user and network
    namespace with loopback and the veth address L{PRIVATE_HOST}, to
    completion.

    C{argv} is the first process of a new PID namespace too, so when it
    ends, however it ends, the kernel kills what it started (the server,
    the browser).

    @raise subprocess.TimeoutExpired: It still runs after C{timeout}
        seconds; it is killed first.
    """
    command = _NETWORK_SETUP + ' && exec "$@"'
    return subprocess.run(  # noqa: S603
        [
            "unshare",
            "--user",
            "--map-root-user",
            "--net",
            "--pid",
            "--fork",
            "--kill-child",
            "sh",
            "-c",
            command,
            "sh",
            *argv,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def run_scenario_module(module: str, *args: str, timeout: float) -> Any:
    """
    Run C{python -m module args} in a private network and return the
    result it printed.

    @param timeout: Seconds the module may run; see L{run_in_private_network}.
    @raise unittest.SkipTest: Outside CI, when the private network cannot
        be set up (L{require_private_network}).
    @raise unittest.FailTest: When the module printed no result.
    """
    require_private_network()
    process = run_in_private_network(
        [sys.executable, "-m", module, *args], timeout=timeout
    )
    return scenario_result(process)


def scenario_result(process: subprocess.CompletedProcess[str]) -> Any:
    """
    Return the JSON a scenario printed after L{RESULT_PREFIX}.

    @raise unittest.FailTest: With the scenario's output, when it printed
        none.
    """
    for line in reversed(process.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    raise unittest.FailTest(
        f"the scenario printed no result (exit status {process.returncode});"
        f"\nstdout:\n{process.stdout}\nstderr:\n{process.stderr}"
    )


def print_result(value: Any) -> None:
    """
    Print C{value} as the scenario's result line.
    """
    print(RESULT_PREFIX + json.dumps(value), flush=True)
