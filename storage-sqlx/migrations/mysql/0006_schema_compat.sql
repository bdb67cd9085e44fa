-- Rolling deploys: a release starts on a database that a newer release has
-- migrated further, as long as the newer migrations only add (tables,
-- nullable or defaulted columns, indexes). A migration that does anything
-- else (drops, renames, changes a type, rewrites data older releases read)
-- must raise `min_schema_version` to its own version: a release whose newest
-- migration is below it then refuses to start, naming both versions.
CREATE TABLE agora_schema_compat (
    min_schema_version BIGINT NOT NULL
);

INSERT INTO agora_schema_compat (min_schema_version) VALUES (1);
