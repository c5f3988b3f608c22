-- Device credentials Mercury issued: one row per credential (a device may hold several over time). The token
-- itself is never stored: it is a signed JWT whose `jti` is credential_id.
CREATE TABLE devices (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    -- The only vehicle the device may send events for; NULL for a fleet credential (gateways, the simulator).
    vehicle_id TEXT,
    credential_id TEXT NOT NULL UNIQUE,
    created_by INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER
);
CREATE INDEX devices_device ON devices (device_id);
