-- phishgate store, SQLite schema v2: the shared classifier model and user
-- reports. See the crate docs for the model.

-- The organisation's learned classifier, one row per model name. `version`
-- is the compare-and-swap counter of `model_put` (1 when created, +1 on
-- every replacement); `bytes` are opaque to the store, checked against
-- `sha256` on every read.
CREATE TABLE classifier_models (
    name       TEXT    PRIMARY KEY,
    version    INTEGER NOT NULL,
    bytes      BLOB    NOT NULL,
    sha256     TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL,
    updated_by TEXT    NOT NULL
);

-- Messages staff reported as phishing, waiting for the IT centre to
-- confirm or dismiss them. `reporter` is the lowercased address of the
-- reporting user; `sha256` is of `raw`, exactly as reported.
CREATE TABLE reports (
    id             TEXT    PRIMARY KEY,
    received_ms    INTEGER NOT NULL,
    reporter       TEXT    NOT NULL,
    note           TEXT,
    sha256         TEXT    NOT NULL,
    raw            BLOB    NOT NULL,
    subject        TEXT    NOT NULL,
    sender         TEXT    NOT NULL,
    message_id     TEXT,
    status         TEXT    NOT NULL CHECK (status IN ('new', 'confirmed', 'dismissed')),
    decided_by     TEXT,
    decided_ms     INTEGER,
    verdict_action TEXT,
    score          REAL
);
-- Page order of the unfiltered list.
CREATE INDEX reports_time      ON reports (received_ms, id);
-- The status filter in page order, and the purge of decided reports.
CREATE INDEX reports_by_status ON reports (status, received_ms, id);
-- One row per message and reporter (a second press of the report button
-- finds the first row); also the lookup by message for the reporter count.
CREATE UNIQUE INDEX reports_by_sha256 ON reports (sha256, reporter);
