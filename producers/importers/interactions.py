"""An interaction log (user, item, time, and an event type or a rating) as `Click` and `Order` events,
replayed in timestamp order with sessions cut at gaps of inactivity.

The whole log is read first (bad rows rejected with their line numbers, low ratings skipped), held
in compact columns (about 30 bytes a row plus the distinct ids, so millions of rows fit in memory),
sorted by time (ties keep file order), and then turned into events lazily.

>>> import io
>>> from producers.importers.source import RowSource
>>> data = b"userId,movieId,rating,timestamp\\n1,10,4.0,964982703\\n1,20,2.0,964982000\\n2,10,x,964982001\\n"
>>> report = ImportReport()
>>> log = InteractionLog.load(
...     RowSource.from_lines(io.BytesIO(data), "csv"),
...     InteractionMapping(user_col="userId", item_col="movieId", rating_col="rating", time_col="timestamp"),
...     report)
>>> [(e.payload.product_id, e.event_time.isoformat()) for e in log.events()]
[('20', '2000-07-30T18:33:20+00:00'), ('10', '2000-07-30T18:45:03+00:00')]
>>> report.first_rejects[0].describe()
"line 4: rating 'x' is not a number"
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

if TYPE_CHECKING:
    import numpy as np

from events import Click, ClickSource, Event, Order, OrderLine, make_event
from producers.importers.products import IMPORT_NAMESPACE, first_present
from producers.importers.report import ImportReport
from producers.importers.source import BadRow, RowSource
from producers.importers.values import RowError, TimeUnit, from_micros, parse_float, parse_money, parse_timestamp, text

DEFAULT_ORDER_TYPES = frozenset({"purchase", "order", "buy"})
_MAX_ID = 200  # the event schema's limit on ids
_CLICK, _ORDER = 0, 1


USER_COLUMNS = ("user_id", "user", "userId", "uid", "visitorid")
ITEM_COLUMNS = ("item_id", "item", "product_id", "product", "itemId", "productId", "itemid")
TIME_COLUMNS = ("timestamp", "time", "ts", "event_time", "datetime", "date")
"""Looked for, in these orders, when --user-col / --item-col / --time-col are not given."""


@dataclass(frozen=True)
class InteractionMapping:
    """Columns and rules. `user_col` / `item_col` / `time_col` None: the first of `USER_COLUMNS` /
    `ITEM_COLUMNS` / `TIME_COLUMNS` in the file; any column may be given by its 1-based position.
    `type_col` values in `order_types` (case-insensitive) become orders, any other value a click;
    without `type_col` every row is a click (e.g. a rating). Rows whose rating is below `min_rating` are
    skipped. Consecutive events of a user more than `session_gap_s` apart start a new session."""

    user_col: str | None = None
    item_col: str | None = None
    time_col: str | None = None
    type_col: str | None = None
    rating_col: str | None = None
    price_col: str | None = None
    time_unit: TimeUnit = TimeUnit.AUTO
    min_rating: float | None = None
    order_types: frozenset[str] = DEFAULT_ORDER_TYPES
    user_prefix: str = ""
    item_prefix: str = ""
    session_gap_s: float = 30 * 60.0

    def bind(self, source: RowSource) -> InteractionMapping:
        """This mapping resolved to the file's column names; raises `MappingError` (naming the available
        columns) if a mapped column is not in the file."""
        optional = [("--type-col", self.type_col), ("--rating-col", self.rating_col), ("--price-col", self.price_col)]
        source.require([(opt, col) for opt, col in optional if col is not None])

        def used(col: str | None) -> str | None:
            return None if col is None else source.resolve(col)

        return dataclasses.replace(
            self,
            user_col=first_present(source, "--user-col", self.user_col, USER_COLUMNS),
            item_col=first_present(source, "--item-col", self.item_col, ITEM_COLUMNS),
            time_col=first_present(source, "--time-col", self.time_col, TIME_COLUMNS),
            type_col=used(self.type_col), rating_col=used(self.rating_col), price_col=used(self.price_col),
        )


class _Interner:
    """Distinct strings stored once; rows hold their int codes."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.values: list[str] = []

    def __call__(self, value: str) -> int:
        code = self.codes.get(value)
        if code is None:
            code = self.codes[value] = len(self.values)
            self.values.append(value)
        return code


def session_id(user_id: str, start_micros: int) -> str:
    """A session is named by its user and its first event's time: stable across re-imports.

    >>> session_id("u1", 964982703000000), session_id("u1", 964982703250000)
    ('u1@2000-07-30T18:45:03Z', 'u1@2000-07-30T18:45:03.250000Z')
    """
    moment = from_micros(start_micros)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{moment.microsecond:06d}" if moment.microsecond else "") + "Z"
    sid = f"{user_id}@{stamp}"
    if len(sid) > _MAX_ID:
        sid = hashlib.sha1(user_id.encode("utf-8")).hexdigest() + "@" + stamp
    return sid


