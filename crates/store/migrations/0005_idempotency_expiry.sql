-- Idempotency records expire after 24 hours (IDEMPOTENCY_TTL): each create that records a
-- key first deletes the expired ones, by this index.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
