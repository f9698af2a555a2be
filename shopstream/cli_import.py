"""`shopstream import products|interactions FILE`: bring your own catalogue and logs through Kafka.

The parsing, mapping, sorting and sessionising live in `producers.importers` (no Kafka there); this
module only wires them to `ProcessSink` + `publish` and reports. Exit codes: 0 when something was sent
(even if some rows were rejected: they are listed and written to `<data_dir>/import-rejects-*.jsonl`),
1 when nothing could be sent or a send failed, 2 for a usage error such as a column that is not in
the file.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from producers.importers.products import CategoryMode
from producers.importers.source import FileFormat, count_lines
from producers.importers.values import TimeUnit
from producers.replay import ReplayOrder

if TYPE_CHECKING:
    from events import Event
    from infra.config import Settings
    from producers.importers.report import ImportReport, Reject
    from producers.importers.source import RowSource

import_app = typer.Typer(help="Import a catalogue or an interaction log through Kafka.", no_args_is_help=True)

SHOW_REJECTS = 10

FileArg = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                         help="Delimited text (.csv, .tsv, .dat, ...) or JSON Lines (.jsonl); .gz too.")
]
FormatOpt = Annotated[
    FileFormat | None,
    typer.Option("--format", help="File format; default: from the extension, else JSON Lines if the file starts "
                                  "with '{', else delimited text."),
]
EncodingOpt = Annotated[str, typer.Option(help="Text encoding of the file (ASCII-compatible, e.g. latin-1).")]
DelimiterOpt = Annotated[
    str | None,
    typer.Option(help="Field delimiter: a character or string (',' ';' '|' '::') or 'tab'. Default: detected from "
                      "the first 200 lines when exactly one of , tab ; | :: splits them all alike (tab preferred "
                      "for .tsv, ',' for .csv); otherwise it asks for this option."),
]
ColumnsOpt = Annotated[
    str | None,
    typer.Option(help="Names of the file's columns, comma-separated, for a file without a header line "
                      "(e.g. user,item,rating,time); with --header they replace the file's own names."),
]
HeaderOpt = Annotated[
    bool | None,
    typer.Option("--header/--no-header",
                 help="Whether the first line names the columns. Default: yes, unless --columns is given. "
                      "--no-header without --columns numbers the columns 1, 2, ... (e.g. --user-col 1)."),
]
RateOpt = Annotated[float, typer.Option(min=0, help="At most this many events per second (0: as fast as possible).")]
LimitOpt = Annotated[int, typer.Option(min=0, help="Read only the first N rows (0: all).")]
DryRunOpt = Annotated[bool, typer.Option(help="Parse and report, send nothing (no Kafka needed).")]
ProgressOpt = Annotated[bool, typer.Option(help="Show a progress bar.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object.")]


def _err(message: str) -> None:
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


def _usage_error(message: str) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(2)


def _rejects_path(settings: Settings) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = settings.data_dir / f"import-rejects-{stamp}.jsonl"
    n = 1
    while path.exists():
        n += 1
        path = settings.data_dir / f"import-rejects-{stamp}-{n}.jsonl"
    return path


def _new_report(settings: Settings) -> ImportReport:
    from producers.importers.report import ImportReport

    def show(reject: Reject) -> None:
        if report.rejected <= SHOW_REJECTS:
            _err(f"rejected {reject.describe()}")

    report = ImportReport(rejects_path=_rejects_path(settings), keep_first=SHOW_REJECTS, on_reject=show)
    return report


def _send(
    settings: Settings,
    events: Iterator[Event],
    total: int | None,
    rate: float,
    dry_run: bool,
    progress: bool,
    desc: str,
    order: ReplayOrder | None = None,
    wait_for: str = "learner",
    extra: dict[str, Any] | None = None,
) -> tuple[int, float, str | None, bool]:
    """Send (or, dry, just build) the events. Returns (sent, seconds, send error, interrupted).

    `order` GLOBAL: every event to its topic's first partition, and at each switch between topics a
    wait until the group `wait_for` has consumed what was sent (`producers.replay`); the waits are
    counted into `extra`."""
    from tqdm import tqdm

    started = time.monotonic()
    if dry_run:
        count = 0
        with tqdm(total=total, desc=f"{desc} (dry run)", unit="ev", disable=not progress, mininterval=0.5) as bar:
            try:
                for _ in events:
                    count += 1
                    bar.update(1)
            except KeyboardInterrupt:
                return count, time.monotonic() - started, None, True
        return count, time.monotonic() - started, None, False

    from kafka.errors import KafkaError

    from infra.producer import SendFailed
    from infra.sender import ProcessSink
    from infra.topics import ensure_topics
    from producers.publish import publish
    from producers.replay import FirstPartition, GroupProgress, in_global_order

    ordered = order is ReplayOrder.GLOBAL
    tracker: GroupProgress | None = None
    try:
        ensure_topics(settings.bootstrap, settings.partitions, settings.replication_factor, settings.topic_prefix)
        failed = settings.data_dir / "failed-events.jsonl"
        overrides: dict[str, Any] = {"partitioner": FirstPartition()} if ordered else {}
        # The producer sends from a child process while this one reads and converts (infra/sender.py).
        sink = ProcessSink(settings.bootstrap, settings.topic_prefix, failed_path=failed, **overrides)
        if ordered:
            tracker = GroupProgress(settings.bootstrap, settings.group_id(wait_for), settings.topic_prefix, _err)
    except KafkaError as exc:
        return 0, time.monotonic() - started, f"cannot reach Kafka at {settings.bootstrap}: {exc!r}", False
    interrupted = False
    error: str | None = None
    sent = 0
    counted = [0]

    def on_event(_event: Event) -> None:
        counted[0] += 1

    def barrier(topic: str, next_topic: str, yielded: int) -> None:
        assert tracker is not None
        if sink.sent != yielded:  # the order holds only if each event is sent before the next is read
            raise RuntimeError(f"{yielded} events were read but {sink.sent} sent: the replay order cannot be kept")
        sink.flush()
        tracker.wait_consumed(topic, next_topic)

    if tracker is not None:
        events = in_global_order(events, barrier)
    with sink:
        try:
            sent = publish(sink, events, rate=rate, total=total, progress=progress, desc=desc, on_event=on_event)
        except KeyboardInterrupt:
            interrupted = True
            sent = counted[0]
        except SendFailed as exc:
            sent, error = counted[0], str(exc)
        try:
            sink.flush()
        except SendFailed as exc:
            error = error or str(exc)
        except KafkaError as exc:
            error = f"flush failed: {exc!r}"
        finally:
            if tracker is not None:
                tracker.close()
                if extra is not None:
                    extra.update(order_waits=tracker.waits, order_waited_s=round(tracker.waited_s, 3))
    return sent, time.monotonic() - started, error, interrupted


def _finish(
    kind: str,
    report: ImportReport,
    sent: int,
    seconds: float,
    error: str | None,
    interrupted: bool,
    dry_run: bool,
    as_json: bool,
    extra: dict[str, Any],
    detail: str,
) -> None:
    report.close()
    if report.rejected > SHOW_REJECTS:
        _err(f"... and {report.rejected - SHOW_REJECTS} more rejected rows")
    if report.wrote_rejects:
        _err(f"all {report.rejected} rejected rows, with line numbers and reasons: {report.rejects_path}")
    if error:
        _err(f"Error: {error}")
    rate = sent / seconds if seconds > 0 else 0.0
    if as_json:
        summary = {"kind": kind, "sent": sent, "dry_run": dry_run, "seconds": round(seconds, 3),
                   "events_per_s": round(rate, 1), "interrupted": interrupted, "error": error,
                   **report.to_dict(), **extra}
        typer.echo(json.dumps(summary, default=str))
    else:
        verb = "would send" if dry_run else "sent"
        notes = "".join(f"; {what}: {n}" for what, n in sorted(report.notes.items()) if not what.startswith("skip"))
        typer.echo(
            f"{kind}: {sent} {verb}{detail}, {report.skipped} skipped, {report.rejected} rejected, "
            f"of {report.rows} rows{notes}; {seconds:.1f} s ({rate:,.0f} events/s)"
            + (" — interrupted" if interrupted else "")
        )
    if interrupted:
        raise typer.Exit(130)
    if error or sent == 0:
        if sent == 0 and not error:
            _err("Error: nothing to send")
        raise typer.Exit(1)


def _open_source(
    path: Path, fmt: FileFormat | None, encoding: str, delimiter: str | None, columns: str | None,
    header: bool | None,
) -> RowSource:
    from producers.importers.layout import LayoutError, parse_delimiter, parse_names
    from producers.importers.source import MappingError, RowSource

    try:
        source = RowSource.open(
            path, fmt, encoding=encoding, delimiter=None if delimiter is None else parse_delimiter(delimiter),
            columns=None if columns is None else parse_names(columns), header=header,
        )
    except (MappingError, LayoutError, LookupError) as exc:  # LookupError: an unknown encoding
        raise _usage_error(str(exc)) from None
    _err(f"{path.name}: {source.describe_layout()}")
    return source


def _total(path: Path, source: RowSource, progress: bool, limit: int) -> int | None:
    """Rows to expect, for the progress bar: the file's lines less its header."""
    if not progress:
        return None
    total = max(count_lines(path) - source.header_lines, 0)
    return min(total, limit) if limit else total


