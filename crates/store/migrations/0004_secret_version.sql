-- How `documents.secret` is kept: 0 = plaintext (databases before secrets at rest; sealed
-- on the next start), 1 = sealed with the secrets key (see the store's secrets module).
ALTER TABLE documents ADD COLUMN secret_version INTEGER NOT NULL DEFAULT 0;
