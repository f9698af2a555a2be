"""Last writer wins, by event time: the one rule every read model applies to product changes.

A product event changes the stored state only if it is at least as recent as the change that
state came from, so a late, older event (topics interleave; producers retry) cannot undo a newer
one. On a tie the event applied later wins: events of one product share a partition, so that is
the one produced later.

>>> supersedes(10.0, None), supersedes(10.0, 9.5), supersedes(10.0, 10.0), supersedes(9.0, 10.0)
(True, True, True, False)
"""

from __future__ import annotations


def supersedes(event_time: float, stored_time: float | None) -> bool:
    """Whether an event at ``event_time`` replaces state last changed at ``stored_time``."""
    return stored_time is None or event_time >= stored_time


# The same rule inside an upsert, for SQL that compares `excluded.<col>` with the stored `<col>`.
SUPERSEDES_SQL = "excluded.{col} >= {table}.{col}"
