"""
Page scripts and the server-and-browser run shared by the Chromium
scenarios in L{tests.e2e.test_ice_chromium}, L{tests.e2e.test_tcp_chromium}
and L{tests.e2e.test_turn_chromium}.

L{run_with_browser} opens a page that defines the JavaScript functions of
L{PAGE_FUNCTIONS}, so the scripts passed to C{page.evaluate} can call
C{waitForGathering} and C{waitForConnection}. Each script's timeout
argument is in milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from tests.e2e.browser import launch_chromium
from tests.e2e.session_api import SessionApiClient
from tests.e2e.support import ServerProcess

PAGE_FUNCTIONS = """
async function waitForGathering(pc, timeout) {
  await new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") { resolve(); return; }
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
    setTimeout(resolve, timeout);
  });
}

async function waitForConnection(pc, timeout) {
  const connected = () =>
    ["connected", "completed"].includes(pc.iceConnectionState);
  await new Promise((resolve) => {
    if (connected()) { resolve(); return; }
    pc.addEventListener("iceconnectionstatechange", () => {
      if (connected() || pc.iceConnectionState === "failed") resolve();
    });
    setTimeout(resolve, timeout);
  });
}
"""
"""
JavaScript functions that every page of L{run_with_browser} defines: wait
until ICE gathering completes, and wait until ICE connects or fails, each
for at most C{timeout} milliseconds.
"""

CREATE_OFFER = """
async ([config, timeout]) => {
  const pc = new RTCPeerConnection(config);
  window.pc = pc;
  pc.createDataChannel("test");
  pc.addTransceiver("audio");
  await pc.setLocalDescription(await pc.createOffer());
  await waitForGathering(pc, timeout);
  return pc.localDescription.sdp;
}
"""
"""
Create C{window.pc} with the C{RTCConfiguration} C{config}, a data channel
and an audio transceiver, and return its offer once gathering completes.
"""

SET_ANSWER = """
async ([answer, timeout]) => {
  const pc = window.pc;
  await pc.setRemoteDescription({type: "answer", sdp: answer});
  await waitForConnection(pc, timeout);
  return pc.iceConnectionState;
}
"""
"""
Set the answer on C{window.pc} and return its ICE connection state once it
connects, fails or the timeout passes.
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
"""
Return the local and remote candidates of C{window.pc}'s selected pair, or
C{null} before a pair is selected.
"""

Scenario = Callable[[Any, dict[str, Any]], None]
"""A function of a Playwright C{Page} and the result dict it fills in."""


def run_with_browser(
    server: ServerProcess,
    scenario: Scenario,
    ready: tuple[Any, ...],
    page_timeout: float,
    log_chars: int = 4000,
    launch_args: Sequence[str] = (),
) -> dict[str, Any]:
    """
    Start C{server} and Chromium, run C{scenario(page, result)} on a page
    with L{PAGE_FUNCTIONS}, then stop the server.

    @param ready: The log patterns C{server.start} waits for.
    @param page_timeout: Seconds for each Playwright call on the page.
    @param log_chars: How many characters of the server's log, from its
        end, go into the result.
    @param launch_args: Chromium flags beyond
        L{tests.e2e.browser.CHROMIUM_ARGS}.
    @return: The result, with C{server_errors} (the server's unclean log
        lines) and C{server_log} added.
    """
    from playwright.sync_api import sync_playwright

    result: dict[str, Any] = {}
    try:
        server.start(ready=ready)
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright, extra_args=launch_args)
            try:
                page = browser.new_page()
                page.set_default_timeout(page_timeout * 1000)
                page.set_content("<!doctype html><title>twisted-ice</title>")
                page.add_script_tag(content=PAGE_FUNCTIONS)
                scenario(page, result)
            finally:
                browser.close()
    finally:
        server.stop()
        result["server_errors"] = server.unclean_lines()
        result["server_log"] = server.log_text()[-log_chars:]
        server.close()
    return result


def wait_for_media(api: SessionApiClient, session_id: str, timeout: float) -> Any:
    """
    Poll the session until its first stream is completed with packets
    received, or C{timeout} seconds pass; return the last state.
    """
    deadline = time.monotonic() + timeout
    while True:
        state = api.get(session_id)
        stream = state["streams"][0]
        done = stream["state"] == "completed" and stream["packets_received"] > 0
        if done or time.monotonic() > deadline:
            return state
        time.sleep(0.2)
