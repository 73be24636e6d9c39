-- idgraph schema, version 2: what several processes sharing one PostgreSQL database need.

-- The registry's generation: each process caches the policy registry (users, cases,
-- legal process, subject-access requests, sources, identity lineage, policy sets) and
-- re-reads it when this row has moved. On PostgreSQL triggers bump it in the changing
-- transaction (it moves when the change commits, never before); an embedded store has
-- one process, which refreshes its own cache after each act.
CREATE TABLE IF NOT EXISTS registry_generation (
        id INTEGER PRIMARY KEY, generation BIGINT NOT NULL, policies BIGINT NOT NULL);
INSERT INTO registry_generation (id, generation, policies) VALUES (0, 0, 0)
        ON CONFLICT (id) DO NOTHING;

-- @postgres
CREATE OR REPLACE FUNCTION idgraph_bump_registry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE registry_generation SET generation = generation + 1,
        policies = policies + CASE WHEN TG_TABLE_NAME = 'policy_sets' THEN 1 ELSE 0 END
        WHERE id = 0;
    RETURN NULL;
END $$;

-- @postgres
CREATE OR REPLACE TRIGGER users_registry AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
        ON users FOR EACH STATEMENT EXECUTE FUNCTION idgraph_bump_registry();
-- @postgres
CREATE OR REPLACE TRIGGER cases_registry AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
        ON cases FOR EACH STATEMENT EXECUTE FUNCTION idgraph_bump_registry();
-- @postgres
CREATE OR REPLACE TRIGGER case_members_registry AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
        ON case_members FOR EACH STATEMENT EXECUTE FUNCTION idgraph_bump_registry();
-- @postgres
CREATE OR REPLACE TRIGGER legal_process_registry AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
        ON legal_process FOR EACH STATEMENT EXECUTE FUNCTION idgraph_bump_registry();
-- @postgres
CREATE OR REPLACE TRIGGER sars_registry AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
        ON subject_access_requests FOR EACH STATEMENT EXECUTE FUNCTION idgraph_bump_registry();
-- @postgres
CREATE OR REPLACE TRIGGER sources_registry AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
        ON sources FOR EACH STATEMENT EXECUTE FUNCTION idgraph_bump_registry();
-- @postgres
CREATE OR REPLACE TRIGGER lineage_registry AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
        ON identity_lineage FOR EACH STATEMENT EXECUTE FUNCTION idgraph_bump_registry();
-- @postgres
CREATE OR REPLACE TRIGGER policy_sets_registry AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
        ON policy_sets FOR EACH STATEMENT EXECUTE FUNCTION idgraph_bump_registry();

-- Reads a large server store makes by source and by batch (an embedded store scans).
-- @postgres
CREATE INDEX IF NOT EXISTS records_source ON records (source_id);
-- @postgres
CREATE INDEX IF NOT EXISTS records_batch ON records (batch_id);

-- Row counts a search reads to tell whether the index is behind the store (every
-- search): counting a 100M-row table per search is a scan on PostgreSQL, so statement
-- triggers keep the counts as rows change (in the changing transaction). An embedded
-- store counts (DuckDB keeps counts cheap).
CREATE TABLE IF NOT EXISTS row_counts (name VARCHAR PRIMARY KEY, n BIGINT NOT NULL);
-- @postgres
INSERT INTO row_counts (name, n) SELECT 'records_current', count(*) FROM records
        WHERE is_current ON CONFLICT (name) DO NOTHING;
-- @postgres
INSERT INTO row_counts (name, n) SELECT 'batches', count(*) FROM batches
        ON CONFLICT (name) DO NOTHING;
-- @postgres
INSERT INTO row_counts (name, n) SELECT 'link_runs', count(*) FROM link_runs
        ON CONFLICT (name) DO NOTHING;
-- @postgres
INSERT INTO row_counts (name, n) SELECT 'identity_lineage', count(*) FROM identity_lineage
        ON CONFLICT (name) DO NOTHING;
-- @postgres
INSERT INTO row_counts (name, n) SELECT 'retention_tombstones', count(*)
        FROM retention_tombstones ON CONFLICT (name) DO NOTHING;
