"""Writing and printing benchmark results: flat keys, numbers, merged into one JSON file."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path

RESULTS = Path("bench/results.json")


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def save(results: dict[str, float], path: Path = RESULTS) -> None:
    """Merge into the results file, so that each benchmark can be run on its own."""
    path.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(path.read_text()) if path.exists() else {}
    old.update({k: round(float(v), 6) for k, v in results.items()})
    path.write_text(json.dumps(dict(sorted(old.items())), indent=2) + "\n")


def table(rows: Sequence[tuple[str, float, str, float | None]]) -> str:
    """Rows of (key, value, baseline key, baseline value) -> an aligned table with ratios."""
    lines = [f"{'figure':<38}{'value':>14}   {'baseline':<34}{'value':>14}{'ratio':>9}"]
    for key, value, base_key, base in rows:
        ratio = f"{value / base:.2f}" if base else "-"
        base_txt = f"{base:,.3f}" if base is not None else "-"
        lines.append(f"{key:<38}{value:>14,.3f}   {base_key:<34}{base_txt:>14}{ratio:>9}")
    return "\n".join(lines)
