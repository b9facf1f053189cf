"""
Tests for the stream transition table and the derived session state.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_ice.ice import (
    STREAM_TRANSITIONS,
    IceState,
    InvalidTransitionError,
    StreamInput,
)
from twisted_ice.ice.states import next_stream_state, session_state


class StreamTransitionTests(SynchronousTestCase):
    """
    The stream state machine.
    """

    def test_every_pair_defined_or_raises(self) -> None:
        """
        Every (state, input) pair either has a row in the table or raises
        L{InvalidTransitionError}.
        """
        for state in IceState:
            for stream_input in StreamInput:
                if (state, stream_input) in STREAM_TRANSITIONS:
                    self.assertIn(next_stream_state(state, stream_input), IceState)
                else:
                    self.assertRaises(
                        InvalidTransitionError, next_stream_state, state, stream_input
                    )

    def test_closed_is_final(self) -> None:
        """
        No input leaves the closed state.
        """
        for stream_input in StreamInput:
            self.assertNotIn((IceState.CLOSED, stream_input), STREAM_TRANSITIONS)

    def test_every_live_state_closes(self) -> None:
        """
        Every state but closed can be closed.
        """
        for state in IceState:
            if state is not IceState.CLOSED:
                self.assertEqual(
                    next_stream_state(state, StreamInput.CLOSED), IceState.CLOSED
                )

    def test_new_has_no_consent_expiry(self) -> None:
        """
        A stream that never passed a check has no consent to expire.
        """
        self.assertRaises(
            InvalidTransitionError,
            next_stream_state,
            IceState.NEW,
            StreamInput.CONSENT_EXPIRED,
        )

    def test_error_names_pair(self) -> None:
        """
        The error message names the state and the input.
        """
        error = self.assertRaises(
            InvalidTransitionError,
            next_stream_state,
            IceState.CLOSED,
            StreamInput.NOMINATED,
        )
        self.assertEqual(str(error), "no transition from closed on NOMINATED")

    def test_main_path(self) -> None:
        """
        A check connects, a nomination completes, consent expiry disconnects
        and a check revives.
        """
        self.assertEqual(
            next_stream_state(IceState.NEW, StreamInput.CHECK_PASSED),
            IceState.CONNECTED,
        )
        self.assertEqual(
            next_stream_state(IceState.CONNECTED, StreamInput.NOMINATED),
            IceState.COMPLETED,
        )
        self.assertEqual(
            next_stream_state(IceState.COMPLETED, StreamInput.CONSENT_EXPIRED),
            IceState.DISCONNECTED,
        )
        self.assertEqual(
            next_stream_state(IceState.DISCONNECTED, StreamInput.CHECK_PASSED),
            IceState.CONNECTED,
        )

    def test_completed_stays_on_check(self) -> None:
        """
        A check without nomination leaves a completed stream completed.
        """
        self.assertEqual(
            next_stream_state(IceState.COMPLETED, StreamInput.CHECK_PASSED),
            IceState.COMPLETED,
        )

    def test_restart_checks(self) -> None:
        """
        A restart moves a completed stream to checking, and checks with the
        old credentials keep it there.
        """
        self.assertEqual(
            next_stream_state(IceState.COMPLETED, StreamInput.RESTARTED),
            IceState.CHECKING,
        )
        self.assertEqual(
            next_stream_state(IceState.CHECKING, StreamInput.PREVIOUS_CHECK_PASSED),
            IceState.CHECKING,
        )

    def test_selected_path_closed_connects(self) -> None:
        """
        A completed stream that loses its selected path goes connected.
        """
        self.assertEqual(
            next_stream_state(IceState.COMPLETED, StreamInput.SELECTED_PATH_CLOSED),
            IceState.CONNECTED,
        )

    def test_last_path_closed_disconnects(self) -> None:
        """
        Every state with valid paths goes disconnected when the last one
        closes.
        """
        for state in (IceState.CHECKING, IceState.CONNECTED, IceState.COMPLETED):
            self.assertEqual(
                next_stream_state(state, StreamInput.LAST_PATH_CLOSED),
                IceState.DISCONNECTED,
                state,
            )


class SessionStateTests(SynchronousTestCase):
    """
    The session state derived from its streams.
    """

    def test_cases(self) -> None:
        """
        Each combination of stream states gives the documented session state.
        """
        new, checking = IceState.NEW, IceState.CHECKING
        connected, completed = IceState.CONNECTED, IceState.COMPLETED
        disconnected = IceState.DISCONNECTED
        cases = [
            ((), new),
            ((new, new), new),
            ((new, connected), checking),
            ((checking, completed), checking),
            ((connected, completed), connected),
            ((completed, completed), completed),
            ((completed, disconnected), disconnected),
        ]
        for streams, expected in cases:
            self.assertEqual(session_state(streams), expected, streams)
