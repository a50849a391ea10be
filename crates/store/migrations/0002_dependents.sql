-- Documents that depend on another document of the same organization without being its
-- child: a route depends on the connection it goes through (`spec.targetId`). Deleting a
-- document deletes (or, when finalized, marks) its dependents in the same transaction.
ALTER TABLE documents ADD COLUMN ref_id TEXT
    GENERATED ALWAYS AS (CASE WHEN kind = 'route' THEN json_extract(spec, '$.targetId') END) VIRTUAL;
CREATE INDEX documents_ref ON documents(ref_id) WHERE ref_id IS NOT NULL;
