"""Bring your own catalogue and replay real logs: files in, events out (no Kafka in here).

- `source`: CSV / JSON Lines files as numbered rows, unreadable rows as `BadRow`s, column checks.
- `products`: a catalogue as `ProductUpserted` events (`ProductMapping`, `CategoryMode`, `product_events`).
- `interactions`: a user / item / time log as `Click` and `Order` events in time order, sessionised
  (`InteractionMapping`, `InteractionLog`).
- `pacing`: replay at a speed-up of the log's clock, under a rate cap.
- `report`: counts, and every rejected row with its line number and reason.

The `shopstream import` commands wire these to `infra.producer.EventSink` and `producers.publish.publish`.
"""

from producers.importers.interactions import DEFAULT_ORDER_TYPES, InteractionLog, InteractionMapping, session_id
from producers.importers.pacing import paced
from producers.importers.products import CategoryMode, ProductMapping, product_events, split_category
from producers.importers.report import ImportReport, Reject
from producers.importers.source import BadRow, FileFormat, MappingError, Row, RowSource, count_lines, detect_format
from producers.importers.values import RowError, TimeUnit, parse_money, parse_timestamp

__all__ = [
    "DEFAULT_ORDER_TYPES",
    "BadRow",
    "CategoryMode",
    "FileFormat",
    "ImportReport",
    "InteractionLog",
    "InteractionMapping",
    "MappingError",
    "ProductMapping",
    "Reject",
    "Row",
    "RowError",
    "RowSource",
    "TimeUnit",
    "count_lines",
    "detect_format",
    "paced",
    "parse_money",
    "parse_timestamp",
    "product_events",
    "session_id",
    "split_category",
]
