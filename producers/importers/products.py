"""A catalogue file (delimited text or JSONL) as `ProductUpserted` events, one per row, in file order.

Every row either becomes one event or is rejected with its line number and the reason (missing id or
name, a price or stock that is not a number, a flag that is not 0/1, a value the event schema refuses).

Categories come from a category column (a path, or a set of labels), or from multi-hot flag columns,
one 0/1 column per label (MovieLens-100k's genres in `u.item`), or both.

>>> import io
>>> from producers.importers.source import RowSource
>>> data = b"movieId,title,genres\\n1,Toy Story (1995),Adventure|Animation|Children\\n2,,Drama\\n"
>>> source = RowSource.from_lines(io.BytesIO(data), "csv")
>>> mapping = ProductMapping(id_col="movieId", name_col="title", category_col="genres", category_sep="|",
...                          category_mode=CategoryMode.FIRST, id_prefix="ml-")
>>> report = ImportReport()
>>> [e.payload.product_id for e in product_events(source, mapping, report)], report.first_rejects[0].describe()
(['ml-1'], 'line 3: missing name (column title)')
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from events import Event, ProductUpserted, make_event
from producers.importers.layout import LayoutError, select_columns
from producers.importers.report import ImportReport
from producers.importers.source import BadRow, MappingError, RowSource
from producers.importers.values import RowError, parse_count, parse_money, text

# Event ids are uuid5 in this namespace over the row's content: the same file imported with the
# same event time gives the same events, byte for byte.
IMPORT_NAMESPACE = uuid.UUID("6f1c1a52-3d1e-5b6a-9a51-1d2f7c0e4b21")

MAX_DESCRIPTION = 20_000  # the event schema's limit; longer descriptions are cut (and counted)


class CategoryMode(StrEnum):
    """`path`: the category value is a hierarchy, split on the separator into the category path
    (top level first; "Home > Kitchen > Mugs"). `first`: the value is a set of labels (a movie's genres);
    only the first label becomes a one-level category path, and all the labels are kept, joined by
    ", ", in the product attribute "categories" so that they remain searchable."""

    PATH = "path"
    FIRST = "first"


ID_COLUMNS = ("id", "product_id", "item_id", "productId", "itemId", "sku")
"""Looked for, in this order, when --id-col is not given."""
NAME_COLUMNS = ("name", "title", "product_name", "productName")
"""Looked for, in this order, when --name-col is not given."""
FLAGS_ON = frozenset({"1", "true", "t", "yes", "y"})
FLAGS_OFF = frozenset({"0", "false", "f", "no", "n", ""})


def first_present(source: RowSource, option: str, given: str | None, aliases: Sequence[str]) -> str:
    """The column a required option maps to: the one given (a name or a 1-based position), else the
    first of `aliases` that the file has. Raises `MappingError` naming what was tried."""
    if given is not None:
        source.require([(option, given)])
        found = source.resolve(given)
    else:
        found = next((a for a in aliases if source.has(a)), None)
        if found is None:
            tried = ", ".join(repr(a) for a in aliases)
            raise MappingError(f"{option} is not given and the file has none of the usual columns ({tried}): "
                               f"pass {option}. {source.columns_hint()}")
    assert found is not None
    return found


@dataclass(frozen=True)
class ProductMapping:
    """Which column feeds which field. `id_col` / `name_col` None: the first of `ID_COLUMNS` /
    `NAME_COLUMNS` in the file. Optional columns that the user did not name explicitly (`explicit`) are
    used when present and otherwise left empty; explicitly named ones must exist. Any column may be
    given by its 1-based position. `flag_cols`: 0/1 columns, one per label (names, positions, `A..B`
    ranges); the labels set on a row are its category unless the category column gives one, and all of
    them go, joined by ", ", into the attribute `flag_attr`."""

    id_col: str | None = None
    name_col: str | None = None
    description_col: str | None = "description"
    category_col: str | None = "category"
    brand_col: str | None = "brand"
    price_col: str | None = "price"
    stock_col: str | None = None
    attribute_cols: tuple[str, ...] = ()
    category_sep: str = ">"
    category_mode: CategoryMode = CategoryMode.PATH
    default_stock: int = 100
    id_prefix: str = ""
    flag_cols: str = ""
    flag_attr: str = "categories"
    explicit: frozenset[str] = field(default_factory=frozenset)
    flag_columns: tuple[str, ...] = ()
    """The resolved `flag_cols` (set by `bind`)."""

    def options(self) -> dict[str, str | None]:
        """Option name -> column, for every field."""
        return {
            "--id-col": self.id_col,
            "--name-col": self.name_col,
            "--description-col": self.description_col,
            "--category-col": self.category_col,
            "--brand-col": self.brand_col,
            "--price-col": self.price_col,
            "--stock-col": self.stock_col,
        }

    def bind(self, source: RowSource) -> ProductMapping:
        """This mapping checked against the file's columns and resolved to them: every column a name of
        the file, optional columns the file does not have set to None (left empty). Raises
        `MappingError` naming the available columns."""
        id_col = first_present(source, "--id-col", self.id_col, ID_COLUMNS)
        name_col = first_present(source, "--name-col", self.name_col, NAME_COLUMNS)
        required = {"--stock-col"} | self.explicit
        wanted: list[tuple[str, str]] = [
            (opt, col) for opt, col in self.options().items() if col is not None and opt in required
        ]
        wanted += [("--attr-col", col) for col in self.attribute_cols]
        source.require(wanted)
        flags: tuple[str, ...] = ()
        if self.flag_cols:
            try:
                flags = select_columns(self.flag_cols, source.columns, "--flag-cols")
            except LayoutError as exc:
                raise MappingError(str(exc)) from None

        def used(col: str | None) -> str | None:
            return None if col is None else source.resolve(col)

        return dataclasses.replace(
            self, id_col=id_col, name_col=name_col,
            description_col=used(self.description_col), category_col=used(self.category_col),
            brand_col=used(self.brand_col), price_col=used(self.price_col), stock_col=used(self.stock_col),
            attribute_cols=tuple(source.resolve(c) or c for c in self.attribute_cols), flag_columns=flags,
        )


def flag_labels(values: dict[str, Any], columns: Sequence[str]) -> list[str]:
    """The flag columns set on a row (1/0, true/false, yes/no; empty is 0), in column order.

    >>> flag_labels({"Action": "0", "Comedy": "1", "Drama": 1}, ["Action", "Comedy", "Drama"])
    ['Comedy', 'Drama']
    """
    labels = []
    for column in columns:
        raw = text(values.get(column))
        flag = raw.lower()
        if flag in FLAGS_ON:
            labels.append(column)
        elif flag not in FLAGS_OFF:
            raise RowError(f"flag column {column!r}: {raw!r} is not 0 or 1")
    return labels


def split_category(value: Any, sep: str, mode: CategoryMode) -> tuple[list[str], list[str]]:
    """(category path, all labels). A JSON list is taken as already split.

    >>> split_category("Home > Kitchen >  > Mugs", ">", CategoryMode.PATH)
    (['Home', 'Kitchen', 'Mugs'], ['Home', 'Kitchen', 'Mugs'])
    >>> split_category("Comedy|Romance", "|", CategoryMode.FIRST)
    (['Comedy'], ['Comedy', 'Romance'])
    """
    parts = [text(v) for v in value] if isinstance(value, list) else text(value).split(sep) if sep else [text(value)]
    labels = [p.strip() for p in parts if p.strip()]
    if mode is CategoryMode.FIRST:
        return labels[:1], labels
    return labels, labels


def _cell(values: dict[str, Any], column: str | None) -> Any:
    return None if column is None else values.get(column)


def _validation_reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:3]:
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}" if loc else str(err["msg"]))
    return "invalid: " + "; ".join(parts)


def product_events(
    source: RowSource,
    mapping: ProductMapping,
    report: ImportReport,
    event_time: datetime | None = None,
    limit: int | None = None,
) -> Iterator[Event]:
    """Yield one `ProductUpserted` event per good row; reject the others into `report`.

    All events carry `event_time` (default: now, once), so that a later re-import of an updated
    catalogue wins over this one in the consumers' last-writer-wins upserts."""
    mapping = mapping.bind(source)
    at = event_time or datetime.now(UTC)
    stamp = at.isoformat()
    id_col, name_col = mapping.id_col, mapping.name_col
    assert id_col is not None and name_col is not None
    description_col, category_col = mapping.description_col, mapping.category_col
    brand_col, price_col, stock_col = mapping.brand_col, mapping.price_col, mapping.stock_col
    flag_columns, flag_attr = mapping.flag_columns, mapping.flag_attr
    for item in source:
        if limit is not None and report.rows >= limit:
            break
        report.rows += 1
        if isinstance(item, BadRow):
            report.reject(item.line, item.reason, item.raw)
            continue
        values = item.values
        try:
            product_id = text(values.get(id_col))
            if not product_id:
                raise RowError(f"missing id (column {id_col})")
            name = text(values.get(name_col))
            if not name:
                raise RowError(f"missing name (column {name_col})")
            description = text(_cell(values, description_col))
            if len(description) > MAX_DESCRIPTION:
                description = description[:MAX_DESCRIPTION]
                report.note("descriptions cut to 20000 characters")
            path, labels = split_category(_cell(values, category_col), mapping.category_sep, mapping.category_mode)
            attributes = {col: text(values.get(col)) for col in mapping.attribute_cols if text(values.get(col))}
            if mapping.category_mode is CategoryMode.FIRST and len(labels) > 1:
                attributes["categories"] = ", ".join(labels)
            if flag_columns:
                flagged = flag_labels(values, flag_columns)
                if not path:  # the flags are the categories, as --category-mode first makes them
                    path = flagged[:1]
                    if len(flagged) > 1:
                        attributes[flag_attr] = ", ".join(flagged)
                elif flagged:
                    known = attributes.get(flag_attr, "").split(", ") if attributes.get(flag_attr) else []
                    attributes[flag_attr] = ", ".join(dict.fromkeys([*known, *flagged]))
            payload = ProductUpserted(
                product_id=mapping.id_prefix + product_id,
                name=name,
                description=description,
                category_path=path,
                brand=text(_cell(values, brand_col)),
                price=parse_money(_cell(values, price_col)),
                attributes=attributes,
                stock=parse_count(_cell(values, stock_col), mapping.default_stock),
            )
        except RowError as exc:
            report.reject(item.line, str(exc), values)
            continue
        except ValidationError as exc:
            report.reject(item.line, _validation_reason(exc), values)
            continue
        digest = hashlib.sha1(payload.model_dump_json().encode("utf-8")).hexdigest()
        event_id = uuid.uuid5(IMPORT_NAMESPACE, f"product|{item.line}|{payload.product_id}|{stamp}|{digest}")
        event = make_event(payload, event_time=at, event_id=event_id)
        report.count(event)
        yield event
