"""`shopstream import interactions` through the real broker: a headerless, tab-separated log named
with `--columns`, and the replay order as the learner sees it: its log holds the file's events in
time order, ties in file order, also when clicks and orders (two topics) alternate."""

from __future__ import annotations

import itertools
import json
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from consumers.groups import build_loop
from tests.integration.helpers import start_consumer, wait_for

pytestmark = pytest.mark.broker

T0 = 1_700_000_000  # 2023-11-14


def shopstream_import(settings, *args: str) -> tuple[dict, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "shopstream", "import", "interactions", *args, "--no-progress", "--json"],
        env=settings.child_env(), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def learner_log(settings) -> list[tuple[str, str, str, float]]:
    if not settings.sqlite_path("learner").exists():
        return []
    db = sqlite3.connect(settings.sqlite_path("learner"), timeout=30)
    try:
        return db.execute("SELECT kind, user_id, item_id, ts FROM log ORDER BY seq").fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        db.close()


def in_time_order(rows: list[tuple[int, str, str, str, int]]) -> list[tuple[str, str, str, float]]:
    """(kind, user, item, time) of (line, user, item, kind, time) rows, by time, ties in file order."""
    return [(kind, user, item, float(t)) for _line, user, item, kind, t in sorted(rows, key=lambda r: (r[4], r[0]))]


def test_headerless_tab_separated_ratings_replayed_in_time_order(settings, tmp_path: Path):
    rng = random.Random(11)
    rows, lines = [], []
    for line in range(1, 401):
        user, item, t = f"{rng.randrange(1, 40)}", f"{rng.randrange(1, 120)}", T0 + rng.randrange(0, 300)
        rows.append((line, user, item, "click", t))
        lines.append(f"{user}\t{item}\t{rng.choice(['1', '2.5', '4', '5'])}\t{t}\n")
    lines.append("7\t8\tgood\t1700000001\n")  # line 401: a rating that is not a number
    log = tmp_path / "u.data"
    log.write_text("".join(lines))
    assert [r[4] for r in rows] != sorted(r[4] for r in rows), "the file should not be in time order already"

    summary, stderr = shopstream_import(settings, str(log), "--columns", "user,item,rating,time",
                                        "--rating-col", "rating")
    assert (summary["sent"], summary["rejected"], summary["rows"], summary["order"]) == (400, 1, 401, "global")
    assert summary["order_waits"] == 0  # all clicks: nothing to wait for
    assert "u.data: delimiter tab, columns named by --columns" in stderr
    assert "rejected line 401: rating 'good' is not a number" in stderr

    store = build_loop("store", settings).run(until_log_end=True)
    assert (store.applied, store.dead_lettered) == (400, 0)
    db = sqlite3.connect(settings.sqlite_path("store"))
    stored = sorted(db.execute("SELECT user_id, product_id, event_time FROM clicks").fetchall())
    assert stored == sorted((u, i, float(t)) for _, u, i, _, t in rows)

    learner = build_loop("learner", settings).run(until_log_end=True)
    assert learner.dead_lettered == 0
    assert learner_log(settings) == in_time_order(rows)


def test_clicks_and_orders_are_learned_in_the_order_they_happened(settings, tmp_path: Path):
    rng = random.Random(5)
    # Orders cluster in a few windows of time, so the log switches between the two topics a few times,
    # with ties at the edges (a click and an order at the same second, in either file order).
    windows = [(40, 44), (90, 92), (150, 150), (200, 210)]
    rows, lines = [], []
    for line in range(1, 301):
        t = T0 + rng.randrange(0, 240)
        ordered = any(a <= t - T0 <= b for a, b in windows) and rng.random() < 0.7
        user, item = f"u{rng.randrange(1, 25)}", f"i{rng.randrange(1, 60)}"
        rows.append((line, user, item, "order" if ordered else "click", t))
        lines.append(f"{user}\t{item}\t{'purchase' if ordered else 'view'}\t{t}\n")
    (tmp_path / "events.tsv").write_text("".join(lines))
    expected = in_time_order(rows)
    switches = sum(1 for a, b in itertools.pairwise(expected) if a[0] != b[0])
    assert switches >= 6

    learner = start_consumer(settings, "learner")  # the import waits for it at each switch
    try:
        summary, _ = shopstream_import(settings, str(tmp_path / "events.tsv"), "--columns", "user,item,event,time",
                                       "--type-col", "event")
        assert (summary["sent"], summary["by_type"]) == (300, {
            "click": sum(r[3] == "click" for r in rows), "order": sum(r[3] == "order" for r in rows)})
        assert summary["order_waits"] == switches
        wait_for(lambda: len(learner_log(settings)) >= 300, timeout_s=120, what="the learner's log")
    finally:
        learner.send_signal(signal.SIGTERM)
        learner.wait(timeout=60)
    assert learner_log(settings) == expected
