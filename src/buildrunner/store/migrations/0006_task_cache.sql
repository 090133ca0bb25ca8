-- The task cache (docs/CACHE.md). Blobs live in the cache folder; the store keeps:
-- one manifest per cache key (what went into the key, the outputs and the log by content hash),
-- the stat cache of hashed files (like git's index), and the content br last left at each output
-- path (a restore may overwrite that, never a file someone else changed since).

CREATE TABLE task_cache (
    key            TEXT PRIMARY KEY,      -- sha256 hex of the key parts
    task_id        TEXT NOT NULL,
    plan_name      TEXT,
    manifest_json  TEXT NOT NULL,         -- parts (masked text, hashed env values), outputs, log
    size_bytes     INTEGER NOT NULL,      -- outputs + log
    cost_micro_usd INTEGER NOT NULL DEFAULT 0,
    duration_s     REAL NOT NULL DEFAULT 0,
    session_id     TEXT,
    created_at     REAL NOT NULL,
    last_used_at   REAL NOT NULL,
    hits           INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX task_cache_task ON task_cache(task_id, created_at);
CREATE INDEX task_cache_lru ON task_cache(last_used_at);

-- A content hash is trusted while (size, mtime, ctime, inode) are unchanged and the file was not
-- modified within the racy window before it was hashed.
CREATE TABLE file_hashes (
    path        TEXT PRIMARY KEY,         -- absolute
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    ctime_ns    INTEGER NOT NULL,
    inode       INTEGER NOT NULL,
    sha256      TEXT NOT NULL,
    checked_ns  INTEGER NOT NULL          -- when the content was hashed
) WITHOUT ROWID;

CREATE TABLE cache_outputs (
    path        TEXT PRIMARY KEY,         -- absolute path of a task output
    sha256      TEXT NOT NULL,            -- the content br stored or restored there last
    task_id     TEXT NOT NULL,
    recorded_at REAL NOT NULL
) WITHOUT ROWID;