@import_app.command("products")
def import_products(
    file: FileArg,
    fmt: FormatOpt = None,
    id_col: Annotated[
        str | None, typer.Option(help="Column of the product id (required; default: the first of id, product_id, "
                                      "item_id, productId, itemId, sku that the file has). Any column may be "
                                      "given by name or by its position, 1 for the first.")
    ] = None,
    name_col: Annotated[
        str | None, typer.Option(help="Column of the product name (required; default: the first of name, title, "
                                      "product_name, productName).")
    ] = None,
    description_col: Annotated[
        str | None, typer.Option(help="Column of the description (default: 'description', if the file has it).")
    ] = None,
    category_col: Annotated[
        str | None, typer.Option(help="Column of the category (default: 'category', if the file has it).")
    ] = None,
    category_sep: Annotated[str, typer.Option(help="Separator inside a category value, e.g. '|' or ' > '.")] = ">",
    category_mode: Annotated[
        CategoryMode,
        typer.Option(
            help="path: the value is a hierarchy ('Home > Kitchen > Mugs'), split on --category-sep into the "
            "category path, top level first. first: the value is a set of labels (a movie's genres "
            "'Comedy|Romance'); the first label is the one-level category, and all labels are kept in the "
            "product attribute 'categories' so they stay searchable."
        ),
    ] = CategoryMode.PATH,
    brand_col: Annotated[
        str | None, typer.Option(help="Column of the brand (default: 'brand', if the file has it).")
    ] = None,
    price_col: Annotated[
        str | None, typer.Option(help="Column of the price, empty is 0 (default: 'price', if the file has it).")
    ] = None,
    stock_col: Annotated[str | None, typer.Option(help="Column of the stock (optional).")] = None,
    default_stock: Annotated[int, typer.Option(min=0, help="Stock when there is no stock column or cell.")] = 100,
    attr_col: Annotated[
        list[str] | None, typer.Option(help="Extra column to keep as a product attribute (repeatable).")
    ] = None,
    flag_cols: Annotated[
        str | None,
        typer.Option(help="Multi-hot 0/1 columns, one per label (e.g. genres): names, positions or ranges "
                          "'Action..Western' / '6..24', comma-separated. The labels set on a row are its "
                          "category (the first) unless --category-col gives one, and all of them are kept in "
                          "the attribute --flag-attr."),
    ] = None,
    flag_attr: Annotated[str, typer.Option(help="Attribute that keeps a row's flag labels, joined by ', '.")] = (
        "categories"),
    id_prefix: Annotated[str, typer.Option(help="Prepended to every product id (use the same as --item-prefix).")] = "",
    rate: RateOpt = 0.0,
    limit: LimitOpt = 0,
    dry_run: DryRunOpt = False,
    progress: ProgressOpt = True,
    as_json: JsonOpt = False,
    encoding: EncodingOpt = "utf-8",
    delimiter: DelimiterOpt = None,
    columns: ColumnsOpt = None,
    header: HeaderOpt = None,
) -> None:
    """Import a product catalogue: one ProductUpserted event per row.

    Missing optional columns are fine (empty text, price 0, stock --default-stock). Rows without an id
    or a name, with a price or stock that is not a number, with a flag that is not 0/1, or that the
    event schema refuses are rejected: the first few are printed, all of them are written with their
    line numbers to <data dir>/import-rejects-<time>.jsonl, and the import goes on.

    Example (MovieLens): shopstream import products movies.csv --id-col movieId --name-col title
    --category-col genres --category-sep "|" --category-mode first --id-prefix ml-

    Example (MovieLens-100k u.item: '|'-separated, latin-1, no header, 19 genre flags): shopstream import
    products u.item --encoding latin-1 --columns "id,name,released,video,url,unknown,Action,...,Western"
    --flag-cols unknown..Western --id-prefix ml-
    """
    from infra.config import Settings
    from producers.importers.products import ProductMapping, product_events
    from producers.importers.source import MappingError

    settings = Settings()
    given = {
        "--description-col": description_col, "--category-col": category_col,
        "--brand-col": brand_col, "--price-col": price_col,
    }
    mapping = ProductMapping(
        id_col=id_col,
        name_col=name_col,
        description_col=description_col or "description",
        category_col=category_col or "category",
        brand_col=brand_col or "brand",
        price_col=price_col or "price",
        stock_col=stock_col,
        attribute_cols=tuple(attr_col or ()),
        category_sep=category_sep,
        category_mode=category_mode,
        default_stock=default_stock,
        id_prefix=id_prefix,
        flag_cols=flag_cols or "",
        flag_attr=flag_attr,
        explicit=frozenset(opt for opt, value in given.items() if value is not None),
    )
    source = _open_source(file, fmt, encoding, delimiter, columns, header)
    try:
        mapping.bind(source)
    except MappingError as exc:
        source.close()
        raise _usage_error(str(exc)) from None
    total = _total(file, source, progress, limit)
    report = _new_report(settings)
    events = product_events(source, mapping, report, limit=limit or None)
    sent, seconds, error, interrupted = _send(settings, events, total, rate, dry_run, progress, "products")
    source.close()
    _finish("products", report, sent, seconds, error, interrupted, dry_run, as_json, {}, "")


