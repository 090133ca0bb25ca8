-- Routing judged by outcomes: one row per rung of the escalation ladder whose work was judged by
-- the task's checks (accepted or rejected). The selector reads these counts, per complexity level
-- and model, on top of the dev-data prior; `br routing stats` shows them.
-- No foreign key to sessions: `br parallel cleanup` may delete old sessions, but what the project
-- learned about its models stays.

CREATE TABLE routing_outcomes (
    id             INTEGER PRIMARY KEY,
    ts             REAL NOT NULL,
    session_id     TEXT NOT NULL,
    task_id        TEXT NOT NULL,
    level          TEXT NOT NULL,          -- the estimated complexity level the selector saw
    model          TEXT NOT NULL,          -- catalog id the rung ran on
    rung           INTEGER NOT NULL,       -- 0 = the ladder's first rung, 1 = the next, ...
    fix_rounds     INTEGER NOT NULL DEFAULT 0,
    accepted       INTEGER NOT NULL,       -- 1: checks passed on this rung; 0: rejected
    first_try      INTEGER NOT NULL,       -- 1: accepted with no fix round
    cost_micro_usd INTEGER NOT NULL DEFAULT 0,
    UNIQUE (session_id, task_id, rung)     -- a resumed task's rerun replaces its earlier outcome
);
CREATE INDEX routing_outcomes_cell ON routing_outcomes(level, model, rung, ts);
CREATE INDEX routing_outcomes_ts ON routing_outcomes(ts);
