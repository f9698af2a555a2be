"""`shopstream dead-letter list | show | replay`: the dead-letter topic as an operator's tool."""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated

import typer

from consumers.deadletter import StoredLetter
from infra.config import Settings
from shopstream.dead_letters import (
    NoDeadLetterTopic,
    Selection,
    counts,
    dedupe,
    parse_time,
    plan_replay,
    read_letters,
    replay,
    select,
)

dead_letter_app = typer.Typer(
    help="The dead-letter topic: list what each consumer group gave up on and why, show one letter, "
         "replay chosen records to their original topics after a fix.",
    no_args_is_help=True,
)

GroupOpt = Annotated[list[str] | None, typer.Option("--group", "-g", help="Only letters of this group (repeat).")]
KindOpt = Annotated[list[str] | None, typer.Option("--kind", "-k", help="Only this reason kind, e.g. schema, "
                                                   "future-time, duplicate-order-id (repeat).")]
TopicOpt = Annotated[list[str] | None, typer.Option("--topic", "-t", help="Only records from this topic (repeat).")]
SinceOpt = Annotated[str | None, typer.Option(
    help="Dead-lettered at or after: ISO time, epoch seconds, or 15m/2h/3d ago.")]
UntilOpt = Annotated[str | None, typer.Option(help="Dead-lettered at or before (same forms as --since).")]


