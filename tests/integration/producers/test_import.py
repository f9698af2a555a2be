"""`shopstream import` end to end: the real command, as a subprocess, into the real broker, and the
store group's SQLite state after consuming what it sent (MovieLens files from ../shared/data)."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from consumers.groups import build_loop
from infra.config import Settings

pytestmark = pytest.mark.broker

# CI and every checkout have the shared data folder beside the repository.
_BESIDE = Path(__file__).resolve().parents[4] / "shared" / "data" / "ml-latest-small"
DATA = Path(os.environ.get("SHOPSTREAM_MOVIELENS_DIR", _BESIDE))
needs_movielens = pytest.mark.skipif(not (DATA / "movies.csv").exists(), reason=f"MovieLens not found in {DATA}")


def shopstream_import(settings: Settings, *args: str) -> tuple[dict, subprocess.CompletedProcess[str]]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap,
        "SHOPSTREAM_TOPIC_PREFIX": settings.topic_prefix,
        "SHOPSTREAM_DATA_DIR": str(settings.data_dir),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "shopstream", "import", *args, "--no-progress", "--json"],
        env=env, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc


@needs_movielens
def test_import_movies_as_a_catalogue(settings):
    summary, _ = shopstream_import(
        settings, "products", str(DATA / "movies.csv"), "--id-col", "movieId", "--name-col", "title",
        "--category-col", "genres", "--category-sep", "|", "--category-mode", "first", "--id-prefix", "ml-",
    )
    with (DATA / "movies.csv").open(encoding="utf-8", newline="") as f:
        movies = list(csv.DictReader(f))
    assert len(movies) == 9742
    assert (summary["sent"], summary["rejected"], summary["rows"]) == (9742, 0, 9742)

    stats = build_loop("store", settings).run(until_log_end=True)
    assert stats.applied == 9742 and stats.dead_lettered == 0
    db = sqlite3.connect(settings.sqlite_path("store"))
    assert db.execute("SELECT count(*), count(DISTINCT product_id) FROM products WHERE removed = 0").fetchone() == (
        9742, 9742)
    for movie in (movies[0], movies[4871], movies[-1]):
        name, category, path, attributes, price, stock = db.execute(
            "SELECT name, category, category_path, attributes, price_cents, stock "
            "FROM products JOIN inventory USING (product_id) WHERE product_id = ?",
            (f"ml-{movie['movieId']}",),
        ).fetchone()
        genres = movie["genres"].split("|")
        assert (name, category, json.loads(path), price, stock) == (movie["title"], genres[0], genres[:1], 0, 100)
        assert json.loads(attributes) == ({"categories": ", ".join(genres)} if len(genres) > 1 else {})
    toy_story = db.execute("SELECT name, category FROM products WHERE product_id = 'ml-1'").fetchone()
    assert toy_story == ("Toy Story (1995)", "Adventure")


@needs_movielens
def test_replay_ratings_in_time_order(settings, tmp_path):
    with (DATA / "ratings.csv").open(encoding="utf-8") as f:
        lines = [next(f) for _ in range(3001)]  # the header and 3000 ratings
    log = tmp_path / "ratings.csv"
    log.write_text("".join(lines) + "7,1,not-a-rating,964982703\n")
    summary, proc = shopstream_import(
        settings, "interactions", str(log), "--user-col", "userId", "--item-col", "movieId",
        "--rating-col", "rating", "--time-col", "timestamp", "--item-prefix", "ml-",
    )
    assert (summary["sent"], summary["rejected"], summary["skipped"], summary["rows"]) == (3000, 1, 0, 3001)
    assert summary["by_type"] == {"click": 3000}
    assert "rejected line 3002: rating 'not-a-rating' is not a number" in proc.stderr
    rejects = Path(summary["rejects_file"])
    assert rejects.parent == settings.data_dir and json.loads(rejects.read_text())["line"] == 3002

    stats = build_loop("store", settings).run(until_log_end=True)
    assert stats.applied == 3000 and stats.dead_lettered == 0
    db = sqlite3.connect(settings.sqlite_path("store"))
    assert db.execute("SELECT count(*) FROM clicks").fetchone()[0] == 3000
    assert db.execute("SELECT count(*) FROM clicks WHERE source != 'browse'").fetchone()[0] == 0

    # What was stored is what the file says, event times included.
    rows = list(csv.DictReader(lines))
    expected = sorted((r["userId"], f"ml-{r['movieId']}", float(r["timestamp"])) for r in rows)
    stored = db.execute("SELECT user_id, product_id, event_time FROM clicks").fetchall()
    assert sorted(stored) == expected

    # Replayed in time order: a user's clicks (one partition, applied in offset order) were stored
    # with non-decreasing event times, although the file lists them in another order.
    by_user: dict[str, list[float]] = defaultdict(list)
    for user, at in db.execute("SELECT user_id, event_time FROM clicks ORDER BY rowid"):
        by_user[user].append(at)
    assert all(times == sorted(times) for times in by_user.values())
    in_file: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        in_file[r["userId"]].append(float(r["timestamp"]))
    assert any(times != sorted(times) for times in in_file.values()), "the slice should not be sorted already"

    # Sessions: a user's clicks less than 30 minutes apart share a session.
    sessions = db.execute("SELECT count(DISTINCT session_id) FROM clicks").fetchone()[0]
    assert sessions == summary["sessions"] and len(by_user) < sessions < 3000
