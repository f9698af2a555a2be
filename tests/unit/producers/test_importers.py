"""Importers without Kafka: column mapping, rejected rows with line numbers, JSONL, category modes,
timestamps, replay order, sessions, rating threshold, orders, determinism, pacing, and the CLI's
dry run and exit codes."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from events import Click, Order, ProductUpserted, encode
from producers.importers import (
    CategoryMode,
    ImportReport,
    InteractionLog,
    InteractionMapping,
    MappingError,
    ProductMapping,
    RowError,
    RowSource,
    TimeUnit,
    detect_format,
    paced,
    parse_money,
    parse_timestamp,
    product_events,
    split_category,
)
from producers.importers.pacing import FakeClock
from shopstream.cli import app

AT = datetime(2026, 2, 1, tzinfo=UTC)
MOVIES = b"""movieId,title,genres
1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy
2,Jumanji (1995),Adventure|Children|Fantasy
3,"Grumpier Old Men, The (1995)",Comedy|Romance
"""


def source(data: bytes | str, fmt: str = "csv") -> RowSource:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return RowSource.from_lines(io.BytesIO(raw), fmt)


def products(data: bytes | str, mapping: ProductMapping | None = None, fmt: str = "csv",
             report: ImportReport | None = None) -> tuple[list[ProductUpserted], ImportReport]:
    report = report or ImportReport()
    events = list(product_events(source(data, fmt), mapping or ProductMapping(), report, event_time=AT))
    payloads = [e.payload for e in events]
    assert all(isinstance(p, ProductUpserted) for p in payloads)
    assert all(e.event_time == AT for e in events)
    return payloads, report  # type: ignore[return-value]


def interactions(data: str, report: ImportReport | None = None, **kw) -> tuple[list, ImportReport, InteractionLog]:
    report = report or ImportReport()
    log = InteractionLog.load(source(data), InteractionMapping(**kw), report)
    return list(log.events()), report, log


# --- products: mapping --------------------------------------------------------------------------


def test_movies_mapping_with_prefix_and_path_mode():
    got, report = products(MOVIES, ProductMapping(id_col="movieId", name_col="title", category_col="genres",
                                                  category_sep="|", id_prefix="ml-"))
    assert [p.product_id for p in got] == ["ml-1", "ml-2", "ml-3"]
    assert got[2].name == "Grumpier Old Men, The (1995)"
    assert got[0].category_path == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    assert got[0].price == Decimal("0.00") and got[0].stock == 100 and got[0].brand == "" and got[0].description == ""
    assert (report.rows, report.events, report.rejected) == (3, 3, 0)


def test_category_mode_first_keeps_all_labels_as_an_attribute():
    got, _ = products(MOVIES, ProductMapping(id_col="movieId", name_col="title", category_col="genres",
                                             category_sep="|", category_mode=CategoryMode.FIRST))
    assert got[0].category_path == ["Adventure"]
    assert got[0].attributes == {"categories": "Adventure, Animation, Children, Comedy, Fantasy"}
    one_label = products("id,name,category\n9,X,Drama\n", ProductMapping(category_mode=CategoryMode.FIRST))[0]
    assert one_label[0].category_path == ["Drama"] and one_label[0].attributes == {}


def test_split_category():
    assert split_category("Home > Kitchen > Mugs", ">", CategoryMode.PATH)[0] == ["Home", "Kitchen", "Mugs"]
    assert split_category("", ">", CategoryMode.PATH) == ([], [])
    assert split_category(["A", " B "], "|", CategoryMode.PATH)[0] == ["A", "B"]
    assert split_category("A|B", "|", CategoryMode.FIRST) == (["A"], ["A", "B"])


def test_the_held_back_search_set_format_works_with_the_defaults():
    data = (
        "id,name,description,category,brand,price\n"
        'p1,Blue kettle,"A kettle, 1.7 l\nwith a second line",,,0\n'
        "p2,Red mug,,,,0\n"
    )
    got, report = products(data)
    assert [(p.product_id, p.name, p.category_path, p.brand, p.price, p.stock) for p in got] == [
        ("p1", "Blue kettle", [], "", Decimal("0.00"), 100),
        ("p2", "Red mug", [], "", Decimal("0.00"), 100),
    ]
    assert got[0].description == "A kettle, 1.7 l\nwith a second line"
    assert report.rejected == 0


def test_all_fields_stock_and_attributes():
    data = "sku,title,text,cat,maker,cost,qty,color\nA1,Mug,Nice mug,Home > Kitchen,Acme,$1,299.50,7,red\n"
    data = data.replace("$1,299.50", '"$1,299.50"')
    mapping = ProductMapping(id_col="sku", name_col="title", description_col="text", category_col="cat",
                             brand_col="maker", price_col="cost", stock_col="qty", attribute_cols=("color",))
    (p,), _ = products(data, mapping)
    assert (p.product_id, p.name, p.description, p.category_path, p.brand, p.price, p.stock, p.attributes) == (
        "A1", "Mug", "Nice mug", ["Home", "Kitchen"], "Acme", Decimal("1299.50"), 7, {"color": "red"})


def test_a_missing_mapped_column_names_the_available_ones():
    with pytest.raises(MappingError, match=r"--id-col is not given and the file has none of the usual columns "
                                           r"\('id', 'product_id'.*Available columns: 'movieId', 'title', 'genres'"):
        products(MOVIES)
    with pytest.raises(MappingError, match=r"--id-col 'sku'.*Available columns: 'movieId', 'title', 'genres'"):
        products(MOVIES, ProductMapping(id_col="sku"))
    # an optional column named explicitly must exist; by default it is used only when present
    mapping = ProductMapping(id_col="movieId", name_col="title", brand_col="studio",
                             explicit=frozenset({"--brand-col"}))
    with pytest.raises(MappingError, match="--brand-col 'studio'"):
        products(MOVIES, mapping)
    with pytest.raises(MappingError, match="--stock-col 'qty'"):
        products(MOVIES, ProductMapping(id_col="movieId", name_col="title", stock_col="qty"))
    with pytest.raises(MappingError, match="empty"):
        products(b"")


# --- products: rejected rows -------------------------------------------------------------------


def test_bad_rows_are_rejected_with_line_numbers_and_reasons(tmp_path: Path):
    data = (
        "id,name,price,stock\n"            # line 1
        "1,Good,2.50,3\n"                   # 2
        ",No id,1,1\n"                      # 3
        "3,,1,1\n"                          # 4
        '4,"Two\nlines",abc,1\n'            # 5-6: bad price
        "\n"                                # 7: blank, not a row
        "5,Neg,-1,1\n"                      # 8
        "6,Stock,1,2.5\n"                   # 9
        "7,Short\n"                         # 10
        "8,Fine,,\n"                        # 11
        f"9,{'x' * 501},1,1\n"              # 12: the schema refuses the name
        "10,Also fine,1.005,0\n"            # 13
    )
    report = ImportReport(rejects_path=tmp_path / "rejects.jsonl")
    got, report = products(data, ProductMapping(stock_col="stock"), report=report)
    report.close()
    assert [p.product_id for p in got] == ["1", "8", "10"]
    assert got[1].price == Decimal("0.00") and got[1].stock == 100
    assert got[2].price == Decimal("1.01") and got[2].stock == 0
    assert [r.describe() for r in report.first_rejects] == [
        "line 3: missing id (column id)",
        "line 4: missing name (column name)",
        "line 5: price 'abc' is not a number",
        "line 8: price '-1' is negative",
        "line 9: stock '2.5' is not a whole number",
        "line 10: row has 2 fields, the header has 4",
        "line 12: invalid: name: String should have at most 500 characters",
    ]
    assert (report.rows, report.events, report.rejected) == (10, 3, 7)
    written = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert [w["line"] for w in written] == [3, 4, 5, 8, 9, 10, 12]
    assert written[2]["row"] == {"id": "4", "name": "Two\nlines", "price": "abc", "stock": "1"}


def test_text_that_is_not_utf8_rejects_its_row_only():
    data = b"id,name\n1,Caf\xe9\n2,Tea\n"
    got, report = products(data)
    assert [p.product_id for p in got] == ["2"]
    assert report.first_rejects[0].describe() == "line 2: not valid utf-8 text"
    latin = RowSource.from_lines(io.BytesIO(data), "csv", encoding="latin-1")
    assert [e.payload.name for e in product_events(latin, ProductMapping(), ImportReport())] == ["Café", "Tea"]


def test_long_descriptions_are_cut_and_counted():
    (p,), report = products(f"id,name,description\n1,A,{'d' * 25_000}\n")
    assert len(p.description) == 20_000
    assert report.notes == {"descriptions cut to 20000 characters": 1}


# --- products: JSONL ---------------------------------------------------------------------------


def test_jsonl_products():
    data = "\n".join([
        json.dumps({"id": 1, "name": "Mug", "category": ["Home", "Kitchen"], "price": 12.5, "brand": "Acme"}),
        "",
        "{not json",
        json.dumps([1, 2]),
        json.dumps({"id": "2", "name": "Cup", "category": "Home > Cups", "price": "3", "extra": {"a": 1}}),
        json.dumps({"id": "3", "name": None}),
    ]) + "\n"
    got, report = products(data, fmt="jsonl")
    assert [(p.product_id, p.category_path, p.price, p.brand) for p in got] == [
        ("1", ["Home", "Kitchen"], Decimal("12.50"), "Acme"),
        ("2", ["Home", "Cups"], Decimal("3.00"), ""),
    ]
    assert [r.describe() for r in report.first_rejects] == [
        "line 3: invalid JSON: Expecting property name enclosed in double quotes (column 2)",
        "line 4: expected a JSON object, got list",
        "line 6: missing name (column name)",
    ]
    with pytest.raises(MappingError, match=r"--name-col is not given.*first JSON object's keys\): 'sku'"):
        products('{"sku": 1}\n', ProductMapping(), fmt="jsonl")


def test_detect_format(tmp_path: Path):
    assert detect_format(Path("a.CSV")).value == "csv"
    assert detect_format(Path("a.jsonl.gz")).value == "jsonl"
    assert detect_format(Path("a.data"), "csv").value == "csv"
    assert detect_format(Path("ratings.dat")).value == "csv"
    (tmp_path / "u.data").write_text("196\t242\t3\t881250949\n")
    (tmp_path / "events").write_text('\n {"user_id": 1}\n')
    assert detect_format(tmp_path / "u.data").value == "csv"  # no known extension: by the content
    assert detect_format(tmp_path / "events").value == "jsonl"
    with pytest.raises(MappingError, match="--format"):
        detect_format(tmp_path / "missing.data")
    path = tmp_path / "p.tsv"
    path.write_text("id\tname\n1\tMug\n")
    assert [r.values for r in RowSource.open(path)] == [{"id": "1", "name": "Mug"}]


def test_product_events_are_deterministic():
    mapping = ProductMapping(id_col="movieId", name_col="title", category_col="genres", category_sep="|")
    runs = [list(product_events(source(MOVIES), mapping, ImportReport(), event_time=AT)) for _ in range(2)]
    assert [encode(e, stamp=False) for e in runs[0]] == [encode(e, stamp=False) for e in runs[1]]
    assert len({e.event_id for e in runs[0]}) == 3


# --- cells --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("964982703", "2000-07-30T18:45:03+00:00"),
    ("964982703123", "2000-07-30T18:45:03.123000+00:00"),
    ("964982703123456", "2000-07-30T18:45:03.123456+00:00"),
    ("964982703123456789", "2000-07-30T18:45:03.123457+00:00"),
    ("964982703.5", "2000-07-30T18:45:03.500000+00:00"),
    (964982703, "2000-07-30T18:45:03+00:00"),
    (964982703123.0, "2000-07-30T18:45:03.123000+00:00"),
    ("2000-07-30T18:45:03Z", "2000-07-30T18:45:03+00:00"),
    ("2000-07-30 20:45:03+02:00", "2000-07-30T18:45:03+00:00"),
    ("2000-07-30T18:45:03.25", "2000-07-30T18:45:03.250000+00:00"),
    ("2000-07-30", "2000-07-30T00:00:00+00:00"),
])
def test_timestamps_are_detected(raw, expected):
    from producers.importers.values import from_micros

    assert from_micros(parse_timestamp(raw)).isoformat() == expected


def test_timestamp_units_can_be_forced_and_bad_ones_rejected():
    assert parse_timestamp("1000", TimeUnit.MILLIS) == 1_000_000
    assert parse_timestamp("964982703", TimeUnit.MICROS) == 964982703
    with pytest.raises(RowError, match="out of range"):
        parse_timestamp("964982703123", TimeUnit.SECONDS)  # the year 32548
    for bad, unit in [("yesterday", TimeUnit.AUTO), ("", TimeUnit.AUTO), ("2000-07-30", TimeUnit.SECONDS),
                      ("964982703", TimeUnit.ISO), ("1e30", TimeUnit.AUTO)]:
        with pytest.raises(RowError):
            parse_timestamp(bad, unit)


def test_money():
    assert parse_money("12.345") == Decimal("12.35")
    assert parse_money(" €7 ") == Decimal("7.00")
    for bad in ("NaN", "1.2.3", "-3", "12,34"):
        with pytest.raises(RowError):
            parse_money(bad)


# --- interactions -------------------------------------------------------------------------------

RATINGS = """userId,movieId,rating,timestamp
1,10,4.0,1000
1,11,2.5,400
2,10,5.0,1000
1,12,3.0,5000
2,13,1.0,100
1,13,4.5,1000
"""


def test_ratings_replay_in_time_order_ties_in_file_order():
    events, report, log = interactions(RATINGS, user_col="userId", item_col="movieId", rating_col="rating",
                                       item_prefix="ml-", user_prefix="u")
    got = [(e.payload.user_id, e.payload.product_id, int(e.event_time.timestamp())) for e in events]
    assert got == [("u2", "ml-13", 100), ("u1", "ml-11", 400), ("u1", "ml-10", 1000), ("u2", "ml-10", 1000),
                   ("u1", "ml-13", 1000), ("u1", "ml-12", 5000)]
    assert all(isinstance(e.payload, Click) and e.payload.source.value == "browse" for e in events)
    assert (report.rows, report.events, report.skipped, report.rejected) == (6, 6, 0, 0)
    assert (log.n_users, log.n_items, len(log)) == (2, 4, 6)


def test_min_rating_skips_and_counts():
    events, report, _ = interactions(RATINGS, user_col="userId", item_col="movieId", rating_col="rating",
                                     min_rating=3.0)
    assert sorted(e.payload.product_id for e in events) == ["10", "10", "12", "13"]
    assert report.skipped == 2 and report.notes == {"skipped: rating below 3": 2}


def test_sessions_split_at_gaps_per_user():
    data = "user_id,item_id,timestamp\n" + "".join(
        f"{u},{i},{t}\n" for u, i, t in [
            ("a", 1, 0), ("a", 2, 1800), ("b", 1, 1900), ("a", 3, 3601), ("a", 4, 3700), ("b", 2, 9000),
        ]
    )
    events, _, log = interactions(data)
    sessions = [(e.payload.user_id, e.payload.session_id) for e in events]
    assert sessions == [
        ("a", "a@1970-01-01T00:00:00Z"),  # exactly 30 minutes later: same session
        ("a", "a@1970-01-01T00:00:00Z"),
        ("b", "b@1970-01-01T00:31:40Z"),
        ("a", "a@1970-01-01T01:00:01Z"),  # 30 min 1 s later: a new one
        ("a", "a@1970-01-01T01:00:01Z"),
        ("b", "b@1970-01-01T02:30:00Z"),
    ]
    assert log.sessions == 4
    events, _, log = interactions(data, session_gap_s=60.0)
    assert log.sessions == 6


def test_event_types_make_orders_with_deterministic_ids():
    data = """ts,visitor,event,item,price
