-- idgraph schema, version 1: every table of the release this scheme started with.
-- Written once in the SQL both backends speak (PostgreSQL reads DOUBLE as DOUBLE
-- PRECISION, BLOB as BYTEA); ALTERs bring embedded stores made before it up to date.
-- Never edit a released migration: add the next number (docs/deploy.md, Migrations).

-- store.duckdb_store
CREATE TABLE IF NOT EXISTS records (record_id VARCHAR, source_id VARCHAR, source_record_id VARCHAR, version INTEGER, is_current BOOLEAN, row_hash VARCHAR, batch_id VARCHAR, ingested_at TIMESTAMP, source_file VARCHAR, source_line BIGINT, raw JSON, full_name VARCHAR, first_name VARCHAR, middle_name VARCHAR, last_name VARCHAR, suffix VARCHAR, first_name_canon VARCHAR, first_name_phonetic VARCHAR, last_name_phonetic VARCHAR, last_name_parts VARCHAR[], dob DATE, dob_precision VARCHAR, birth_year INTEGER, sex VARCHAR, house_number VARCHAR, street VARCHAR, unit VARCHAR, city VARCHAR, state VARCHAR, zip VARCHAR, address VARCHAR, phone VARCHAR, email VARCHAR, ssn VARCHAR, dl_number VARCHAR, dl_state VARCHAR, plate VARCHAR, observed_at TIMESTAMP, booked_at TIMESTAMP, released_at TIMESTAMP, facility VARCHAR, case_number VARCHAR, origin_jurisdiction VARCHAR, mapping_hash VARCHAR, unverified VARCHAR[], PRIMARY KEY (record_id, version));
ALTER TABLE records ADD COLUMN IF NOT EXISTS origin_jurisdiction VARCHAR;
ALTER TABLE records ADD COLUMN IF NOT EXISTS mapping_hash VARCHAR;
ALTER TABLE records ADD COLUMN IF NOT EXISTS unverified VARCHAR[];
CREATE TABLE IF NOT EXISTS quarantine (
        source_id VARCHAR, source_file VARCHAR, source_line BIGINT,
        source_record_id VARCHAR, field VARCHAR, value VARCHAR, reason VARCHAR,
        batch_id VARCHAR);
