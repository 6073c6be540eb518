-- +goose Up
CREATE TABLE instances (
    id                    text PRIMARY KEY,
    organization_id       text NOT NULL REFERENCES organizations (id),
    name                  text NOT NULL,
    kind                  text NOT NULL CHECK (kind IN ('realtime', 'breaker')),
    region                text NOT NULL,
    size                  text NOT NULL,
    state                 text NOT NULL CHECK (state IN ('pending', 'provisioning', 'running', 'updating', 'failed', 'deleting', 'deleted')),
    state_detail          text NOT NULL DEFAULT '',
    failure_reason        text NOT NULL DEFAULT '',
    endpoint_url          text NOT NULL DEFAULT '',
    allow_region_fallback boolean NOT NULL DEFAULT false,
    -- Provisioning checkpoints: what the workers created, so a retry resumes.
    fly_app_name          text NOT NULL DEFAULT '',
    fly_machine_id        text NOT NULL DEFAULT '',
    generation            bigint NOT NULL DEFAULT 1,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    deleted_at            timestamptz
);
-- Names are unique among an organization's live instances.
CREATE UNIQUE INDEX instances_org_name_key ON instances (organization_id, name) WHERE state <> 'deleted';
CREATE INDEX instances_org_idx ON instances (organization_id, id);

-- +goose Down
DROP TABLE instances;
