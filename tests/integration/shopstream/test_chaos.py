"""`make chaos`, shorter: under `shopstream run`, every consumer kind and the API SIGKILLed and the
broker killed and held down while the simulator streams; nobody but the supervisor restarts
anything, and the state equals an uninterrupted run of the same seed."""

from __future__ import annotations

import pytest

from infra.config import CONSUMER_GROUPS
from shopstream.chaos import ChaosPlan, report, run_chaos

pytestmark = pytest.mark.broker


@pytest.mark.timeout(1200)
def test_a_short_chaos_run_ends_in_the_state_of_an_uninterrupted_run(tmp_path):
    plan = ChaosPlan(events=3000, rate=40, products=300, users=150, consumer_kills=1, api_kills=1,
                     broker_outage_s=8, timeout_s=600)
    result = run_chaos(plan, tmp_path / "chaos")
    assert result.ok, report(result)

    # Everything was brought back by the supervisor, and counted.
    assert result.restarts["broker"] >= 1 and result.restarts["api"] == 1
    assert all(result.restarts[f"consumer:{g}"] == 1 for g in CONSUMER_GROUPS), result.restarts
    assert result.restarts["simulator"] == 0
    broker_kill = next(a for a in result.actions if a.what == "SIGKILL broker")
    assert "simulator still streaming" in broker_kill.detail, report(result)  # the producer rode through it too
    # Real work to compare: every figure, and a stream of the requested size.
    assert result.interrupted["store"]["events_applied"] == 3000
    assert result.interrupted["learner"]["events_trained"] > 0 and result.interrupted["catalog"]["vectors"] > 0
