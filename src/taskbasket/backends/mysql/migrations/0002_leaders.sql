-- 2: terms of leadership (see LeaderLock)
CREATE TABLE IF NOT EXISTS {leaders} (
    name VARCHAR(200) NOT NULL,
    holder VARCHAR(255) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
