
    CREATE TABLE {s}.leaders (
        name text PRIMARY KEY,
        holder text NOT NULL,
        expires_at timestamptz NOT NULL
    );
    