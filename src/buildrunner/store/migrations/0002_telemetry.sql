-- Telemetry: the task kind as a column (metrics group by it) and one covering index for metrics.
-- The covering index starts with (type, ts), so it replaces events_type_ts; every metric query
-- (`type IN (...) AND ts >= ?`) reads only the index, never the table rows with their payloads.

ALTER TABLE events ADD COLUMN kind TEXT;

DROP INDEX IF EXISTS events_type_ts;

CREATE INDEX events_metrics ON events(
    type, ts, success, duration_ms, cost_micro_usd, model, kind, error_type, session_id,
    input_tokens, output_tokens
);

CREATE INDEX alerts_fired ON alerts(fired_at);

-- Exact latency percentiles by rank: durations in order, only for the outcome events.
CREATE INDEX events_task_durations ON events(duration_ms, ts)
    WHERE type IN ('task_completed', 'task_failed') AND duration_ms IS NOT NULL;

CREATE INDEX events_model_latencies ON events(duration_ms, ts)
    WHERE type IN ('model_call_completed', 'model_call_failed') AND duration_ms IS NOT NULL;

-- Per-minute rollups kept exact by triggers, whoever writes or deletes events: summaries over
-- long windows add up minutes instead of reading every event. Text keys use '' for "none"
-- (NULLs would never conflict in the primary key).
CREATE TABLE event_rollups (
    minute         INTEGER NOT NULL,          -- CAST(ts / 60 AS INTEGER)
    type           TEXT NOT NULL,
    model          TEXT NOT NULL,
    kind           TEXT NOT NULL,
    session_id     TEXT NOT NULL,
    error_type     TEXT NOT NULL,
    events         INTEGER NOT NULL,
    cost_micro_usd INTEGER NOT NULL,
    input_tokens   INTEGER NOT NULL,
    output_tokens  INTEGER NOT NULL,
    durations      INTEGER NOT NULL,          -- events with a duration_ms
    duration_sum   REAL NOT NULL,
    PRIMARY KEY (minute, type, model, kind, session_id, error_type)
) WITHOUT ROWID;

CREATE TRIGGER events_rollup_insert AFTER INSERT ON events BEGIN
    INSERT INTO event_rollups(minute, type, model, kind, session_id, error_type, events,
                              cost_micro_usd, input_tokens, output_tokens, durations,
                              duration_sum)
    VALUES (CAST(NEW.ts / 60 AS INTEGER), NEW.type, COALESCE(NEW.model, ''),
            COALESCE(NEW.kind, ''), COALESCE(NEW.session_id, ''), COALESCE(NEW.error_type, ''),
            1, COALESCE(NEW.cost_micro_usd, 0), COALESCE(NEW.input_tokens, 0),
            COALESCE(NEW.output_tokens, 0), NEW.duration_ms IS NOT NULL,
            COALESCE(NEW.duration_ms, 0))
    ON CONFLICT (minute, type, model, kind, session_id, error_type) DO UPDATE SET
        events = events + 1,
        cost_micro_usd = cost_micro_usd + excluded.cost_micro_usd,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        durations = durations + excluded.durations,
        duration_sum = duration_sum + excluded.duration_sum;
END;

CREATE TRIGGER events_rollup_delete AFTER DELETE ON events BEGIN
    UPDATE event_rollups SET
        events = events - 1,
        cost_micro_usd = cost_micro_usd - COALESCE(OLD.cost_micro_usd, 0),
        input_tokens = input_tokens - COALESCE(OLD.input_tokens, 0),
        output_tokens = output_tokens - COALESCE(OLD.output_tokens, 0),
        durations = durations - (OLD.duration_ms IS NOT NULL),
        duration_sum = duration_sum - COALESCE(OLD.duration_ms, 0)
    WHERE minute = CAST(OLD.ts / 60 AS INTEGER) AND type = OLD.type
      AND model = COALESCE(OLD.model, '') AND kind = COALESCE(OLD.kind, '')
      AND session_id = COALESCE(OLD.session_id, '') AND error_type = COALESCE(OLD.error_type, '');
END;
