"""Files as they come: headerless files (`--columns`, `--no-header` and positions), any delimiter
(given or detected where that is safe), multi-hot flag columns as a category and attributes, and bad
rows still reported with their line numbers. No Kafka: sources, mappings and the CLI's dry run."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from producers.importers import (
    ImportReport,
    InteractionLog,
    InteractionMapping,
    MappingError,
    ProductMapping,
    RowSource,
)
from producers.importers.layout import LayoutError, parse_delimiter, select_columns, sniff_delimiter
from producers.importers.products import product_events
from shopstream.cli import app

GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
          "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"]
ITEM_COLUMNS = ["id", "name", "released", "video", "url", *GENRES]


def u_item_line(movie_id: int, title: str, genres: set[str]) -> str:
    """A line as MovieLens-100k's u.item has it: '|'-separated, 19 genre flags, no header."""
    flags = "|".join("1" if g in genres else "0" for g in GENRES)
    return f"{movie_id}|{title}|01-Jan-1995||http://us.imdb.com/M/title-exact?x|{flags}\n"


U_ITEM = (
    u_item_line(1, "Toy Story (1995)", {"Animation", "Children's", "Comedy"})
    + u_item_line(2, "GoldenEye (1995)", {"Action", "Adventure", "Thriller"})
    + u_item_line(3, "Four Rooms (1995)", {"Thriller"})
    + u_item_line(4, "Get Shorty (1995)", set()).replace("|0|0|0\n", "|0|0|2\n")  # a flag that is not 0/1
    + u_item_line(5, "Copycat (1995)", {"Crime", "Drama", "Thriller"}).replace("|http", "")  # a field short
)


def rows(data: str, **kw) -> RowSource:
    return RowSource.from_lines(io.BytesIO(data.encode("utf-8")), "csv", **kw)


# --- delimiters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "expected"), [
    ("userId,movieId,rating\n1,2,3.5\n1,3,4.0\n", ","),
    ("user\titem\trating\n1\t2\t3.5\n", "\t"),
    ("id;name;price\n1;Mug;2,50\n2;Cup;1,75\n", ";"),                    # decimal commas do not confuse it
    ("1|Toy Story (1995)|0|1\n2|Heat, The (1995)|1|0\n", "|"),            # a comma inside one name only
    ("1::1193::5::978300760\n1::661::3::978302109\n", "::"),             # MovieLens-1M
    ('id,name\n1,"Mug; blue | large"\n2,"Cup; red | small"\n', ","),      # quoted fields hide the others
    ("id\n1\n2\n", ","),                                                  # one column: nothing to detect
])
def test_the_delimiter_is_detected(data: str, expected: str) -> None:
    assert rows(data).delimiter == expected


def test_an_ambiguous_delimiter_is_not_guessed() -> None:
    with pytest.raises(MappingError, match=r"cannot tell the delimiter: ',' and '\|' both.*pass --delimiter"):
        rows("a,b|c\nd,e|f\n")
    assert rows("a,b|c\nd,e|f\n", delimiter="|").columns == ["a,b", "c"]
    assert sniff_delimiter(["a,b|c", "d,e|f"], preferred=",") == ","  # e.g. the file is a .csv


def test_delimiters_as_typed() -> None:
    assert [parse_delimiter(t) for t in ("tab", "\\t", "\t", "semicolon", "pipe", "::", "comma")] == [
        "\t", "\t", "\t", ";", "|", "::", ","]
    for bad in ("", '"', "a\nb"):
        with pytest.raises(LayoutError):
            parse_delimiter(bad)


def test_a_long_delimiter_splits_lines_and_bad_rows_keep_their_line_numbers() -> None:
    data = "1::10::5::978300760\n\n1::11::x\n2::12::4::978300761\n"
    log = InteractionLog.load(rows(data, columns=["user", "item", "rating", "time"]),
                              InteractionMapping(rating_col="rating"), report := ImportReport())
    assert [(e.payload.user_id, e.payload.product_id) for e in log.events()] == [("1", "10"), ("2", "12")]
    assert [r.describe() for r in report.first_rejects] == ["line 3: row has 3 fields, --columns names 4"]


# --- headerless files ---------------------------------------------------------------------------


def test_columns_name_a_headerless_file_and_the_usual_names_map_themselves() -> None:
    data = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\tone\t878887116\n"
    source = rows(data, columns=["user", "item", "rating", "time"])
    assert (source.delimiter, source.columns, source.header_lines) == ("\t", ["user", "item", "rating", "time"], 0)
    report = ImportReport()
    log = InteractionLog.load(source, InteractionMapping(rating_col="rating"), report)
    got = [(e.payload.user_id, e.payload.product_id, int(e.event_time.timestamp())) for e in log.events()]
    assert got == [("196", "242", 881250949), ("186", "302", 891717742)]
    assert [r.describe() for r in report.first_rejects] == ["line 3: rating 'one' is not a number"]


def test_without_a_header_columns_go_by_position() -> None:
    data = "196\t242\t3\t881250949\n186\t302\n"
    source = rows(data, header=False)
    assert source.columns == ["1", "2", "3", "4"]
    report = ImportReport()
    log = InteractionLog.load(source, InteractionMapping(user_col="1", item_col="2", time_col="4"), report)
    assert [e.payload.product_id for e in log.events()] == ["242"]
    assert [r.describe() for r in report.first_rejects] == ["line 2: row has 2 fields, the first row has 4"]
    with pytest.raises(MappingError, match="no header, so its columns are numbered 1 to 4"):
        InteractionLog.load(rows(data, header=False), InteractionMapping(user_col="1", item_col="2"), ImportReport())