-- @postgres
CREATE OR REPLACE FUNCTION idgraph_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'records' THEN
        UPDATE row_counts SET n = n + (SELECT count(*) FROM new_rows WHERE is_current)
            WHERE name = 'records_current';
    ELSE
        UPDATE row_counts SET n = n + (SELECT count(*) FROM new_rows) WHERE name = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END $$;
-- @postgres
CREATE OR REPLACE FUNCTION idgraph_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'records' THEN
        UPDATE row_counts SET n = n - (SELECT count(*) FROM old_rows WHERE is_current)
            WHERE name = 'records_current';
    ELSE
        UPDATE row_counts SET n = n - (SELECT count(*) FROM old_rows) WHERE name = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END $$;
-- @postgres
CREATE OR REPLACE FUNCTION idgraph_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE row_counts SET n = n + (SELECT count(*) FROM new_rows WHERE is_current)
        - (SELECT count(*) FROM old_rows WHERE is_current) WHERE name = 'records_current';
    RETURN NULL;
END $$;
-- @postgres
CREATE OR REPLACE FUNCTION idgraph_count_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE row_counts SET n = 0
        WHERE name = CASE WHEN TG_TABLE_NAME = 'records' THEN 'records_current'
                          ELSE TG_TABLE_NAME END;
    RETURN NULL;
END $$;
-- @postgres
CREATE OR REPLACE TRIGGER records_count_insert AFTER INSERT ON records
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION idgraph_count_insert();
-- @postgres
CREATE OR REPLACE TRIGGER records_count_delete AFTER DELETE ON records
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
        EXECUTE FUNCTION idgraph_count_delete();
-- @postgres
CREATE OR REPLACE TRIGGER records_count_truncate AFTER TRUNCATE ON records
        FOR EACH STATEMENT EXECUTE FUNCTION idgraph_count_truncate();
-- @postgres
CREATE OR REPLACE TRIGGER batches_count_insert AFTER INSERT ON batches
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION idgraph_count_insert();
-- @postgres
CREATE OR REPLACE TRIGGER batches_count_delete AFTER DELETE ON batches
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
        EXECUTE FUNCTION idgraph_count_delete();
-- @postgres
CREATE OR REPLACE TRIGGER batches_count_truncate AFTER TRUNCATE ON batches
        FOR EACH STATEMENT EXECUTE FUNCTION idgraph_count_truncate();
-- @postgres
CREATE OR REPLACE TRIGGER link_runs_count_insert AFTER INSERT ON link_runs
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION idgraph_count_insert();
-- @postgres
CREATE OR REPLACE TRIGGER link_runs_count_delete AFTER DELETE ON link_runs
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
        EXECUTE FUNCTION idgraph_count_delete();
-- @postgres
CREATE OR REPLACE TRIGGER link_runs_count_truncate AFTER TRUNCATE ON link_runs
        FOR EACH STATEMENT EXECUTE FUNCTION idgraph_count_truncate();
-- @postgres
CREATE OR REPLACE TRIGGER identity_lineage_count_insert AFTER INSERT ON identity_lineage
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION idgraph_count_insert();
-- @postgres
CREATE OR REPLACE TRIGGER identity_lineage_count_delete AFTER DELETE ON identity_lineage
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
        EXECUTE FUNCTION idgraph_count_delete();
-- @postgres
CREATE OR REPLACE TRIGGER identity_lineage_count_truncate AFTER TRUNCATE ON identity_lineage
        FOR EACH STATEMENT EXECUTE FUNCTION idgraph_count_truncate();
-- @postgres
CREATE OR REPLACE TRIGGER retention_tombstones_count_insert AFTER INSERT ON retention_tombstones
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION idgraph_count_insert();
-- @postgres
CREATE OR REPLACE TRIGGER retention_tombstones_count_delete AFTER DELETE ON retention_tombstones
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
        EXECUTE FUNCTION idgraph_count_delete();
-- @postgres
CREATE OR REPLACE TRIGGER retention_tombstones_count_truncate AFTER TRUNCATE ON retention_tombstones
        FOR EACH STATEMENT EXECUTE FUNCTION idgraph_count_truncate();
-- @postgres
CREATE OR REPLACE TRIGGER records_count_update AFTER UPDATE ON records
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION idgraph_count_update();
