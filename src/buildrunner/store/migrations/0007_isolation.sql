-- Review of isolated tasks (`br review`): the build loop asks (pending), a person decides from any
-- terminal (approved | rejected | retry), the loop reads the decision and goes on. One row per
-- task of a session; a retry round asks again (round + 1). Rows go with their session.

CREATE TABLE reviews (
    session_id    TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    task_id       TEXT NOT NULL,
    status        TEXT NOT NULL,          -- pending|approved|rejected|retry
    round         INTEGER NOT NULL DEFAULT 1,
    reason        TEXT,                   -- why rejected (sent to the agent on a retry), masked
    requested_at  REAL NOT NULL,
    decided_at    REAL,
    decided_by    TEXT,                   -- user@host of the terminal that decided
    PRIMARY KEY (session_id, task_id)
);
CREATE INDEX reviews_waiting ON reviews(status, requested_at);