CREATE TABLE IF NOT EXISTS sources (
        source_id VARCHAR PRIMARY KEY, title VARCHAR, kind VARCHAR,
        jurisdiction VARCHAR, regimes VARCHAR[], collected_for VARCHAR,
        retention_days INTEGER, manifest_path VARCHAR, manifest JSON,
        registered_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS batches (
        batch_id VARCHAR PRIMARY KEY, source_id VARCHAR, source_file VARCHAR,
        file_sha256 VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP,
        rows BIGINT, records_added BIGINT, records_unchanged BIGINT,
        records_versioned BIGINT, rows_quarantined BIGINT, fields_quarantined BIGINT);
ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS kind VARCHAR;
ALTER TABLE batches ADD COLUMN IF NOT EXISTS lines BIGINT;
ALTER TABLE batches ADD COLUMN IF NOT EXISTS lines_blank BIGINT;
ALTER TABLE batches ADD COLUMN IF NOT EXISTS lines_in_rows BIGINT;

-- audit.log
CREATE TABLE IF NOT EXISTS audit_log (
        seq BIGINT PRIMARY KEY, entry VARCHAR NOT NULL, leaf_hash VARCHAR NOT NULL);
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS chain VARCHAR;
CREATE TABLE IF NOT EXISTS audit_head (
        id INTEGER PRIMARY KEY, size BIGINT NOT NULL, chain VARCHAR NOT NULL,
        last_time VARCHAR);
ALTER TABLE audit_head ADD COLUMN IF NOT EXISTS cp_size BIGINT;
ALTER TABLE audit_head ADD COLUMN IF NOT EXISTS cp_at VARCHAR;
CREATE TABLE IF NOT EXISTS audit_checkpoints (
        id BIGINT PRIMARY KEY, size BIGINT NOT NULL, root VARCHAR NOT NULL,
        time VARCHAR NOT NULL, signature VARCHAR NOT NULL, pubkey VARCHAR NOT NULL);
ALTER TABLE audit_checkpoints ADD COLUMN IF NOT EXISTS note VARCHAR;
ALTER TABLE audit_checkpoints ADD COLUMN IF NOT EXISTS origin VARCHAR;
CREATE TABLE IF NOT EXISTS audit_cosignatures (
        checkpoint_id BIGINT NOT NULL, name VARCHAR NOT NULL, line VARCHAR NOT NULL,
        added VARCHAR NOT NULL, PRIMARY KEY (checkpoint_id, name));
CREATE TABLE IF NOT EXISTS audit_keys (
        pubkey VARCHAR PRIMARY KEY, origin VARCHAR, since_size BIGINT NOT NULL,
        until_size BIGINT, added VARCHAR NOT NULL);

-- policy.users
CREATE TABLE IF NOT EXISTS users (
        name VARCHAR PRIMARY KEY, role VARCHAR NOT NULL, org VARCHAR NOT NULL,
        org_type VARCHAR NOT NULL, disabled BOOLEAN NOT NULL DEFAULT false,
        created_at TIMESTAMP, created_by VARCHAR, disabled_at TIMESTAMP, disabled_by VARCHAR);
ALTER TABLE users ADD COLUMN IF NOT EXISTS immigration_agency BOOLEAN DEFAULT false;

-- policy.legal
CREATE TABLE IF NOT EXISTS legal_process (
        legal_id VARCHAR PRIMARY KEY, type VARCHAR NOT NULL, number VARCHAR, court VARCHAR,
        judge VARCHAR, level VARCHAR, issuer VARCHAR, issued DATE, expires DATE,
        scope_identities VARCHAR[], scope_sources VARCHAR[], case_id VARCHAR,
        registered_by VARCHAR, registered_at TIMESTAMP);
ALTER TABLE legal_process ADD COLUMN IF NOT EXISTS judge_appointment VARCHAR;
ALTER TABLE legal_process ADD COLUMN IF NOT EXISTS org VARCHAR;
ALTER TABLE legal_process ADD COLUMN IF NOT EXISTS verified_by VARCHAR;
ALTER TABLE legal_process ADD COLUMN IF NOT EXISTS verified_at TIMESTAMP;
ALTER TABLE legal_process ADD COLUMN IF NOT EXISTS document_sha256 VARCHAR;

-- cases
CREATE TABLE IF NOT EXISTS cases (
        case_id VARCHAR PRIMARY KEY, title VARCHAR, status VARCHAR NOT NULL, kind VARCHAR,
        org VARCHAR NOT NULL, opened_by VARCHAR, opened_at TIMESTAMP,
        closed_by VARCHAR, closed_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS case_members (
        case_id VARCHAR NOT NULL, member VARCHAR NOT NULL, added_by VARCHAR NOT NULL,
        added_at TIMESTAMP NOT NULL, removed_by VARCHAR, removed_at TIMESTAMP);

-- policy.credentials
CREATE TABLE IF NOT EXISTS credentials (
        name VARCHAR PRIMARY KEY, password_hash VARCHAR NOT NULL,
        changed_at TIMESTAMP NOT NULL, changed_by VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
        digest VARCHAR PRIMARY KEY, name VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL, last_seen TIMESTAMP NOT NULL,
        expires_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP,
        purpose VARCHAR, claims VARCHAR[], basis VARCHAR, case_id VARCHAR,
        client VARCHAR, via VARCHAR);
CREATE TABLE IF NOT EXISTS api_tokens (
        token_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, label VARCHAR NOT NULL,
        digest VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, created_by VARCHAR NOT NULL,
        expires_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP, revoked_by VARCHAR,
        last_used TIMESTAMP);
CREATE TABLE IF NOT EXISTS login_failures (
        failed_at TIMESTAMP NOT NULL, kind VARCHAR NOT NULL, subject VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS login_locks (
        kind VARCHAR NOT NULL, subject VARCHAR NOT NULL, locked_until TIMESTAMP NOT NULL,
        PRIMARY KEY (kind, subject));

-- policy.notices
CREATE TABLE IF NOT EXISTS notices (
        notice_id VARCHAR PRIMARY KEY, identity_id VARCHAR, org VARCHAR, principal VARCHAR,
        case_id VARCHAR, sources VARCHAR[], rule VARCHAR, duty VARCHAR, created_at TIMESTAMP,
        due_date DATE, sent_at TIMESTAMP, sent_by VARCHAR);

-- policy.sar
CREATE TABLE IF NOT EXISTS subject_access_requests (
        sar_id VARCHAR PRIMARY KEY, identity_id VARCHAR NOT NULL, requester VARCHAR NOT NULL,
        received DATE NOT NULL, case_id VARCHAR NOT NULL, org VARCHAR NOT NULL,
        opened_by VARCHAR NOT NULL, opened_at TIMESTAMP NOT NULL, status VARCHAR NOT NULL,
        closed_by VARCHAR, closed_at TIMESTAMP);

-- policy.policy_set
CREATE TABLE IF NOT EXISTS policy_sets (
        seq BIGINT PRIMARY KEY, digest VARCHAR NOT NULL, ids VARCHAR[], files VARCHAR[],
        folder VARCHAR, recorded_at TIMESTAMP, recorded_by VARCHAR, how VARCHAR);

-- policy.retention
CREATE TABLE IF NOT EXISTS retention_runs (
        run_id VARCHAR PRIMARY KEY, ran_at TIMESTAMP, as_of TIMESTAMP, actor VARCHAR,
        removed BIGINT, by_source JSON, record_id_hashes VARCHAR[]);
CREATE TABLE IF NOT EXISTS retention_tombstones (
        record_id VARCHAR, row_hash VARCHAR, source_id VARCHAR, removed_at TIMESTAMP,
        run_id VARCHAR);

-- link.tables
CREATE TABLE IF NOT EXISTS link_models (
        model_id VARCHAR PRIMARY KEY, created_at TIMESTAMP, model JSON, detail JSON);
CREATE TABLE IF NOT EXISTS link_runs (
        run_id VARCHAR PRIMARY KEY, started_at TIMESTAMP, finished_at TIMESTAMP,
        threshold DOUBLE, n_records BIGINT, n_edges BIGINT, n_identities BIGINT,
        model_id VARCHAR, detail JSON);
CREATE TABLE IF NOT EXISTS link_edges (
        run_id VARCHAR, record_id_l VARCHAR, record_id_r VARCHAR,
        match_probability DOUBLE, match_weight DOUBLE, accepted BOOLEAN, evidence JSON);
CREATE TABLE IF NOT EXISTS identity_members (
        identity_id VARCHAR, record_id VARCHAR PRIMARY KEY);
CREATE TABLE IF NOT EXISTS identity_lineage (
        run_id VARCHAR, identity_id VARCHAR, event VARCHAR, related VARCHAR[],
        "at" TIMESTAMP);
CREATE TABLE IF NOT EXISTS judgements (
        judgement_id VARCHAR PRIMARY KEY, record_id_l VARCHAR, record_id_r VARCHAR,
        verdict VARCHAR, "by" VARCHAR, reason VARCHAR, "at" TIMESTAMP);
CREATE INDEX IF NOT EXISTS identity_members_identity ON identity_members(identity_id);
CREATE INDEX IF NOT EXISTS link_edges_l ON link_edges(record_id_l);
DROP INDEX IF EXISTS link_edges_r;
CREATE TABLE IF NOT EXISTS graph_generation (
        id INTEGER PRIMARY KEY, generation BIGINT NOT NULL);

-- monitor.watches
CREATE TABLE IF NOT EXISTS watches (
        watch_id VARCHAR PRIMARY KEY, owner VARCHAR NOT NULL, org VARCHAR NOT NULL,
        identity_id VARCHAR, criteria JSON, case_id VARCHAR NOT NULL, purpose VARCHAR NOT NULL,
        claims VARCHAR[], basis VARCHAR, expires DATE NOT NULL, webhook_url VARCHAR,
        secret VARCHAR NOT NULL, status VARCHAR NOT NULL, created_at TIMESTAMP,
        cancelled_by VARCHAR, cancelled_at TIMESTAMP);
CREATE INDEX IF NOT EXISTS watches_identity ON watches (identity_id);
CREATE TABLE IF NOT EXISTS watch_deconflictions (
        notice_id VARCHAR PRIMARY KEY, identity_id VARCHAR, watch_id VARCHAR,
        other_watch_id VARCHAR, recipient VARCHAR, org VARCHAR, other_org VARCHAR,
        other_owner VARCHAR, created_at TIMESTAMP);

-- monitor.feeds
CREATE TABLE IF NOT EXISTS feed_tokens (
        token_id VARCHAR PRIMARY KEY, source_id VARCHAR NOT NULL, digest VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL, created_by VARCHAR NOT NULL,
        expires_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS feed_receipts (
        push_id VARCHAR PRIMARY KEY, source_id VARCHAR NOT NULL, token_id VARCHAR,
        batch_id VARCHAR NOT NULL, body_sha256 VARCHAR NOT NULL,
        received_at TIMESTAMP NOT NULL, committed_at TIMESTAMP NOT NULL,
        placed_at TIMESTAMP, lines INTEGER NOT NULL, stored INTEGER NOT NULL,
        duplicate INTEGER NOT NULL, quarantined INTEGER NOT NULL, error VARCHAR,
        error_at TIMESTAMP);

-- monitor.delivery
CREATE TABLE IF NOT EXISTS webhook_deliveries (
        alert_id VARCHAR PRIMARY KEY, watch_id VARCHAR NOT NULL, owner VARCHAR NOT NULL,
        url VARCHAR NOT NULL, status VARCHAR NOT NULL, attempts INTEGER,
        last_error VARCHAR, queued_at TIMESTAMP, finished_at TIMESTAMP);

-- monitor.alerts
CREATE TABLE IF NOT EXISTS alerts (
        alert_id VARCHAR PRIMARY KEY, watch_id VARCHAR NOT NULL, owner VARCHAR NOT NULL,
        org VARCHAR, case_id VARCHAR, identity_id VARCHAR, record_id VARCHAR,
        segment VARCHAR, kind VARCHAR, rules VARCHAR[], notices VARCHAR[], record JSON,
        raised_at TIMESTAMP);
CREATE INDEX IF NOT EXISTS alerts_owner ON alerts (owner);

-- cases.activity
CREATE TABLE IF NOT EXISTS case_activity (
        case_id VARCHAR NOT NULL, seq BIGINT NOT NULL, listed BOOLEAN NOT NULL);
CREATE TABLE IF NOT EXISTS case_activity_upto (
        id INTEGER PRIMARY KEY, upto BIGINT NOT NULL);

-- cases.release
CREATE TABLE IF NOT EXISTS sar_supplements (
        sar_id VARCHAR NOT NULL, case_id VARCHAR NOT NULL, identity_id VARCHAR NOT NULL,
        org VARCHAR NOT NULL, released INTEGER NOT NULL, flagged_at TIMESTAMP NOT NULL,
        sent_by VARCHAR, sent_at TIMESTAMP, PRIMARY KEY (sar_id, case_id));

-- cases.material
CREATE TABLE IF NOT EXISTS case_subjects (
        case_id VARCHAR NOT NULL, identity_id VARCHAR NOT NULL, added_by VARCHAR NOT NULL,
        added_at TIMESTAMP NOT NULL, PRIMARY KEY (case_id, identity_id));
CREATE TABLE IF NOT EXISTS case_notes (
        note_id VARCHAR PRIMARY KEY, case_id VARCHAR NOT NULL, identity_id VARCHAR,
        author VARCHAR NOT NULL, noted_at TIMESTAMP NOT NULL, text VARCHAR NOT NULL);
