-- Dashboard users. Logins match username or email without regard to case.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    -- argon2id PHC string.
    password_hash TEXT NOT NULL,
    -- Set for the default admin: the dashboard nags until the password is changed.
    must_change_password INTEGER NOT NULL DEFAULT 0,
    theme TEXT NOT NULL DEFAULT 'light' CHECK (theme IN ('light', 'dark')),
    units TEXT NOT NULL DEFAULT 'km' CHECK (units IN ('km', 'mi')),
    -- Part of every session token; bumping it (logout, password change) revokes the user's tokens.
    session_version INTEGER NOT NULL DEFAULT 0,
    created_at_ms INTEGER NOT NULL
);
