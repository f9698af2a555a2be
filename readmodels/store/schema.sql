-- The shop's record: what was produced, exactly once. Money is stored in integer cents.
CREATE TABLE IF NOT EXISTS products (
    product_id    TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    category_path TEXT NOT NULL,          -- JSON array, top level first
    category      TEXT NOT NULL,          -- leaf category, for filters and facets
    brand         TEXT NOT NULL,
    price_cents   INTEGER NOT NULL,
    attributes    TEXT NOT NULL,          -- JSON object
    removed       INTEGER NOT NULL DEFAULT 0,
    created_at    REAL NOT NULL,          -- event time, epoch seconds
    updated_at    REAL NOT NULL,
    last_event_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS products_category ON products (category, price_cents);
CREATE INDEX IF NOT EXISTS products_brand ON products (brand);
CREATE INDEX IF NOT EXISTS products_updated ON products (updated_at);

-- Stock = the stock of the latest product event (by event time) minus the units ordered after it.
-- Kept in that form so that the result does not depend on how the products and orders topics
-- interleave: any processing order of the same events gives the same rows.
CREATE TABLE IF NOT EXISTS inventory (
    product_id TEXT PRIMARY KEY,
    base_stock INTEGER NOT NULL,
    base_time  REAL NOT NULL,            -- event time of the product event that set base_stock
    sold_since INTEGER NOT NULL DEFAULT 0,
    stock      INTEGER GENERATED ALWAYS AS (max(base_stock - sold_since, 0)) VIRTUAL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS users (
    user_id     TEXT PRIMARY KEY,
    first_seen  REAL NOT NULL,
    last_seen   REAL NOT NULL,
    clicks      INTEGER NOT NULL DEFAULT 0,
    orders      INTEGER NOT NULL DEFAULT 0,
    spent_cents INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS clicks (
    event_id     TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    product_id   TEXT NOT NULL,
    session_id   TEXT NOT NULL,
    source       TEXT NOT NULL,
    position     INTEGER,
    query        TEXT,
    event_time   REAL NOT NULL,
    produce_time REAL
);
CREATE INDEX IF NOT EXISTS clicks_user_time ON clicks (user_id, event_time);
CREATE INDEX IF NOT EXISTS clicks_product ON clicks (product_id);

CREATE TABLE IF NOT EXISTS orders (
    order_id     TEXT PRIMARY KEY,
    event_id     TEXT NOT NULL UNIQUE,
    user_id      TEXT NOT NULL,
    session_id   TEXT,
    total_cents  INTEGER NOT NULL,
    line_count   INTEGER NOT NULL,
    event_time   REAL NOT NULL,
    produce_time REAL
);
CREATE INDEX IF NOT EXISTS orders_user_time ON orders (user_id, event_time);

CREATE TABLE IF NOT EXISTS order_lines (
    order_id         TEXT NOT NULL REFERENCES orders (order_id),
    line_no          INTEGER NOT NULL,
    product_id       TEXT NOT NULL,
    quantity         INTEGER NOT NULL,
    unit_price_cents INTEGER NOT NULL,
    PRIMARY KEY (order_id, line_no)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS order_lines_product ON order_lines (product_id);

-- Every order id counted, with a digest of its content (readmodels/orders.py): the same order
-- again is a duplicate, an id reused for another order is rejected.
CREATE TABLE IF NOT EXISTS order_ids (
    order_id    TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL
) WITHOUT ROWID;