2024-01-01T10:00:00Z,v1,view,i1,
2024-01-01T10:01:00Z,v1,addtocart,i1,
2024-01-01T10:02:00Z,v1,PURCHASE,i1,19.99
2024-01-01T10:03:00Z,v2,buy,i2,
2024-01-01T10:04:00Z,v2,,i2,
2024-01-01T10:05:00Z,v2,order,i3,-5
"""
    kw: dict[str, Any] = dict(user_col="visitor", item_col="item", time_col="ts", type_col="event", price_col="price")
    events, report, _ = interactions(data, **kw)
    kinds = [type(e.payload).__name__ for e in events]
    assert kinds == ["Click", "Click", "Order", "Order"]
    order = events[2].payload
    assert isinstance(order, Order)
    assert order.order_id.startswith("imp-4-") and order.user_id == "v1" and order.total == Decimal("19.99")
    assert [(ln.product_id, ln.quantity, ln.unit_price) for ln in order.lines] == [("i1", 1, Decimal("19.99"))]
    assert order.session_id == events[0].payload.session_id
    assert events[3].payload.total == Decimal("0.00")
    assert [r.describe() for r in report.first_rejects] == [
        "line 6: missing event type (column event)", "line 7: price '-5' is negative"]
    again, _, _ = interactions(data, **kw)
    assert [encode(e, stamp=False) for e in again] == [encode(e, stamp=False) for e in events]
    custom, _, _ = interactions(data, order_types=frozenset({"addtocart"}), **kw)
    # the last row is a click now, and a click has no price to refuse
    assert [type(e.payload).__name__ for e in custom] == ["Click", "Order", "Click", "Click", "Click"]


def test_interaction_rows_rejected_with_line_numbers():
    data = "user_id,item_id,timestamp\nu1,i1,100\n,i2,100\nu1,,100\nu1,i3,soon\nu1,i4\nu1,i5,200\n"
    events, report, _ = interactions(data)
    assert [e.payload.product_id for e in events] == ["i1", "i5"]
    assert [r.describe() for r in report.first_rejects] == [
        "line 3: missing user id (column user_id)",
        "line 4: missing item id (column item_id)",
        "line 5: timestamp 'soon' is neither an epoch number nor ISO 8601",
        "line 6: row has 2 fields, the header has 3",
    ]


def test_interaction_mapping_errors():
    with pytest.raises(MappingError, match=r"--item-col is not given.*Available columns: 'userId', 'movieId'"):
        interactions(RATINGS)  # userId and timestamp are found by their usual names, movieId is not
    with pytest.raises(MappingError, match=r"--user-col 'uid'.*Available columns: 'userId'"):
        interactions(RATINGS, user_col="uid", item_col="movieId")
    with pytest.raises(MappingError, match="--type-col 'event'"):
        interactions(RATINGS, user_col="userId", item_col="movieId", type_col="event")


# --- pacing -------------------------------------------------------------------------------------


def _clicks_at(*seconds: float):
    from events import ClickSource, make_event

    base = datetime(2024, 1, 1, tzinfo=UTC)
    click = Click(user_id="u", product_id="p", session_id="s", source=ClickSource.BROWSE)
    return [make_event(click, base + timedelta(seconds=s)) for s in seconds]


def test_speedup_follows_the_log_clock_and_rate_caps_it():
    clock = FakeClock()
    assert len(list(paced(_clicks_at(0, 60, 60, 600), speedup=60, clock=clock.now, sleep=clock.sleep))) == 4
    assert clock.slept == [1.0, 9.0]
    clock = FakeClock()
    list(paced(_clicks_at(0, 0, 0, 0), rate=4, clock=clock.now, sleep=clock.sleep))
    assert clock.slept == [0.25, 0.25, 0.25]
    clock = FakeClock()
    list(paced(_clicks_at(0, 1, 1, 1), speedup=1, rate=10, clock=clock.now, sleep=clock.sleep))
    assert clock.slept == [1.0, 0.1, 0.1]
    clock = FakeClock()
    list(paced(_clicks_at(0, 1000), clock=clock.now, sleep=clock.sleep))
    assert clock.slept == []


# --- the CLI, dry run (no Kafka) ----------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SHOPSTREAM_DATA_DIR", str(tmp_path / "var"))
    return CliRunner()


def test_cli_products_dry_run_reports_and_writes_rejects(cli: CliRunner, tmp_path: Path):
    path = tmp_path / "movies.csv"
    path.write_bytes(MOVIES + b",No id,Drama\n")
    result = cli.invoke(app, ["import", "products", str(path), "--id-col", "movieId", "--name-col", "title",
                              "--category-col", "genres", "--category-sep", "|", "--dry-run", "--no-progress",
                              "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["sent"], summary["rejected"], summary["rows"], summary["dry_run"]) == (3, 1, 4, True)
    rejects = Path(summary["rejects_file"])
    assert rejects.parent == tmp_path / "var" and rejects.name.startswith("import-rejects-")
    assert json.loads(rejects.read_text())["line"] == 5
    assert "rejected line 5: missing id (column movieId)" in result.stderr


def test_cli_mapping_error_exits_2_and_nothing_sendable_exits_1(cli: CliRunner, tmp_path: Path):
    path = tmp_path / "movies.csv"
    path.write_bytes(MOVIES)
    result = cli.invoke(app, ["import", "products", str(path), "--dry-run", "--no-progress"])
    assert result.exit_code == 2
    assert "Available columns: 'movieId', 'title', 'genres'" in result.stderr
    result = cli.invoke(app, ["import", "products", str(path), "--id-col", "movieId", "--name-col", "title",
                              "--brand-col", "studio", "--dry-run", "--no-progress"])
    assert result.exit_code == 2 and "--brand-col 'studio'" in result.stderr
    empty = tmp_path / "empty.csv"
    empty.write_text("id,name\n")
    result = cli.invoke(app, ["import", "products", str(empty), "--dry-run", "--no-progress"])
    assert result.exit_code == 1 and "nothing to send" in result.stderr


def test_cli_interactions_dry_run(cli: CliRunner, tmp_path: Path):
    path = tmp_path / "ratings.csv"
    path.write_text(RATINGS)
    result = cli.invoke(app, ["import", "interactions", str(path), "--user-col", "userId", "--item-col", "movieId",
                              "--rating-col", "rating", "--min-rating", "3", "--dry-run", "--no-progress"])
    assert result.exit_code == 0, result.output
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith("interactions: 4 would send (4 clicks, 0 orders; 3 sessions of 2 users")
    assert "2 skipped, 0 rejected, of 6 rows" in line


def test_crlf_line_endings_and_a_byte_order_mark():
    got, report = products(b"\xef\xbb\xbfid,name\r\n1,Mug\r\n2,\"Two\r\nlines\"\r\n3,Cup\r\n")
    assert [(p.product_id, p.name) for p in got] == [("1", "Mug"), ("2", "Two\r\nlines"), ("3", "Cup")]
    assert report.rejected == 0


def test_jsonl_interactions_with_mixed_time_formats():
    data = "\n".join(json.dumps(r) for r in [
        {"user_id": 1, "item_id": "a", "timestamp": 1_700_000_060_000},   # epoch millis, as a number
        {"user_id": 1, "item_id": "b", "timestamp": "2023-11-14T22:13:20Z"},
        {"user_id": 2, "item_id": "c", "timestamp": 1_700_000_000.5},     # epoch seconds with a fraction
    ]) + "\n"
    log = InteractionLog.load(RowSource.from_lines(io.BytesIO(data.encode()), "jsonl"), InteractionMapping(),
                              ImportReport())
    got = [(e.payload.product_id, e.event_time.isoformat()) for e in log.events()]
    assert got == [("b", "2023-11-14T22:13:20+00:00"), ("c", "2023-11-14T22:13:20.500000+00:00"),
                   ("a", "2023-11-14T22:14:20+00:00")]
