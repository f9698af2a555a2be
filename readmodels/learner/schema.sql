-- The `learner` group's SQLite file. `log` is the ordered record of everything the model learns
-- from (item changes and interactions); replaying it from any seq gives the same model, which is
-- how a restart resumes and how the API catches up from a snapshot.
CREATE TABLE IF NOT EXISTS log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   TEXT NOT NULL,
    line_no    INTEGER NOT NULL,          -- order line, or 0
    kind       TEXT NOT NULL,             -- item | remove | click | order
    user_id    TEXT,
    item_id    TEXT NOT NULL,
    weight     REAL,
    ts         REAL NOT NULL,             -- event time, seconds
    session_id TEXT,
    body       TEXT,                      -- item: the product event payload as JSON
    vector     BLOB,                      -- item: its float32 vector (readmodels/learner/convert.py)
    produced_at REAL,
    applied_at REAL NOT NULL,
    UNIQUE (event_id, line_no)
);
CREATE INDEX IF NOT EXISTS log_user ON log (user_id, seq) WHERE user_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS items (
    product_id TEXT PRIMARY KEY,
    updated_at REAL NOT NULL,
    removed    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Prequential evaluation, as of the log entry `seq` (test-then-train: each entry evaluated once).
CREATE TABLE IF NOT EXISTS prequential (
    model      TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL,
    evaluated  INTEGER NOT NULL,
    hits       INTEGER NOT NULL,
    ndcg_sum   REAL NOT NULL,
    window_hit_rate REAL,
    window_ndcg     REAL,
    updated_at REAL NOT NULL
) WITHOUT ROWID;

-- Every order id learned from, with a digest of its content (readmodels/orders.py).
CREATE TABLE IF NOT EXISTS order_ids (
    order_id    TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL
) WITHOUT ROWID;
