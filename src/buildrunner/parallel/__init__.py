"""Plans, scheduling, file locks, sessions, workers and backends."""
