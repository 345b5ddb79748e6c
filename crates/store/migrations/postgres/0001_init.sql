-- phishgate store, PostgreSQL schema v1. See the crate docs for the model.

-- History: one row per scanned message. `seq` is an identity column; `id` is the caller's id.
-- Filter keys are lowercased copies; ids and keys use the "C" collation
-- (bytewise order, as in SQLite and the in-memory backend);
-- list-valued fields live in `detail` (JSON) and, where they are filters,
-- in side tables that repeat (received_at, id) so a filter walks its own
-- index in page order.
CREATE TABLE history (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT COLLATE "C" NOT NULL UNIQUE,
    received_at   BIGINT  NOT NULL,
    node          TEXT    NOT NULL,
    direction     TEXT    NOT NULL,
    interface     TEXT    NOT NULL,
    queue_id      TEXT,
    mail_from     TEXT    NOT NULL,
    sender        TEXT COLLATE "C" NOT NULL,
    sender_domain TEXT COLLATE "C" NOT NULL,
    from_header   TEXT,
    subject       TEXT    NOT NULL,
    subject_words TEXT    NOT NULL,
    size          BIGINT  NOT NULL,
    score         DOUBLE PRECISION NOT NULL,
    action        TEXT COLLATE "C" NOT NULL,
    fingerprint   TEXT    NOT NULL,
    message_id    TEXT,
    quarantine_id TEXT,
    detail        TEXT    NOT NULL
);
CREATE INDEX history_time             ON history (received_at, id);
CREATE INDEX history_by_sender        ON history (sender, received_at, id);
CREATE INDEX history_by_sender_domain ON history (sender_domain, received_at, id);
CREATE INDEX history_by_action        ON history (action, received_at, id);

CREATE TABLE history_rcpt (
    seq         BIGINT  NOT NULL,
    address     TEXT COLLATE "C" NOT NULL,
    received_at BIGINT  NOT NULL,
    id          TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (seq, address)
);
CREATE INDEX history_rcpt_key ON history_rcpt (address, received_at, id);

CREATE TABLE history_symbol (
    seq         BIGINT  NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    received_at BIGINT  NOT NULL,
    id          TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (seq, name)
);
CREATE INDEX history_symbol_key ON history_symbol (name, received_at, id);

-- Link domains and the sender's domain, for the `domain` filter.
CREATE TABLE history_domain (
    seq         BIGINT  NOT NULL,
    domain      TEXT COLLATE "C" NOT NULL,
    received_at BIGINT  NOT NULL,
    id          TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (seq, domain)
);
CREATE INDEX history_domain_key ON history_domain (domain, received_at, id);

-- Subject words: a GIN index over the folded words with the `simple`
-- configuration (no stemming, no stop words: the words are already folded).
CREATE INDEX history_words ON history USING GIN (to_tsvector('simple', subject_words));

-- Quarantine: the message (compressed raw bytes with size and SHA-256) and
-- one row per recipient with its own state.
CREATE TABLE quarantine (
    id            TEXT COLLATE "C" PRIMARY KEY,
    received_at   BIGINT  NOT NULL,
    history_id    TEXT,
    mail_from     TEXT    NOT NULL,
    sender        TEXT COLLATE "C" NOT NULL,
    sender_domain TEXT COLLATE "C" NOT NULL,
    mail_params   TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    score         DOUBLE PRECISION NOT NULL,
    action        TEXT COLLATE "C" NOT NULL,
    subject       TEXT    NOT NULL,
    from_header   TEXT,
    size          BIGINT  NOT NULL,
    sha256        TEXT    NOT NULL,
    raw           BYTEA
);
CREATE INDEX quarantine_time             ON quarantine (received_at, id);
CREATE INDEX quarantine_by_sender        ON quarantine (sender, received_at, id);
CREATE INDEX quarantine_by_sender_domain ON quarantine (sender_domain, received_at, id);

CREATE TABLE quarantine_rcpt (
    qid          TEXT COLLATE "C" NOT NULL REFERENCES quarantine (id),
    idx          BIGINT  NOT NULL,
    address      TEXT COLLATE "C" NOT NULL,
    address_key  TEXT COLLATE "C" NOT NULL,
    params       TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    changed_at   BIGINT  NOT NULL,
    changed_by   TEXT,
    changed_from TEXT,
    claim_token  TEXT,
    PRIMARY KEY (qid, idx)
);
CREATE INDEX quarantine_rcpt_by_address ON quarantine_rcpt (address_key);
CREATE INDEX quarantine_rcpt_by_state   ON quarantine_rcpt (state, qid);

CREATE TABLE audit (
    seq    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     BIGINT  NOT NULL,
    who    TEXT    NOT NULL,
    origin TEXT    NOT NULL,
    action TEXT COLLATE "C" NOT NULL,
    target TEXT    NOT NULL,
    detail TEXT    NOT NULL
);
CREATE INDEX audit_at ON audit (at);

-- Sender memory, per organisation.
CREATE TABLE sender_address (
    org        TEXT    NOT NULL,
    address    TEXT COLLATE "C" NOT NULL,
    first_seen BIGINT,
    last_seen  BIGINT,
    count      BIGINT  NOT NULL DEFAULT 0,
    replied    BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (org, address)
);

CREATE TABLE sender_domain (
    org        TEXT    NOT NULL,
    domain     TEXT COLLATE "C" NOT NULL,
    first_seen BIGINT,
    last_seen  BIGINT,
    count      BIGINT  NOT NULL DEFAULT 0,
    replied    BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (org, domain)
);