def _selection(ids: list[str] | None, group: list[str] | None, kind: list[str] | None, topic: list[str] | None,
               since: str | None, until: str | None) -> Selection:
    try:
        return Selection(
            ids=frozenset(ids or ()), groups=frozenset(group or ()), kinds=frozenset(kind or ()),
            topics=frozenset(topic or ()), since=None if since is None else parse_time(since),
            until=None if until is None else parse_time(until),
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _read(s: Settings) -> list[StoredLetter]:
    try:
        return read_letters(s.bootstrap, s.topic_prefix)
    except NoDeadLetterTopic as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


def _named(name: str, prefix: str) -> str:
    return name[len(prefix):] if prefix and name.startswith(prefix) else name


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def _row(s: StoredLetter, prefix: str) -> dict[str, object]:
    letter = s.letter
    return {
        "id": s.id, "time": round(s.time, 3), "group": _named(letter.group, prefix), "kind": letter.kind,
        "topic": _named(letter.topic, prefix), "partition": letter.partition, "offset": letter.offset,
        "reason": letter.reason, "exception": letter.exception, "bytes": len(letter.value or b""),
        "truncated_from": s.truncated_from,
    }


@dead_letter_app.command("list")
def list_letters(
    group: GroupOpt = None,
    kind: KindOpt = None,
    topic: TopicOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    repeats: Annotated[bool, typer.Option("--repeats", help="Keep repeated letters (same group and record).")] = False,
    limit: Annotated[int, typer.Option(help="Show the newest N (0: all).")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per letter.")] = False,
    summary: Annotated[bool, typer.Option("--counts", help="Only the counts per group and kind.")] = False,
) -> None:
    """List dead letters, oldest first: id, time, group, kind, original record, reason."""
    s = Settings()
    chosen = select(_read(s), _selection(None, group, kind, topic, since, until), s.topic_prefix)
    repeated = 0
    if not repeats:
        chosen, repeated = dedupe(chosen)
    if summary:
        typer.echo(json.dumps(counts(chosen, s.topic_prefix), indent=2))
        return
    shown = chosen[-limit:] if limit > 0 else chosen
    if as_json:
        for letter in shown:
            typer.echo(json.dumps(_row(letter, s.topic_prefix)))
        return
    if not shown:
        typer.echo("no dead letters match")
        return
    typer.echo(f"{'ID':<10} {'DEAD-LETTERED':<19} {'GROUP':<9} {'KIND':<19} {'RECORD':<22} REASON")
    for letter in shown:
        row = _row(letter, s.topic_prefix)
        origin = f"{row['topic']}[{row['partition']}]@{row['offset']}"
        reason = str(row["reason"]).replace("\n", " ")
        typer.echo(f"{letter.id:<10} {_when(letter.time):<19} {row['group']!s:<9} {letter.letter.kind:<19} "
                   f"{origin:<22} {reason[:100]}")
    by_kind = ", ".join(f"{k} {n}" for k, n in sorted(
        ((k, sum(g.get(k, 0) for g in counts(chosen, s.topic_prefix).values()))
         for k in {x.letter.kind for x in chosen}), key=lambda kv: -kv[1]))
    more = f" (the newest {len(shown)} shown; --limit 0 for all)" if len(shown) < len(chosen) else ""
    hidden = f"; {repeated} repeated letters hidden (--repeats)" if repeated else ""
    typer.echo(f"\n{len(chosen)} letters{more}{hidden}. By kind: {by_kind}.\n"
               "Details: shopstream dead-letter show ID · send again after a fix: shopstream dead-letter replay ID")


@dead_letter_app.command("show")
def show(
    letter_id: Annotated[str, typer.Argument(metavar="ID", help="As `list` prints it: partition:offset.")],
    raw: Annotated[bool, typer.Option(help="Write only the stored value's bytes to stdout.")] = False,
) -> None:
    """One dead letter: every header, then its value (pretty JSON when it parses)."""
    s = Settings()
    found = [x for x in _read(s) if x.id == letter_id]
    if not found:
        typer.echo(f"no dead letter {letter_id!r} (ids look like 0:12; see `shopstream dead-letter list`)", err=True)
        raise typer.Exit(1)
    stored = found[0]
    value = stored.letter.value or b""
    if raw:
        sys.stdout.buffer.write(value)
        return
    row = _row(stored, s.topic_prefix)
    row["time"] = f"{_when(stored.time)} ({stored.time:.3f})"
    row["key"] = None if stored.letter.key is None else stored.letter.key.decode("utf-8", "replace")
    row["original timestamp"] = stored.letter.timestamp_ms
    for name, v in row.items():
        if v is not None:
            typer.echo(f"{name + ':':<20} {v}")
    typer.echo("value:")
    try:
        typer.echo(json.dumps(json.loads(value), indent=2, ensure_ascii=False))
    except ValueError:
        typer.echo(value[:4000].decode("utf-8", "replace") + (" ..." if len(value) > 4000 else ""))


@dead_letter_app.command("replay")
def replay_letters(
    ids: Annotated[list[str] | None, typer.Argument(metavar="[ID]...", help="Letters to replay (see `list`).")] = None,
    group: GroupOpt = None,
    kind: KindOpt = None,
    topic: TopicOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be sent; send nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Send chosen records again to their original topics, once each, after fixing what made them fail.

    Every group that reads the topic sees the record again; the consumers count an event id once,
    so a group that had applied it is not affected. A letter whose value was truncated cannot be replayed.
    """
    s = Settings()
    selection = _selection(ids, group, kind, topic, since, until)
    if selection.empty:
        raise typer.BadParameter("choose what to replay: letter IDs, or --group / --kind / --topic / --since / --until")
    chosen = select(_read(s), selection, s.topic_prefix)
    missing = sorted(selection.ids - {x.id for x in chosen})
    if missing:
        typer.echo(f"no dead letter {', '.join(missing)} (see `shopstream dead-letter list`)", err=True)
        raise typer.Exit(1)
    plan = plan_replay(chosen, s.topic_prefix)
    for stored, why in plan.skipped:
        typer.echo(f"skip {stored.id} ({_named(stored.letter.topic, s.topic_prefix)}[{stored.letter.partition}]"
                   f"@{stored.letter.offset}): {why}")
    if not plan.send:
        typer.echo("nothing to replay")
        raise typer.Exit(1 if plan.skipped or not chosen else 0)
    per_topic = ", ".join(f"{t} {n}" for t, n in sorted(plan.topics(s.topic_prefix).items()))
    typer.echo(f"{len(plan.send)} records to send again from {len(chosen)} letters ({per_topic}):")
    for stored in plan.send[:20]:
        typer.echo(f"  {stored.id:<10} {_named(stored.letter.topic, s.topic_prefix)}[{stored.letter.partition}]"
                   f"@{stored.letter.offset}  {stored.letter.kind}: {stored.letter.reason[:80]}")
    if len(plan.send) > 20:
        typer.echo(f"  ... and {len(plan.send) - 20} more")
    if dry_run:
        typer.echo("dry run: nothing sent")
        return
    if not yes:
        if not sys.stdin.isatty():
            typer.echo("not a terminal: confirm with --yes (or look first with --dry-run)", err=True)
            raise typer.Exit(1)
        typer.confirm(f"Send {len(plan.send)} records to {s.bootstrap}?", abort=True)
    done = replay(plan, s.bootstrap)
    for r in done:
        where = _named(r.letter.letter.topic, s.topic_prefix)
        typer.echo(f"replayed {r.letter.id} -> {where}[{r.partition}]@{r.offset}")
    typer.echo(f"{len(done)} records sent; `shopstream lag` shows the groups applying them")
