-- +goose Up
-- Data-plane tokens (sb_dp_…): scoped to one instance. Provisioning mints the
-- managed one (created_by 'system') and sets it as the app's secret;
-- DataPlaneTokenService adds customer-made ones for self-hosted data planes.
CREATE TABLE data_plane_tokens (
    id           text PRIMARY KEY,
    instance_id  text NOT NULL REFERENCES instances (id),
    name         text NOT NULL,
    prefix       text NOT NULL,
    secret_hash  bytea NOT NULL,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX data_plane_tokens_instance_idx ON data_plane_tokens (instance_id, id);

-- Checkpoint: the managed token whose secret is confirmed set on the app.
ALTER TABLE instances ADD COLUMN data_plane_token_id text NOT NULL DEFAULT '';
-- Workers look instances up by state (reconcile).
CREATE INDEX instances_state_idx ON instances (state) WHERE state <> 'deleted';

-- Per-organization instance quota; NULL means the service default.
ALTER TABLE organizations ADD COLUMN instance_quota integer CHECK (instance_quota >= 0);

-- +goose Down
ALTER TABLE organizations DROP COLUMN instance_quota;
DROP INDEX instances_state_idx;
ALTER TABLE instances DROP COLUMN data_plane_token_id;
DROP TABLE data_plane_tokens;