class InteractionLog:
    """The accepted rows of a log, as columns. Build it with `load`; `events()` replays it in time order."""

    def __init__(self, mapping: InteractionMapping) -> None:
        self.mapping = mapping
        self.times = array("q")
        self.lines = array("q")
        self.users = array("q")
        self.items = array("q")
        self.prices = array("q")  # codes into _prices; 0 is 0.00
        self.kinds = bytearray()
        self._users = _Interner()
        self._items = _Interner()
        self._prices: list[Decimal] = [Decimal("0.00")]
        self._price_codes: dict[Decimal, int] = {Decimal("0.00"): 0}
        self.sessions = 0
        self.report: ImportReport | None = None

    def __len__(self) -> int:
        return len(self.times)

    @property
    def n_users(self) -> int:
        return len(self._users.values)

    @property
    def n_items(self) -> int:
        return len(self._items.values)

    @property
    def time_range(self) -> tuple[int, int] | None:
        """(first, last) event time in epoch microseconds, or None when empty."""
        if not self.times:
            return None
        return min(self.times), max(self.times)

    @classmethod
    def load(
        cls,
        source: RowSource,
        mapping: InteractionMapping,
        report: ImportReport,
        limit: int | None = None,
        progress: Callable[[int], object] | None = None,
    ) -> InteractionLog:
        """Read every row: accepted ones into the columns, bad ones into `report` as rejects, ratings
        below the threshold as skipped. Raises `MappingError` before reading if a column is missing.
        `progress(n)` is called every 10,000 rows with how many were read since the previous call."""
        mapping = mapping.bind(source)
        log = cls(mapping)
        log.report = report
        for item in source:
            if limit is not None and report.rows >= limit:
                break
            report.rows += 1
            if progress is not None and report.rows % 10_000 == 0:
                progress(10_000)
            if isinstance(item, BadRow):
                report.reject(item.line, item.reason, item.raw)
                continue
            try:
                log._add(item.line, item.values, report)
            except RowError as exc:
                report.reject(item.line, str(exc), item.values)
        if progress is not None:
            progress(report.rows % 10_000)
        return log

    def _id(self, values: dict[str, Any], column: str | None, prefix: str, what: str) -> str:
        raw = text(values.get(column or ""))
        if not raw:
            raise RowError(f"missing {what} (column {column})")
        value = prefix + raw
        if len(value) > _MAX_ID:
            raise RowError(f"{what} is longer than {_MAX_ID} characters")
        return value

    def _add(self, line: int, values: dict[str, Any], report: ImportReport) -> None:
        m = self.mapping
        user = self._id(values, m.user_col, m.user_prefix, "user id")
        item = self._id(values, m.item_col, m.item_prefix, "item id")
        micros = parse_timestamp(values.get(m.time_col or ""), m.time_unit)
        kind = _CLICK
        if m.type_col is not None:
            label = text(values.get(m.type_col)).lower()
            if not label:
                raise RowError(f"missing event type (column {m.type_col})")
            kind = _ORDER if label in m.order_types else _CLICK
        if m.rating_col is not None:
            rating = parse_float(values.get(m.rating_col), "rating")
            if rating is None:
                raise RowError(f"missing rating (column {m.rating_col})")
            if m.min_rating is not None and rating < m.min_rating:
                report.skip(f"rating below {m.min_rating:g}")
                return
        price_code = 0
        if kind == _ORDER and m.price_col is not None:
            price = parse_money(values.get(m.price_col))
            if price >= Decimal("1e12"):
                raise RowError(f"price {text(values.get(m.price_col))!r} is too large")
            price_code = self._price_codes.get(price, -1)
            if price_code < 0:
                price_code = self._price_codes[price] = len(self._prices)
                self._prices.append(price)
        self.times.append(micros)
        self.lines.append(line)
        self.users.append(self._users(user))
        self.items.append(self._items(item))
        self.prices.append(price_code)
        self.kinds.append(kind)

    def order(self) -> np.ndarray[Any, np.dtype[np.intp]]:
        """Row positions in replay order: by time, ties in file order (rows were read in file order)."""
        import numpy as np  # here, not at the top: `shopstream --help` should not pay for it
        times = np.frombuffer(self.times, dtype=np.int64) if self.times else np.empty(0, dtype=np.int64)
        return np.argsort(times, kind="stable")

    def count_kinds(self) -> dict[str, int]:
        orders = self.kinds.count(_ORDER)
        return {"click": len(self.kinds) - orders, "order": orders}

    def events(self) -> Iterator[Event]:
        """The events in replay order, with `event_time` = the log's time and deterministic ids."""
        m = self.mapping
        gap = int(m.session_gap_s * 1_000_000)
        # user code -> (time of the user's previous event, id of the user's current session)
        state: dict[int, tuple[int, str]] = {}
        users, items = self._users.values, self._items.values
        self.sessions = 0
        for position in self.order().tolist():
            micros = self.times[position]
            user_code = self.users[position]
            user = users[user_code]
            previous = state.get(user_code)
            if previous is None or micros - previous[0] > gap:
                session = session_id(user, micros)
                self.sessions += 1
            else:
                session = previous[1]
            state[user_code] = (micros, session)
            item, line = items[self.items[position]], self.lines[position]
            key = f"{line}|{user}|{item}|{micros}"
            try:
                if self.kinds[position] == _ORDER:
                    price = self._prices[self.prices[position]]
                    order_id = f"imp-{line}-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:10]}"
                    payload: Click | Order = Order(
                        order_id=order_id,
                        user_id=user,
                        session_id=session,
                        lines=[OrderLine(product_id=item, quantity=1, unit_price=price)],
                        total=price,
                    )
                    kind = "order"
                else:
                    payload = Click(user_id=user, product_id=item, session_id=session, source=ClickSource.BROWSE)
                    kind = "click"
            except ValidationError as exc:  # checked while loading; kept as a safety net
                if self.report is not None:
                    self.report.reject(line, f"invalid: {exc.errors(include_url=False)[0]['msg']}", {"user": user})
                continue
            event = make_event(
                payload,
                event_time=from_micros(micros),
                event_id=uuid.uuid5(IMPORT_NAMESPACE, f"{kind}|{key}"),
            )
            if self.report is not None:
                self.report.count(event)
            yield event
