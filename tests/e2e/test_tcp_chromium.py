"""
End-to-end tests of the TCP/TLS port with headless Chromium: ICE-TCP to the
lite agent, and relay-only connections through TURN over TCP and TLS.

Each scenario runs in a private network namespace (see L{tests.e2e.browser})
because Chromium does not gather loopback candidates. Run as C{python -m
tests.e2e.test_tcp_chromium SCENARIO} inside that namespace, this module
prints the scenario's result; the trial tests start it and check the result.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from twisted.trial import unittest

from tests.e2e.browser import print_result, run_scenario_module
from tests.e2e.pages import (
    CREATE_OFFER,
    SELECTED_PAIR,
    SET_ANSWER,
    run_with_browser,
    wait_for_media,
)
from tests.e2e.session_api import API_READY, SessionApiClient
from tests.e2e.support import LOOPBACK, UDP_READY, ServerProcess, free_tcp_port
from tests.e2e.test_tcp_listener import TCP_READY
from tests.test_tcp_tls import write_self_signed

WAIT_TIMEOUT = 20.0
"""Seconds for each wait in the page: gathering, connection, messages."""

SCENARIO_TIMEOUT = 120.0
"""Seconds a whole scenario may take, server and browser start included."""

USER = "alice"
PASSWORD = "wonderland"

MESSAGES = 1000
"""Data channel messages the relay-only pair exchanges."""

RELAY_PAIR = """
async ([config, count, timeout]) => {
  const a = new RTCPeerConnection(config);
  const b = new RTCPeerConnection(config);
  const candidates = {a: [], b: []};
  a.onicecandidate = (e) => {
    if (e.candidate) { candidates.a.push(e.candidate.candidate);
                       b.addIceCandidate(e.candidate); }
  };
  b.onicecandidate = (e) => {
    if (e.candidate) { candidates.b.push(e.candidate.candidate);
                       a.addIceCandidate(e.candidate); }
  };
  const channel = a.createDataChannel("relay", {ordered: true});
  const received = [];
  const done = new Promise((resolve) => {
    b.ondatachannel = (event) => {
      event.channel.onmessage = (m) => {
        received.push(Number(m.data));
        if (received.length === count) resolve();
      };
    };
    setTimeout(resolve, timeout);
  });
  const open = new Promise((resolve) => {
    channel.onopen = resolve;
    setTimeout(resolve, timeout);
  });
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);
  await open;
  const state = a.iceConnectionState;
  if (channel.readyState === "open") {
    for (let i = 0; i < count; i++) channel.send(String(i));
  }
  await done;
  let inOrder = received.length === count;
  for (let i = 0; i < received.length; i++) {
    if (received[i] !== i) { inOrder = false; break; }
  }
  window.pc = a;
  return {state, channel: channel.readyState, received: received.length,
          inOrder, candidates};
}
"""


def run_scenario(name: str) -> dict[str, Any]:
    """
    Start the server with the TCP/TLS port and TURN, run the scenario
    C{name} in Chromium, and return what the test checks. Runs inside the
    private network namespace.

    @param name: C{ice-tcp}, C{turn-tcp}, C{turns} or C{turn-tcp-lite}.
    """
    api = SessionApiClient()
    tcp_port = free_tcp_port()
    directory = Path(tempfile.mkdtemp(prefix="mcs-ice-tls-"))
    certificate, key = write_self_signed(directory)
    server = ServerProcess(
        extra_args=[
            *api.server_args,
            "--tcp-port",
            str(tcp_port),
            "--tls-cert",
            str(certificate),
            "--tls-key",
            str(key),
            "--user",
            f"{USER}:{PASSWORD}",
            "--allow-peer",
            f"{LOOPBACK}/32",
        ]
    )
    turn_url = {
        "turn-tcp": f"turn:{LOOPBACK}:{tcp_port}?transport=tcp",
        "turn-tcp-lite": f"turn:{LOOPBACK}:{tcp_port}?transport=tcp",
        "turns": f"turns:localhost:{tcp_port}?transport=tcp",
    }.get(name)
    relay_config: dict[str, Any] = {
        "iceServers": [{"urls": turn_url, "username": USER, "credential": PASSWORD}],
        "iceTransportPolicy": "relay",
    }

    def scenario(page: Any, result: dict[str, Any]) -> None:
        if name in ("turn-tcp", "turns"):
            result["pair"] = page.evaluate(
                RELAY_PAIR, [relay_config, MESSAGES, WAIT_TIMEOUT * 1000]
            )
        else:
            config = relay_config if name == "turn-tcp-lite" else {}
            offer = page.evaluate(CREATE_OFFER, [config, WAIT_TIMEOUT * 1000])
            query = "?transport=tcp" if name == "ice-tcp" else ""
            reply = api.request(
                "POST",
                f"/sessions{query}",
                json.dumps({"offer": offer, "media": {"mode": "echo"}}).encode(),
                "application/json",
            )
            created = reply.json()
            result["answer"] = created["answer"]
            result["ice_state"] = page.evaluate(
                SET_ANSWER, [created["answer"], WAIT_TIMEOUT * 1000]
            )
            result["session"] = wait_for_media(api, created["id"], WAIT_TIMEOUT)
        result["selected"] = page.evaluate(SELECTED_PAIR)

    # The turns: scenario uses a self-signed certificate.
    launch_args = ["--ignore-certificate-errors"] if name == "turns" else []
    result = run_with_browser(
        server,
        scenario,
        ready=(UDP_READY, API_READY, TCP_READY),
        page_timeout=2 * WAIT_TIMEOUT,
        log_chars=6000,
        launch_args=launch_args,
    )
    result["tcp_port"] = tcp_port
    return result


class ChromiumTcpTests(unittest.TestCase):
    """
    Headless Chromium against the real server's TCP/TLS port.
    """

    def run_in_namespace(self, name: str) -> dict[str, Any]:
        """
        Run the scenario C{name} in a private network namespace and return
        its result.
        """
        result: dict[str, Any] = run_scenario_module(
            "tests.e2e.test_tcp_chromium", name, timeout=SCENARIO_TIMEOUT
        )
        return result

    def test_ice_tcp_connects(self) -> None:
        """
        With an answer from C{?transport=tcp}, Chromium connects over
        ICE-TCP: the answer has only passive TCP candidates, the selected
        pair is TCP on both sides, and the session counts media.
        """
        result = self.run_in_namespace("ice-tcp")
        log = result["server_log"]
        candidates = [
            line for line in result["answer"].splitlines() if "a=candidate:" in line
        ]
        self.assertNotEqual(candidates, [], result["answer"])
        for line in candidates:
            self.assertIn(" tcp ", line.lower())
            self.assertIn("tcptype passive", line)
            self.assertIn(f" {result['tcp_port']} ", line)
        self.assertIn(result["ice_state"], ("connected", "completed"), log)

        session = result["session"]
        stream = session["streams"][0]
        self.assertEqual(stream["state"], "completed", session)
        self.assertEqual(stream["selected"]["transport"], "tcp", session)
        self.assertGreater(stream["packets_received"], 0, session)
        self.assertEqual(result["selected"]["local"]["protocol"], "tcp")
        self.assertEqual(result["selected"]["remote"]["port"], result["tcp_port"])
        self.assertEqual(result["server_errors"], [], log)

    def test_relay_over_turn_tcp(self) -> None:
        """
        A relay-only pair through C{turn:...?transport=tcp} exchanges 1,000
        data channel messages in order.
        """
        result = self.run_in_namespace("turn-tcp")
        self.assert_relay_pair(result, "tcp")

    def test_relay_over_turns(self) -> None:
        """
        A relay-only pair through C{turns:localhost:PORT} (TLS, with a
        self-signed certificate that Chromium accepts only with
        C{--ignore-certificate-errors}) exchanges 1,000 messages in order.
        """
        result = self.run_in_namespace("turns")
        self.assert_relay_pair(result, "tls")

    def assert_relay_pair(self, result: dict[str, Any], relay_protocol: str) -> None:
        """
        The relay-only pair connected through relay candidates reached over
        C{relay_protocol} and got every message in order.
        """
        log = result["server_log"]
        pair = result["pair"]
        self.assertIn(pair["state"], ("connected", "completed"), log)
        self.assertEqual(pair["channel"], "open", log)
        self.assertEqual(pair["received"], MESSAGES, log)
        self.assertTrue(pair["inOrder"], log)
        selected = result["selected"]
        self.assertEqual(selected["local"]["type"], "relay", selected)
        self.assertEqual(selected["local"]["relayProtocol"], relay_protocol, selected)
        self.assertEqual(result["server_errors"], [], log)

    def test_relay_to_lite_agent(self) -> None:
        """
        Chromium restricted to relay candidates through TURN over TCP
        reaches C{connected} with this server's own lite ICE agent.
        """
        result = self.run_in_namespace("turn-tcp-lite")
        log = result["server_log"]
        self.assertIn(result["ice_state"], ("connected", "completed"), log)
        self.assertEqual(result["selected"]["local"]["type"], "relay")
        self.assertEqual(result["selected"]["local"]["relayProtocol"], "tcp")
        self.assertGreater(result["session"]["streams"][0]["packets_received"], 0)
        self.assertEqual(result["server_errors"], [], log)


if __name__ == "__main__":
    print_result(run_scenario(sys.argv[1]))
