-- Core schema: sessions, tasks, attempts, workers, locks, events, costs, budgets, alerts.
-- Times are REAL epoch seconds (UTC); money is INTEGER micro-dollars (1e-6 USD).

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    plan_path     TEXT,
    plan_json     TEXT NOT NULL,          -- the validated plan as run (resume needs it)
    status        TEXT NOT NULL,          -- pending|running|paused|completed|failed|cancelled|interrupted
    backend       TEXT NOT NULL DEFAULT 'local',
    workers       INTEGER NOT NULL DEFAULT 1,
    budget_usd    TEXT,
    owner_pid     INTEGER,
    owner_host    TEXT,
    created_at    REAL NOT NULL,
    started_at    REAL,
    ended_at      REAL,
    total_tasks   INTEGER NOT NULL DEFAULT 0,
    error         TEXT,
    metadata      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX sessions_status ON sessions(status, created_at);
CREATE INDEX sessions_created ON sessions(created_at);

CREATE TABLE tasks (
    session_id    TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    task_id       TEXT NOT NULL,
    kind          TEXT NOT NULL,          -- command|agent
    spec_json     TEXT NOT NULL,
    status        TEXT NOT NULL,          -- pending|queued|waiting|running|succeeded|failed|skipped|cancelled
    priority      INTEGER NOT NULL DEFAULT 0,
    position      INTEGER NOT NULL DEFAULT 0,   -- order in the plan file
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_retries   INTEGER NOT NULL DEFAULT 0,
    worker_id     TEXT,
    exit_code     INTEGER,
    started_at    REAL,
    ended_at      REAL,
    duration_s    REAL,
    log_path      TEXT,
    model         TEXT,
    cost_micro_usd INTEGER NOT NULL DEFAULT 0,
    waiting_on    TEXT,                   -- "task T of session S" while blocked on a file lock
    error         TEXT,
    PRIMARY KEY (session_id, task_id)
);
CREATE INDEX tasks_status ON tasks(session_id, status);

CREATE TABLE attempts (
    id            INTEGER PRIMARY KEY,
    session_id    TEXT NOT NULL,
    task_id       TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    worker_id     TEXT,
    status        TEXT NOT NULL,          -- running|succeeded|failed|lost|cancelled
    started_at    REAL NOT NULL,
    ended_at      REAL,
    exit_code     INTEGER,
    error         TEXT,
    cpu_s         REAL,
    max_rss_mb    REAL,
    FOREIGN KEY (session_id, task_id) REFERENCES tasks(session_id, task_id) ON DELETE CASCADE
);
CREATE INDEX attempts_task ON attempts(session_id, task_id, attempt);

CREATE TABLE workers (
    id             TEXT PRIMARY KEY,
    session_id     TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    pid            INTEGER,
    host           TEXT,
    status         TEXT NOT NULL,         -- idle|busy|offline|stopped
    started_at     REAL NOT NULL,
    last_heartbeat REAL NOT NULL,
    current_task   TEXT,
    tasks_completed INTEGER NOT NULL DEFAULT 0,
    tasks_failed   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX workers_session ON workers(session_id, status);

-- One row per held path: the primary key makes a double hold impossible.
CREATE TABLE locks (
    path          TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL,
    task_id       TEXT NOT NULL,
    owner_pid     INTEGER,
    owner_host    TEXT,
    acquired_at   REAL NOT NULL
);
CREATE INDEX locks_owner ON locks(session_id, task_id);

CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    event_id      TEXT NOT NULL UNIQUE,
    type          TEXT NOT NULL,
    ts            REAL NOT NULL,
    schema_version INTEGER NOT NULL DEFAULT 1,
    session_id    TEXT,
    task_id       TEXT,
    level         TEXT,
    model         TEXT,
    success       INTEGER,
    duration_ms   REAL,
    cost_micro_usd INTEGER,
    input_tokens  INTEGER,
    output_tokens INTEGER,
    error_type    TEXT,
    payload       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_ts ON events(ts);
CREATE INDEX events_type_ts ON events(type, ts);
CREATE INDEX events_session ON events(session_id, ts);

CREATE TABLE costs (
    id                 INTEGER PRIMARY KEY,
    ts                 REAL NOT NULL,
    session_id         TEXT,
    task_id            TEXT,
    model              TEXT NOT NULL,
    provider           TEXT NOT NULL DEFAULT 'anthropic',
    input_tokens       INTEGER NOT NULL DEFAULT 0,
    output_tokens      INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens  INTEGER NOT NULL DEFAULT 0,
    cost_micro_usd     INTEGER NOT NULL,
    latency_ms         REAL,
    outcome            TEXT NOT NULL DEFAULT 'success'
);
CREATE INDEX costs_ts ON costs(ts);
CREATE INDEX costs_session ON costs(session_id, ts);
CREATE INDEX costs_model ON costs(model, ts);

CREATE TABLE budgets (
    scope         TEXT PRIMARY KEY,       -- daily|weekly|monthly|session
    limit_micro_usd INTEGER NOT NULL,
    hard          INTEGER NOT NULL DEFAULT 1,
    updated_at    REAL NOT NULL
);

CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    threshold       TEXT NOT NULL,
    level           TEXT NOT NULL,
    status          TEXT NOT NULL,        -- pending|firing|resolved
    message         TEXT NOT NULL,
    value           REAL,
    threshold_value REAL,
    session_id      TEXT,
    pending_since   REAL,
    fired_at        REAL,
    resolved_at     REAL,
    delivered       INTEGER NOT NULL DEFAULT 0,
    delivery_error  TEXT
);
CREATE INDEX alerts_status ON alerts(status, threshold);

-- Requests from other terminals (pause, resume, cancel) for the owner of a session to act on.
CREATE TABLE control_requests (
    id            INTEGER PRIMARY KEY,
    session_id    TEXT NOT NULL,
    action        TEXT NOT NULL,          -- pause|resume|cancel
    created_at    REAL NOT NULL,
    handled_at    REAL
);
CREATE INDEX control_pending ON control_requests(session_id, handled_at);
