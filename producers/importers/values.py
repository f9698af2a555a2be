"""Parsing one cell: text, money, counts and timestamps, each with a clear reason when it fails.

>>> parse_money("$1,299.5"), parse_money(""), parse_money(3)
(Decimal('1299.50'), Decimal('0.00'), Decimal('3.00'))
>>> parse_timestamp("964982703"), parse_timestamp("964982703000"), parse_timestamp("2000-07-30T18:45:03Z")
(964982703000000, 964982703000000, 964982703000000)
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

CENT = Decimal("0.01")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_CURRENCY = "$€£¥"


class RowError(ValueError):
    """A cell that cannot be used: the row is rejected with this reason."""


def text(value: Any) -> str:
    """A cell as stripped text: None is empty, numbers and booleans as written, lists/objects as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _decimal(value: Any, what: str) -> Decimal | None:
    """None for an empty cell; RowError for anything that is not a finite number."""
    if isinstance(value, bool):
        raise RowError(f"{what} {value!r} is not a number")
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    else:
        raw = text(value)
        if not raw:
            return None
        cleaned = raw.strip(_CURRENCY + " ").replace(" ", "")
        if _THOUSANDS.fullmatch(cleaned):
            cleaned = cleaned.replace(",", "")
        try:
            number = Decimal(cleaned)
        except InvalidOperation:
            raise RowError(f"{what} {raw!r} is not a number") from None
    if not number.is_finite():
        raise RowError(f"{what} {value!r} is not a finite number")
    return number


def parse_money(value: Any, what: str = "price") -> Decimal:
    """A non-negative amount rounded to cents; an empty cell is 0."""
    number = _decimal(value, what)
    if number is None:
        return Decimal(0).quantize(CENT)
    if number < 0:
        raise RowError(f"{what} {text(value)!r} is negative")
    return number.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_count(value: Any, default: int, what: str = "stock") -> int:
    """A non-negative whole number ("12" or "12.0"); an empty cell is `default`."""
    number = _decimal(value, what)
    if number is None:
        return default
    if number != number.to_integral_value():
        raise RowError(f"{what} {text(value)!r} is not a whole number")
    if number < 0:
        raise RowError(f"{what} {text(value)!r} is negative")
    return int(number)


def parse_float(value: Any, what: str) -> float | None:
    """A finite number; None for an empty cell."""
    if type(value) is str:
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return number
    parsed = _decimal(value, what)
    return None if parsed is None else float(parsed)


class TimeUnit(StrEnum):
    """How to read a timestamp column. `auto`: a number is epoch seconds, millis, micros or nanos by its
    magnitude (below 1e11: seconds, i.e. until the year 5138; below 1e14: millis; below 1e17: micros;
    else nanos), anything else is ISO 8601."""

    AUTO = "auto"
    SECONDS = "s"
    MILLIS = "ms"
    MICROS = "us"
    NANOS = "ns"
    ISO = "iso"


_SCALE_TO_MICROS = {
    TimeUnit.SECONDS: Decimal(1_000_000),
    TimeUnit.MILLIS: Decimal(1_000),
    TimeUnit.MICROS: Decimal(1),
    TimeUnit.NANOS: Decimal("0.001"),
}


def epoch_unit(number: Decimal) -> TimeUnit:
    """The unit of an epoch number, guessed by its magnitude.

    >>> [epoch_unit(Decimal(x)).value for x in (964982703, 964982703123, 964982703123456, 964982703123456789)]
    ['s', 'ms', 'us', 'ns']
    """
    size = abs(number)
    if size < Decimal("1e11"):
        return TimeUnit.SECONDS
    if size < Decimal("1e14"):
        return TimeUnit.MILLIS
    if size < Decimal("1e17"):
        return TimeUnit.MICROS
    return TimeUnit.NANOS


def parse_timestamp(value: Any, unit: TimeUnit = TimeUnit.AUTO) -> int:
    """Microseconds since the epoch (UTC). ISO 8601 without a zone is taken as UTC."""
    if type(value) is str and value.isdigit() and unit is TimeUnit.AUTO and len(value) < 19:
        return _int_epoch_micros(int(value))  # the common case, fast: whole epoch numbers
    raw = text(value)
    if not raw:
        raise RowError("missing timestamp")
    if unit is not TimeUnit.ISO and (isinstance(value, int | float) or _NUMBER.fullmatch(raw)):
        number = _decimal(value, "timestamp")
        assert number is not None
        scale = _SCALE_TO_MICROS[epoch_unit(number) if unit is TimeUnit.AUTO else unit]
        micros = int((number * scale).to_integral_value(rounding=ROUND_HALF_UP))
    elif unit in (TimeUnit.AUTO, TimeUnit.ISO):
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise RowError(f"timestamp {raw!r} is neither an epoch number nor ISO 8601") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        delta = moment - EPOCH
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    else:
        raise RowError(f"timestamp {raw!r} is not an epoch number in {unit.value}")
    if not _MIN_MICROS <= micros <= _MAX_MICROS:
        raise RowError(f"timestamp {raw!r} is out of range")
    return micros


def _int_epoch_micros(number: int) -> int:
    size = abs(number)
    if size < 100_000_000_000:
        micros = number * 1_000_000
    elif size < 100_000_000_000_000:
        micros = number * 1_000
    elif size < 100_000_000_000_000_000:
        micros = number
    else:
        micros = (number + 500) // 1_000
    if not _MIN_MICROS <= micros <= _MAX_MICROS:
        raise RowError(f"timestamp {number} is out of range")
    return micros


_MIN_MICROS = -62_135_596_800_000_000 + 86_400_000_000  # year 1, plus a day of margin for time zones
_MAX_MICROS = 253_402_300_799_000_000 - 86_400_000_000  # year 9999


def from_micros(micros: int) -> datetime:
    """The UTC datetime of an epoch in microseconds, exactly (no float rounding)."""
    return EPOCH + timedelta(microseconds=micros)