def test_positions_work_with_a_header_too_and_columns_can_replace_it() -> None:
    data = "a,b,c\n1,Mug,x\n"
    (event,) = product_events(rows(data), ProductMapping(id_col="1", name_col="2"), ImportReport())
    assert (event.payload.product_id, event.payload.name) == ("1", "Mug")
    source = rows(data, columns=["id", "name", "colour"], header=True)  # the file's header is skipped
    (event,) = product_events(source, ProductMapping(attribute_cols=("colour",)), ImportReport())
    assert event.payload.attributes == {"colour": "x"}


def test_jsonl_has_no_header_options() -> None:
    with pytest.raises(MappingError, match="for delimited text, not JSON Lines"):
        RowSource.from_lines(io.BytesIO(b'{"a": 1}\n'), "jsonl", columns=["a"])


# --- multi-hot flags ----------------------------------------------------------------------------


def test_flag_columns_become_the_category_and_an_attribute() -> None:
    source = rows(U_ITEM, columns=ITEM_COLUMNS)
    assert source.delimiter == "|"
    report = ImportReport()
    mapping = ProductMapping(flag_cols="unknown..Western", id_prefix="ml-")
    got = {e.payload.product_id: e.payload for e in product_events(source, mapping, report)}
    assert list(got) == ["ml-1", "ml-2", "ml-3"]
    assert got["ml-1"].category_path == ["Animation"]
    assert got["ml-1"].attributes == {"categories": "Animation, Children's, Comedy"}
    assert got["ml-2"].attributes == {"categories": "Action, Adventure, Thriller"}
    assert got["ml-3"].category_path == ["Thriller"] and got["ml-3"].attributes == {}  # one label: the category
    assert [r.describe() for r in report.first_rejects] == [
        "line 4: flag column 'Western': '2' is not 0 or 1",
        "line 5: row has 23 fields, --columns names 24",
    ]


def test_flags_by_position_and_beside_a_category_column() -> None:
    positional = ProductMapping(id_col="1", name_col="2", flag_cols="6..24", flag_attr="genres")
    got = [e.payload for e in product_events(rows(U_ITEM, header=False), positional, ImportReport())]
    assert got[0].category_path == ["9"] and got[0].attributes == {"genres": "9, 10, 11"}  # positions as labels
    data = "id,name,category,Action,Comedy\n1,Heat,Crime,1,0\n2,Up,,0,1\n3,Big,Drama,0,0\n"
    got = [e.payload for e in product_events(rows(data), ProductMapping(flag_cols="Action,Comedy"), ImportReport())]
    assert [(p.category_path, p.attributes) for p in got] == [
        (["Crime"], {"categories": "Action"}), (["Comedy"], {}), (["Drama"], {})]


def test_flag_column_lists_are_checked() -> None:
    columns = ["id", "name", "Action", "Comedy"]
    assert select_columns("Comedy, 3", columns, "--flag-cols") == ("Comedy", "Action")
    for spec, message in [("Horror", "'Horror' is not a column"), ("Comedy..Action", "comes after"),
                          ("Action..Western", "both ends of a range"), (" , ", "names no column")]:
        with pytest.raises(LayoutError, match=message):
            select_columns(spec, columns, "--flag-cols")
    with pytest.raises(MappingError, match="--flag-cols 'Horror' is not a column of the file"):
        list(product_events(rows("id,name,Action\n1,a,1\n"), ProductMapping(flag_cols="Horror"), ImportReport()))


# --- the CLI ------------------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SHOPSTREAM_DATA_DIR", str(tmp_path / "var"))
    return CliRunner()


def _summary(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_cli_headerless_tab_separated_interactions(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "u.data"
    path.write_text("196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\n")
    result = cli.invoke(app, ["import", "interactions", str(path), "--columns", "user,item,rating,time",
                              "--dry-run", "--json"])
    summary = _summary(result)
    assert (summary["sent"], summary["rejected"], summary["rows"]) == (2, 1, 3)
    assert "u.data: delimiter tab, columns named by --columns" in result.stderr
    assert "rejected line 3: row has 3 fields, --columns names 4" in result.stderr
    result = cli.invoke(app, ["import", "interactions", str(path), "--no-header", "--user-col", "1",
                              "--item-col", "2", "--time-col", "4", "--dry-run", "--json", "--no-progress"])
    assert _summary(result)["sent"] == 2


def test_cli_products_with_flags_and_delimiter_errors(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "u.item"
    path.write_text(U_ITEM)
    result = cli.invoke(app, ["import", "products", str(path), "--columns", ",".join(ITEM_COLUMNS),
                              "--flag-cols", "unknown..Western", "--dry-run", "--json", "--no-progress"])
    assert (_summary(result)["sent"], _summary(result)["rejected"]) == (3, 2)
    result = cli.invoke(app, ["import", "products", str(path), "--no-header", "--flag-cols", "Action",
                              "--dry-run", "--no-progress"])
    assert result.exit_code == 2 and "numbered 1 to 24" in result.stderr
    ambiguous = tmp_path / "odd.txt"
    ambiguous.write_text("a,b|c\nd,e|f\n")
    result = cli.invoke(app, ["import", "products", str(ambiguous), "--dry-run", "--no-progress"])
    assert result.exit_code == 2 and "pass --delimiter" in result.stderr
    result = cli.invoke(app, ["import", "products", str(ambiguous), "--delimiter", "", "--dry-run"])
    assert result.exit_code == 2 and "the delimiter is empty" in result.stderr
    result = cli.invoke(app, ["import", "products", str(ambiguous), "--columns", "id,,name", "--dry-run"])
    assert result.exit_code == 2 and "every column needs a name" in result.stderr
