"""Comparing two runs' figures: every differing figure is named, and shown side by side."""

from __future__ import annotations

from shopstream.statecheck import _digest, differences, side_by_side


def test_digest_ignores_row_order_but_not_content():
    assert _digest([(1, "a"), (2, "b")]) == _digest([(2, "b"), (1, "a")])
    assert _digest([(1, "a")]) != _digest([(1, "b")])
    assert _digest([(1, "a")]) != _digest([(1, "a"), (1, "a")])  # a duplicate row counts


def test_differences_name_each_figure():
    a = {"store": {"clicks": 10, "orders": 2}, "learner": {"events_trained": 5}}
    b = {"store": {"clicks": 10, "orders": 3}, "learner": {}}
    assert differences(a, a) == []
    assert differences(a, b) == ["learner.events_trained: 5 != None", "store.orders: 2 != 3"]
    table = side_by_side(a, b, ("left", "right"))
    assert "store.orders" in table and "<-- differs" in table
    assert next(line for line in table.splitlines() if "store.clicks" in line).rstrip().endswith("10")
