-- +goose Up
-- Immutable config versions. spec is the config message (BreakerConfig or
-- RealtimeConfig) in protobuf binary, with defaults filled in.
CREATE TABLE config_versions (
    instance_id text NOT NULL REFERENCES instances (id),
    version     bigint NOT NULL CHECK (version > 0),
    spec        bytea NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (instance_id, version)
);

ALTER TABLE instances
    ADD COLUMN config_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN published_version bigint NOT NULL DEFAULT 0;

-- Numbers the CDN change feed (changes/{sequence} in S3).
CREATE SEQUENCE publish_sequence;

-- What each data-plane node last reported.
CREATE TABLE data_plane_nodes (
    instance_id     text NOT NULL REFERENCES instances (id),
    node_id         text NOT NULL,
    applied_version bigint NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    last_sync_at    timestamptz,
    last_error      text NOT NULL DEFAULT '',
    agent_version   text NOT NULL DEFAULT '',
    breaker_states  jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (instance_id, node_id)
);

-- +goose Down
DROP TABLE data_plane_nodes;
DROP SEQUENCE publish_sequence;
ALTER TABLE instances DROP COLUMN config_version, DROP COLUMN published_version;
DROP TABLE config_versions;
