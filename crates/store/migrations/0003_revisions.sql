-- A store-wide revision, bumped in the writing transaction whenever a document is created or
-- its generation changes (a client's write, a deletion request). Watchers ask for the
-- unobserved documents that changed after the revision they last saw, so resources no
-- controller finishes (e.g. of a provider this installation does not run) are not listed
-- again and again.
CREATE TABLE revision (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    n   INTEGER NOT NULL
);
INSERT INTO revision (id, n) VALUES (1, 0);

ALTER TABLE documents ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
CREATE INDEX documents_changed ON documents(kind, rev)
    WHERE generation != observed_generation;

CREATE TRIGGER documents_rev_on_insert AFTER INSERT ON documents
BEGIN
    UPDATE revision SET n = n + 1 WHERE id = 1;
    UPDATE documents SET rev = (SELECT n FROM revision WHERE id = 1) WHERE seq = NEW.seq;
END;

CREATE TRIGGER documents_rev_on_generation AFTER UPDATE OF generation ON documents
WHEN NEW.generation != OLD.generation
BEGIN
    UPDATE revision SET n = n + 1 WHERE id = 1;
    UPDATE documents SET rev = (SELECT n FROM revision WHERE id = 1) WHERE seq = NEW.seq;
END;
