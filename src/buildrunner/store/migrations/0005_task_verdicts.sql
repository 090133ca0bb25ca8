-- How each task of a session ended beyond its status: agent tasks are accepted (their checks
-- passed), rejected (they never did) or unverified (no checks); the rung of the model ladder and
-- the fix rounds that produced the result; the task's cache key and whether its result came from
-- the task cache.
ALTER TABLE tasks ADD COLUMN verdict TEXT;
ALTER TABLE tasks ADD COLUMN rung INTEGER;
ALTER TABLE tasks ADD COLUMN fix_rounds INTEGER;
ALTER TABLE tasks ADD COLUMN cache_key TEXT;
ALTER TABLE tasks ADD COLUMN cached INTEGER NOT NULL DEFAULT 0;
