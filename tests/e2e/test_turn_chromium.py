"""
End-to-end tests of the TURN server with headless Chromium.

  - Two peer connections in one page, both C{iceTransportPolicy: 'relay'}
    through C{turn:127.0.0.1:PORT}, connect to each other through their relay
    ports on the real C{twistd mcs-ice} server and exchange data-channel
    messages over DTLS and SCTP.
  - The hairpin: one relay-only peer connection reaches the server's own lite
    ICE session through its relay on the same server.

The scenarios run in a private network namespace (see L{tests.e2e.browser}),
because Chromium does not gather on loopback. Run as C{python -m
tests.e2e.test_turn_chromium SCENARIO} inside that namespace, this module
prints the scenario's result; the trial tests start it and check the result.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from twisted.trial import unittest

from tests.e2e.browser import print_result, run_scenario_module
from tests.e2e.pages import SELECTED_PAIR, SET_ANSWER, run_with_browser
from tests.e2e.session_api import API_READY, SessionApiClient
from tests.e2e.support import UDP_READY, ServerProcess

USER = "chromium"
PASSWORD = "relay-only-password"
MESSAGES = 1000

HAIRPIN_RELAY_PORTS = range(40000, 45000)
"""
The relay ports of the hairpin scenario, so the test can tell that the
session's selected path is a relay port of this server.
"""

WAIT_TIMEOUT = 30.0
"""Seconds for each wait in the page: connection, delivery."""

PAGE_TIMEOUT = 3 * WAIT_TIMEOUT
"""Seconds for each Playwright call on the page."""

SCENARIO_TIMEOUT = 120.0
"""Seconds a whole scenario may take, server and browser start included."""

RELAY_PAIR = """
async ([url, username, credential, count, timeout]) => {
  const config = {
    iceServers: [{urls: url, username: username, credential: credential}],
    iceTransportPolicy: "relay",
  };
  const a = new RTCPeerConnection(config);
  const b = new RTCPeerConnection(config);
  a.addEventListener("icecandidate", (event) => {
    if (event.candidate) b.addIceCandidate(event.candidate);
  });
  b.addEventListener("icecandidate", (event) => {
    if (event.candidate) a.addIceCandidate(event.candidate);
  });
  const received = [];
  const delivered = new Promise((resolve) => {
    b.addEventListener("datachannel", (event) => {
      event.channel.addEventListener("message", (message) => {
        received.push(message.data);
        if (received.length === count) resolve();
      });
    });
    setTimeout(resolve, 2 * timeout);
  });
  const channel = a.createDataChannel("relay", {ordered: true});
  const opened = new Promise((resolve) => {
    channel.addEventListener("open", resolve);
    setTimeout(resolve, timeout);
  });

  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);
  await opened;
  const result = {opened: channel.readyState === "open"};
  if (result.opened) {
    for (let i = 0; i < count; i++) channel.send("message " + i);
    await delivered;
  }
  result.received = received.length;
  result.in_order = received.every((data, i) => data === "message " + i);
  result.ice_state = a.iceConnectionState;

  const stats = await a.getStats();
  const types = [];
  stats.forEach((report) => {
    if (report.type === "transport" && report.selectedCandidatePairId) {
      const pair = stats.get(report.selectedCandidatePairId);
      types.push(stats.get(pair.localCandidateId).candidateType);
      types.push(stats.get(pair.remoteCandidateId).candidateType);
    }
  });
  result.selected_types = types;
  a.close();
  b.close();
  return result;
}
"""

HAIRPIN_OFFER = """
async ([url, username, credential, timeout]) => {
  const pc = new RTCPeerConnection({
    iceServers: [{urls: url, username: username, credential: credential}],
    iceTransportPolicy: "relay",
  });
  window.pc = pc;
  pc.createDataChannel("hairpin");
  await pc.setLocalDescription(await pc.createOffer());
  await waitForGathering(pc, timeout);
  return pc.localDescription.sdp;
}
"""


def turn_server_args() -> list[str]:
    """
    The TURN options of the scenarios: one static user, relay ports on
    loopback, and loopback peers allowed, since both browser connections
    relay to relay addresses on 127.0.0.1.
    """
    return [
        "--user",
        f"{USER}:{PASSWORD}",
        "--relay-ip",
        "127.0.0.1",
        "--allow-peer",
        "127.0.0.1/32",
    ]


def hairpin_server_args() -> list[str]:
    """
    The TURN options of the hairpin scenario: no peer allowed beyond the
    default policy, so the relay reaches the lite agent only because it is
    this server's own ICE address.
    """
    return [
        "--user",
        f"{USER}:{PASSWORD}",
        "--relay-ip",
        "127.0.0.1",
        "--relay-ports",
        f"{HAIRPIN_RELAY_PORTS.start}-{HAIRPIN_RELAY_PORTS.stop - 1}",
    ]


def run_relay_pair() -> dict[str, Any]:
    """
    Connect two relay-only peer connections through the server and send
    L{MESSAGES} messages. Runs inside the private network namespace.
    """
    api = SessionApiClient()
    server = ServerProcess(extra_args=[*api.server_args, *turn_server_args()])
    url = f"turn:127.0.0.1:{server.udp_port}"

    def scenario(page: Any, result: dict[str, Any]) -> None:
        result.update(
            page.evaluate(
                RELAY_PAIR, [url, USER, PASSWORD, MESSAGES, WAIT_TIMEOUT * 1000]
            )
        )

    return run_with_browser(server, scenario, (UDP_READY,), PAGE_TIMEOUT)


def run_hairpin() -> dict[str, Any]:
    """
    Connect a relay-only peer connection to a lite ICE session of the same
    server. Runs inside the private network namespace.
    """
    api = SessionApiClient()
    server = ServerProcess(extra_args=[*api.server_args, *hairpin_server_args()])
    url = f"turn:127.0.0.1:{server.udp_port}"

    def scenario(page: Any, result: dict[str, Any]) -> None:
        offer = page.evaluate(HAIRPIN_OFFER, [url, USER, PASSWORD, WAIT_TIMEOUT * 1000])
        result["offer_has_relay"] = "typ relay" in offer
        created = api.create(offer, {"mode": "echo"})
        result["ice_state"] = page.evaluate(
            SET_ANSWER, [created["answer"], WAIT_TIMEOUT * 1000]
        )
        selected = page.evaluate(SELECTED_PAIR)
        result["local_type"] = None if selected is None else selected["local"]["type"]
        deadline = time.monotonic() + WAIT_TIMEOUT
        while True:
            state = api.get(created["id"])
            if state["state"] == "completed" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        result["session"] = state

    return run_with_browser(server, scenario, (UDP_READY, API_READY), PAGE_TIMEOUT)


class ChromiumRelayTests(unittest.TestCase):
    """
    Headless Chromium through the real server's TURN relay.
    """

    def run_scenario(self, name: str) -> Any:
        """
        Run scenario C{name} of this module in the private network.
        """
        return run_scenario_module(
            "tests.e2e.test_turn_chromium", name, timeout=SCENARIO_TIMEOUT
        )

    def test_relay_pair_messages(self) -> None:
        """
        Two relay-only peer connections connect through their relay ports
        and deliver 1,000 data-channel messages, all in order.
        """
        result = self.run_scenario("relay-pair")
        log = result["server_log"]
        self.assertTrue(result["opened"], log)
        self.assertEqual(result["received"], MESSAGES, log)
        self.assertTrue(result["in_order"], log)
        self.assertEqual(result["selected_types"], ["relay", "relay"], log)
        self.assertEqual(result["server_errors"], [], log)

    def test_hairpin_to_lite_ice(self) -> None:
        """
        A relay-only peer connection reaches C{connected} with a lite ICE
        session of the same server, through its relay on that server.
        """
        result = self.run_scenario("hairpin")
        log = result["server_log"]
        self.assertTrue(result["offer_has_relay"], log)
        self.assertIn(result["ice_state"], ("connected", "completed"), log)
        self.assertEqual(result["local_type"], "relay", log)
        session = result["session"]
        self.assertEqual(session["state"], "completed", session)
        selected = session["streams"][0]["selected"]
        self.assertEqual(selected["address"], "127.0.0.1", session)
        self.assertIn(selected["port"], HAIRPIN_RELAY_PORTS, session)
        self.assertEqual(result["server_errors"], [], log)


SCENARIOS = {"relay-pair": run_relay_pair, "hairpin": run_hairpin}

if __name__ == "__main__":
    print_result(SCENARIOS[sys.argv[1]]())
