-- The account database on PostgreSQL (compose): the same tables as migrations/sqlite, in PostgreSQL's types.
-- Ids are never reused (BIGSERIAL); names and emails are unique without regard to case.

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    -- Session tokens name this random id.
    uid TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL DEFAULT 'viewer' CHECK (role IN ('admin', 'dispatcher', 'viewer')),
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    username TEXT NOT NULL,
    email TEXT NOT NULL,
    -- argon2id PHC string.
    password_hash TEXT NOT NULL,
    must_change_password BOOLEAN NOT NULL DEFAULT FALSE,
    theme TEXT NOT NULL DEFAULT 'light' CHECK (theme IN ('light', 'dark')),
    units TEXT NOT NULL DEFAULT 'km' CHECK (units IN ('km', 'mi')),
    session_version BIGINT NOT NULL DEFAULT 0,
    created_at_ms BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_username ON users (lower(username));
CREATE UNIQUE INDEX users_email ON users (lower(email));

CREATE TABLE invites (
    token_hash TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('admin', 'dispatcher', 'viewer')),
    created_by BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    used_at_ms BIGINT
);

CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT,
    last_used_at_ms BIGINT,
    revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE tracking_links (
    token_hash TEXT PRIMARY KEY,
    order_id TEXT NOT NULL UNIQUE,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE devices (
    id BIGSERIAL PRIMARY KEY,
    device_id TEXT NOT NULL,
    vehicle_id TEXT,
    credential_id TEXT NOT NULL UNIQUE,
    created_by BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT
);
CREATE INDEX devices_device ON devices (device_id);
