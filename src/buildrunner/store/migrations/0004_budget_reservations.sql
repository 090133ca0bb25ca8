-- Money reserved for model calls in flight: a call is made only after its worst-case cost is
-- reserved against every hard budget that applies, across all sessions of the project.
-- A row lives from the reservation until the call's cost is recorded (settled) or it failed.

CREATE TABLE budget_reservations (
    id               TEXT PRIMARY KEY,
    session_id       TEXT NOT NULL,
    task_id          TEXT,
    attempt          INTEGER,
    model            TEXT,
    amount_micro_usd INTEGER NOT NULL,
    owner_pid        INTEGER,
    owner_host       TEXT,
    created_at       REAL NOT NULL
);
CREATE INDEX budget_reservations_session ON budget_reservations(session_id, task_id);
