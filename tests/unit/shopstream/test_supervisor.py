"""The supervisor's restart policy, without processes: backoff, reset, how an exit is described."""

from __future__ import annotations

import signal

from shopstream.supervisor import Backoff, describe_exit


def test_restart_delays_double_up_to_the_cap():
    backoff = Backoff(initial_s=1.0, max_s=10.0, reset_after_s=60.0)
    assert [backoff.next_delay() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_a_child_that_ran_long_enough_restarts_quickly_again():
    backoff = Backoff(initial_s=1.0, max_s=60.0, reset_after_s=30.0)
    for _ in range(4):
        backoff.next_delay()
    backoff.ran_for(29.0)  # a crash loop keeps slowing down
    assert backoff.next_delay() == 16.0
    backoff.ran_for(30.0)  # a rare crash after a good run: back to the first delay
    assert backoff.next_delay() == 1.0


def test_exits_are_described_by_code_or_signal():
    assert describe_exit(1) == "code 1"
    assert describe_exit(0) == "code 0"
    assert describe_exit(-signal.SIGKILL) == "signal SIGKILL"
    assert describe_exit(None) == "no exit code"
