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
import time
from pathlib import Path
from typing import Any

from twisted.trial import unittest

from tests.e2e.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LAUNCH_TIMEOUT,
    print_result,
    require_private_network,
    run_in_private_network,
    scenario_result,
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

CREATE_OFFER = """
async ([config, timeout]) => {
  const pc = new RTCPeerConnection(config);
  window.pc = pc;
  pc.createDataChannel("test");
  pc.addTransceiver("audio");
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") { resolve(); return; }
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
    setTimeout(resolve, timeout);
  });
  return pc.localDescription.sdp;
}
"""

SET_ANSWER = """
async ([answer, timeout]) => {
  const pc = window.pc;
  await pc.setRemoteDescription({type: "answer", sdp: answer});
  const connected = () =>
    ["connected", "completed"].includes(pc.iceConnectionState);
  await new Promise((resolve) => {
    if (connected()) { resolve(); return; }
    pc.addEventListener("iceconnectionstatechange", () => {
      if (connected() || pc.iceConnectionState === "failed") resolve();
    });
    setTimeout(resolve, timeout);
  });
  return pc.iceConnectionState;
}
"""

SELECTED_PAIR = """
async () => {
  const stats = await window.pc.getStats();
  let pairId = null;
  stats.forEach((report) => {
    if (report.type === "transport" && report.selectedCandidatePairId) {
      pairId = report.selectedCandidatePairId;
    }
  });
  if (pairId === null) return null;
  const pair = stats.get(pairId);
  const local = stats.get(pair.localCandidateId);
  const remote = stats.get(pair.remoteCandidateId);
  return {
    local: {address: local.address, port: local.port, protocol: local.protocol,
            type: local.candidateType, relayProtocol: local.relayProtocol || null},
    remote: {address: remote.address, port: remote.port,
             protocol: remote.protocol, type: remote.candidateType},
  };
}
"""

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


def wait_for_media(api: SessionApiClient, session_id: str) -> Any:
    """
    Poll the session until its first stream is completed with packets
    received, or L{WAIT_TIMEOUT} passes; return the last state.
    """
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        state = api.get(session_id)
        stream = state["streams"][0]
        done = stream["state"] == "completed" and stream["packets_received"] > 0
        if done or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


def launch(playwright: Any, ignore_certificate_errors: bool = False) -> Any:
    """
    Launch Debian's headless Chromium with the flags of
    L{tests.e2e.browser.CHROMIUM_ARGS}, and C{--ignore-certificate-errors}
    only when asked: the C{turns:} scenario uses a self-signed certificate.
    """
    args = list(CHROMIUM_ARGS)
    if ignore_certificate_errors:
        args.append("--ignore-certificate-errors")
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=args,
        headless=True,
        timeout=LAUNCH_TIMEOUT * 1000,
    )


def run_scenario(name: str) -> dict[str, Any]:
    """
    Start the server with the TCP/TLS port and TURN, run the scenario
    C{name} in Chromium, and return what the test checks. Runs inside the
    private network namespace.

    @param name: C{ice-tcp}, C{turn-tcp}, C{turns} or C{turn-tcp-lite}.
    """
    from playwright.sync_api import sync_playwright

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
    result: dict[str, Any] = {"tcp_port": tcp_port}
    try:
        server.start(ready=(UDP_READY, API_READY, TCP_READY))
        with sync_playwright() as playwright:
            browser = launch(playwright, ignore_certificate_errors=name == "turns")
            try:
                page = browser.new_page()
                page.set_default_timeout(WAIT_TIMEOUT * 2000)
                page.set_content("<!doctype html><title>twisted-ice</title>")
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
                        json.dumps(
                            {"offer": offer, "media": {"mode": "echo"}}
                        ).encode(),
                        "application/json",
                    )
                    created = reply.json()
                    result["answer"] = created["answer"]
                    result["ice_state"] = page.evaluate(
                        SET_ANSWER, [created["answer"], WAIT_TIMEOUT * 1000]
                    )
                    result["session"] = wait_for_media(api, created["id"])
                result["selected"] = page.evaluate(SELECTED_PAIR)
            finally:
                browser.close()
    finally:
        server.stop()
        result["server_errors"] = server.unclean_lines()
        result["server_log"] = server.log_text()[-6000:]
        server.close()
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
        require_private_network()
        process = run_in_private_network(
            [sys.executable, "-m", "tests.e2e.test_tcp_chromium", name],
            timeout=SCENARIO_TIMEOUT,
        )
        result: dict[str, Any] = scenario_result(process)
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
