"""
End-to-end test of the lite ICE agent with headless Chromium: a page offers
a data channel and an audio transceiver, the offer is posted to the session
API of the real C{twistd mcs-ice} server, the page sets the answer and ICE
connects.

The scenario runs in a private network namespace (see L{tests.e2e.browser})
because Chromium does not gather loopback candidates. Run as
C{python -m tests.e2e.test_ice_chromium} inside that namespace, this module
prints the scenario's result; the trial test starts it and checks the
result.
"""

from __future__ import annotations

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
from tests.e2e.support import UDP_READY, ServerProcess

WAIT_TIMEOUT = 20.0
"""Seconds for each wait: gathering, connection, media counted."""

SCENARIO_TIMEOUT = 90.0
"""Seconds the whole scenario may take, server and browser start included."""

RESTART_OFFER = """
async (timeout) => {
  const pc = window.pc;
  pc.restartIce();
  await pc.setLocalDescription(await pc.createOffer());
  await waitForGathering(pc, timeout);
  return pc.localDescription.sdp;
}
"""


def ufrag_of(sdp: str) -> str:
    """
    Return the first ice-ufrag of C{sdp}.
    """
    for line in sdp.splitlines():
        if line.startswith("a=ice-ufrag:"):
            return line.split(":", 1)[1]
    return ""


def run_scenario() -> dict[str, Any]:
    """
    Start the server and Chromium, connect them through the API, and return
    what the test checks. Runs inside the private network namespace.
    """
    api = SessionApiClient()
    server = ServerProcess(extra_args=api.server_args)

    def scenario(page: Any, result: dict[str, Any]) -> None:
        offer = page.evaluate(CREATE_OFFER, [{"iceServers": []}, WAIT_TIMEOUT * 1000])
        created = api.create(offer, {"mode": "echo"})
        result["ice_state"] = page.evaluate(
            SET_ANSWER, [created["answer"], WAIT_TIMEOUT * 1000]
        )
        result["session"] = wait_for_media(api, created["id"], WAIT_TIMEOUT)
        result["selected"] = page.evaluate(SELECTED_PAIR)
        result["offer_has_candidates"] = "a=candidate:" in offer

        # ICE restart: a new offer on the session's location.
        new_offer = page.evaluate(RESTART_OFFER, WAIT_TIMEOUT * 1000)
        restart = api.request(
            "PATCH",
            created["location"],
            new_offer.encode(),
            "application/sdp",
        )
        result["restart_status"] = restart.status
        new_answer = restart.body.decode()
        result["restart_new_ufrag"] = ufrag_of(new_answer) != ufrag_of(
            created["answer"]
        )
        result["restart_ice_state"] = page.evaluate(
            SET_ANSWER, [new_answer, WAIT_TIMEOUT * 1000]
        )
        result["restart_session"] = wait_for_media(api, created["id"], WAIT_TIMEOUT)

    return run_with_browser(
        server, scenario, ready=(UDP_READY, API_READY), page_timeout=WAIT_TIMEOUT
    )


class ChromiumTests(unittest.TestCase):
    """
    Headless Chromium against the real server. The scenario runs once for
    the whole class, because each run starts a server and a browser.
    """

    result: Any = None

    def run_browser(self) -> Any:
        """
        Run the scenario in a private network, once, and return its result.
        """
        if ChromiumTests.result is None:
            ChromiumTests.result = run_scenario_module(
                "tests.e2e.test_ice_chromium", timeout=SCENARIO_TIMEOUT
            )
        return ChromiumTests.result

    def test_browser_connects(self) -> None:
        """
        Chromium reaches C{connected}, and the session shows the stream
        completed on the browser's 5-tuple with the browser's DTLS packets
        counted.
        """
        result = self.run_browser()
        log = result["server_log"]
        self.assertTrue(result["offer_has_candidates"], log)
        self.assertIn(result["ice_state"], ("connected", "completed"), log)

        session = result["session"]
        stream = session["streams"][0]
        self.assertEqual(session["state"], "completed", session)
        self.assertEqual(stream["state"], "completed", session)
        local = result["selected"]["local"]
        self.assertEqual(
            stream["selected"],
            {"transport": "udp", "address": local["address"], "port": local["port"]},
        )
        self.assertGreater(stream["packets_received"], 0, session)
        self.assertEqual(result["server_errors"], [], log)

    def test_ice_restart(self) -> None:
        """
        After C{restartIce()}, the new offer sent with C{PATCH} to the
        session's location gets an answer with new credentials, and Chromium
        connects again with them.
        """
        result = self.run_browser()
        log = result["server_log"]
        self.assertEqual(result["restart_status"], 200, log)
        self.assertTrue(result["restart_new_ufrag"], log)
        self.assertIn(result["restart_ice_state"], ("connected", "completed"), log)
        session = result["restart_session"]
        self.assertEqual(session["streams"][0]["state"], "completed", session)


if __name__ == "__main__":
    print_result(run_scenario())
