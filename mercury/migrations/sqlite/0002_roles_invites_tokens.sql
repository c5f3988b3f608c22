-- Roles, disabled accounts, random per-user ids for session tokens, invitations and personal API tokens.

-- admin: users, devices, settings; dispatcher: everything operational; viewer: read only.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'viewer' CHECK (role IN ('admin', 'dispatcher', 'viewer'));
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
-- Session tokens name this random id, never the integer id SQLite may hand out again after a deletion.
ALTER TABLE users ADD COLUMN uid TEXT;
UPDATE users SET uid = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX users_uid ON users (uid);
-- The first user is the admin the first start created.
UPDATE users SET role = 'admin' WHERE id = (SELECT min(id) FROM users);

-- One-time sign-up links an admin hands out; only the SHA-256 of the token is kept.
CREATE TABLE invites (
    token_hash TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('admin', 'dispatcher', 'viewer')),
    created_by INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    used_at_ms INTEGER
);

-- Personal API tokens (Authorization: Bearer); only the SHA-256 of the token is kept.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER,
    last_used_at_ms INTEGER,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
