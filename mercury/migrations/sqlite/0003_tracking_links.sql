-- Public tracking links: the token is derived from the order id with a key only Mercury knows (so the same link
-- can be shown again), and only its SHA-256 is stored, next to the order it opens.
CREATE TABLE tracking_links (
    token_hash TEXT PRIMARY KEY,
    order_id TEXT NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL
);