@import_app.command("interactions")
def import_interactions(
    file: FileArg,
    fmt: FormatOpt = None,
    user_col: Annotated[
        str | None, typer.Option(help="Column of the user id (default: the first of user_id, user, userId, uid, "
                                      "visitorid). Any column may be given by name or by position, 1 for the first.")
    ] = None,
    item_col: Annotated[
        str | None, typer.Option(help="Column of the item (product) id (default: the first of item_id, item, "
                                      "product_id, product, itemId, productId, itemid).")
    ] = None,
    time_col: Annotated[
        str | None, typer.Option(help="Column of the time: epoch seconds / millis / micros / nanos or ISO 8601 "
                                      "(default: the first of timestamp, time, ts, event_time, datetime, date).")
    ] = None,
    time_unit: Annotated[
        TimeUnit,
        typer.Option(help="auto: an epoch number's unit by its magnitude (< 1e11 seconds, < 1e14 millis, "
                     "< 1e17 micros, else nanos), other values ISO 8601 (no zone: UTC)."),
    ] = TimeUnit.AUTO,
    type_col: Annotated[
        str | None,
        typer.Option(help="Column of the event type: --order-types values become orders, others clicks."),
    ] = None,
    order_types: Annotated[
        str, typer.Option(help="Comma-separated event types (case-insensitive) that are orders.")
    ] = "purchase,order,buy",
    rating_col: Annotated[
        str | None, typer.Option(help="Column of a rating: each rated item is a click (source 'browse').")
    ] = None,
    min_rating: Annotated[
        float | None, typer.Option(help="Skip (and count) rows rated below this (default: keep all).")
    ] = None,
    price_col: Annotated[str | None, typer.Option(help="Column of an order's unit price (default 0.00).")] = None,
    user_prefix: Annotated[str, typer.Option(help="Prepended to every user id.")] = "",
    item_prefix: Annotated[
        str, typer.Option(help="Prepended to every item id: the products import's --id-prefix.")
    ] = "",
    session_gap: Annotated[
        float, typer.Option(min=0, help="Minutes: a user's events further apart start a new session.")
    ] = 30.0,
    speedup: Annotated[
        float, typer.Option(min=0, help="Seconds of log time per second of wall time (0: as fast as possible).")
    ] = 0.0,
    order: Annotated[
        ReplayOrder,
        typer.Option(help="global: the consumers (the learner above all, which trains on what it reads in the order "
                          "it reads it) see the whole log in time order, ties in file order: every event goes to "
                          "the first partition of its topic, and where the log moves between clicks and orders "
                          "the import waits until the --wait-for group has read what came before (a rating log, "
                          "all clicks, never waits). per-user: Kafka's keying by user; each user's events in "
                          "order, users interleaved, several consumer processes can share the work, no waits. "
                          "global is the default because a replayed log is there to be learned as it happened: "
                          "the model and its prequential figures depend on the order."),
    ] = ReplayOrder.GLOBAL,
    wait_for: Annotated[
        str, typer.Option(help="With --order global: the consumer group whose progress the import waits for.")
    ] = "learner",
    rate: RateOpt = 0.0,
    limit: LimitOpt = 0,
    dry_run: DryRunOpt = False,
    progress: ProgressOpt = True,
    as_json: JsonOpt = False,
    encoding: EncodingOpt = "utf-8",
    delimiter: DelimiterOpt = None,
    columns: ColumnsOpt = None,
    header: HeaderOpt = None,
) -> None:
    """Replay an interaction log as click and order events, in timestamp order.

    The file is read and sorted by time first (ties keep file order); each event's event_time is the
    log's time. Bad rows are rejected with their line numbers (see `import products`). By default
    (--order global) the consumers also read the log in that order, so the learner learns it in the
    order it happened; see --order.

    Example (MovieLens): shopstream import interactions ratings.csv --user-col userId --item-col movieId
    --rating-col rating --time-col timestamp --item-prefix ml-
    """
    from tqdm import tqdm

    from infra.config import Settings
    from producers.importers.interactions import InteractionLog, InteractionMapping
    from producers.importers.pacing import paced
    from producers.importers.source import MappingError

    settings = Settings()
    mapping = InteractionMapping(
        user_col=user_col, item_col=item_col, time_col=time_col, type_col=type_col, rating_col=rating_col,
        price_col=price_col, time_unit=time_unit, min_rating=min_rating,
        order_types=frozenset(t.strip().lower() for t in order_types.split(",") if t.strip()),
        user_prefix=user_prefix, item_prefix=item_prefix, session_gap_s=session_gap * 60.0,
    )
    source = _open_source(file, fmt, encoding, delimiter, columns, header)
    try:
        mapping.bind(source)
    except MappingError as exc:
        source.close()
        raise _usage_error(str(exc)) from None
    report = _new_report(settings)
    total = _total(file, source, progress, limit)
    with tqdm(total=total, desc="reading", unit="row", disable=not progress, mininterval=0.5) as bar:
        read_update: Callable[[int], object] = bar.update
        log = InteractionLog.load(source, mapping, report, limit=limit or None, progress=read_update)
    source.close()
    events = log.events() if dry_run else paced(log.events(), speedup=speedup, rate=rate)
    extra: dict[str, Any] = {"sessions": log.sessions, "users": log.n_users, "items": log.n_items,
                             "order": order.value}
    sent, seconds, error, interrupted = _send(settings, events, len(log), 0.0, dry_run, progress, "interactions",
                                              order=order, wait_for=wait_for, extra=extra)
    kinds = report.by_type
    extra.update(sessions=log.sessions)
    span = log.time_range
    if span is not None:
        from producers.importers.values import from_micros

        extra["first_event_time"] = from_micros(span[0]).isoformat()
        extra["last_event_time"] = from_micros(span[1]).isoformat()
    detail = f" ({kinds.get('click', 0)} clicks, {kinds.get('order', 0)} orders; {log.sessions} sessions"
    detail += f" of {log.n_users} users" + (
        f", {extra['first_event_time'][:10]} .. {extra['last_event_time'][:10]})" if span else ")"
    )
    _finish("interactions", report, sent, seconds, error, interrupted, dry_run, as_json, extra, detail)
