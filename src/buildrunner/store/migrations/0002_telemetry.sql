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
