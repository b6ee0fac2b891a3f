-- terms of leadership (see LeaderLock), in the same file
CREATE TABLE {leaders} (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at REAL NOT NULL
);
