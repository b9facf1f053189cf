"""
Stateful property tests: random sequences of sessions, checks, restarts,
closed paths, closes and time keep the agent's registries consistent.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from twisted.trial.unittest import SynchronousTestCase

from tests.test_ice_checks import CANDIDATES, LOCAL, build_check, make_offer
from twisted_ice.addresses import Path, Transport
from twisted_ice.ice import CONSENT_TIMEOUT, IceAgent, IceState, Stream

PATHS = [Path(Transport.UDP, LOCAL, ("127.0.0.1", 50000 + n)) for n in range(4)] + [
    Path(Transport.TCP, LOCAL, ("127.0.0.1", 50010 + n)) for n in range(2)
]


class AgentMachine(RuleBasedStateMachine):
    """
    Drive one L{IceAgent} with random operations and check its invariants
    after each.
    """

    def __init__(self) -> None:
        super().__init__()
        self.agent = IceAgent()
        self.now = 0.0
        self.streams: list[Stream] = []
        self.restarts = 0

    @initialize()
    def first_session(self) -> None:
        """
        Start with one session.
        """
        self.create()

    @rule()
    def create(self) -> None:
        """
        Create a session.
        """
        session = self.agent.create_session(
            make_offer(), candidates=CANDIDATES, fingerprint=None, now=self.now
        )
        self.streams.extend(session.streams)

    @precondition(lambda self: self.streams)
    @rule(
        data=st.data(),
        path=st.sampled_from(PATHS),
        use_candidate=st.booleans(),
        valid=st.booleans(),
    )
    def check(
        self, data: st.DataObject, path: Path, use_candidate: bool, valid: bool
    ) -> None:
        """
        Send a valid or wrongly signed check for a random stream.
        """
        stream = data.draw(st.sampled_from(self.streams))
        key = None if valid else b"wrongpasswordwrongpassword"
        message = build_check(stream, key=key, use_candidate=use_candidate)
        before = stream.state
        outcome = self.agent.handle_check(message, path, self.now)
        if not valid or before is IceState.CLOSED:
            assert outcome.stream is None
            assert stream.state is before

    @rule(seconds=st.sampled_from([0.1, 5.0, 29.9, 30.1, 60.0]))
    def advance(self, seconds: float) -> None:
        """
        Advance time and expire consent as the adapter would.
        """
        self.now += seconds
        deadline = self.agent.next_deadline()
        self.agent.expire(self.now)
        if deadline is not None and deadline <= self.now:
            next_deadline = self.agent.next_deadline()
            assert next_deadline is None or next_deadline > self.now

    @precondition(lambda self: self.streams)
    @rule(data=st.data())
    def restart(self, data: st.DataObject) -> None:
        """
        Restart a random live session with new remote credentials.
        """
        stream = data.draw(st.sampled_from(self.streams))
        if stream.session.state is IceState.CLOSED:
            return
        self.restarts += 1
        ufrag = f"R{self.restarts:04d}"
        self.agent.restart_session(
            stream.session.id,
            make_offer(ufrag=ufrag, pwd="restartpassword" + "x" * 10),
            now=self.now,
        )

    @rule(path=st.sampled_from(PATHS))
    def close_path(self, path: Path) -> None:
        """
        Close the connection of a path; a UDP path is never closed.
        """
        stream = self.agent.stream_for_path(path)
        events = self.agent.path_closed(path, self.now)
        if path.transport is Transport.UDP:
            assert events == []
            assert self.agent.stream_for_path(path) is stream
        else:
            assert self.agent.stream_for_path(path) is None
        if stream is not None and path.transport is not Transport.UDP:
            assert stream.selected != path
            assert stream.selected_rtcp != path

    @precondition(lambda self: self.streams)
    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        """
        Close a random session.
        """
        stream = data.draw(st.sampled_from(self.streams))
        self.agent.close_session(stream.session.id)

    @invariant()
    def paths_consistent(self) -> None:
        """
        Every registered path belongs to a live stream that has it as a
        valid path, and every valid path of a live stream is registered.
        """
        for path, stream in self.agent._paths.items():
            assert path in stream.valid_paths
            assert stream.state not in (IceState.CLOSED, IceState.DISCONNECTED)
        for stream in self.streams:
            for path in stream.valid_paths:
                assert self.agent.stream_for_path(path) is stream

    @invariant()
    def ufrags_consistent(self) -> None:
        """
        Every registered ufrag is the current or previous ufrag of a live
        stream, and every live stream's current ufrag is registered.
        """
        for ufrag, stream in self.agent._ufrags.items():
            assert stream.state is not IceState.CLOSED
            previous = stream.previous_credentials
            assert ufrag == stream.local_ufrag or (
                previous is not None and ufrag == previous.local_ufrag
            )
        for stream in self.streams:
            if stream.state is not IceState.CLOSED:
                assert self.agent.is_local_ufrag(stream.local_ufrag)

    @invariant()
    def consent_scheduled(self) -> None:
        """
        A stream with live consent is expired no later than 30 s after its
        last passed check.
        """
        for stream in self.streams:
            if stream.state in (IceState.CONNECTED, IceState.COMPLETED):
                assert stream.last_check is not None
                assert stream.last_check + CONSENT_TIMEOUT > self.now
                assert stream.consent_scheduled is not None

    @invariant()
    def send_path_valid(self) -> None:
        """
        Media is only ever sent on a path that passed a check.
        """
        for stream in self.streams:
            path = stream.send_path
            if path is not None:
                assert self.agent.stream_for_path(path) is stream


class AgentInvariantTests(SynchronousTestCase):
    """
    Random operations keep the agent's registries, consent and send path
    consistent.
    """

    def test_random_operations(self) -> None:
        """
        Run the state machine on random sequences of operations.
        """
        run_state_machine_as_test(
            AgentMachine,
            settings=settings(max_examples=60, stateful_step_count=30, deadline=None),
        )
