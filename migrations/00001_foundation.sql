-- +goose Up
CREATE TABLE users (
    id            text PRIMARY KEY,
    email         text NOT NULL,
    name          text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE organizations (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    slug       text NOT NULL,
    personal   boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted_at timestamptz
);
-- A deleted organization gives up its slug.
CREATE UNIQUE INDEX organizations_slug_key ON organizations (slug) WHERE deleted_at IS NULL;

CREATE TABLE memberships (
    organization_id text NOT NULL REFERENCES organizations (id),
    user_id         text NOT NULL REFERENCES users (id),
    role            text NOT NULL CHECK (role IN ('viewer', 'member', 'admin', 'owner')),
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id, organization_id);

CREATE TABLE sessions (
    id           text PRIMARY KEY,
    user_id      text NOT NULL REFERENCES users (id),
    secret_hash  bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE TABLE api_keys (
    id              text PRIMARY KEY,
    organization_id text NOT NULL REFERENCES organizations (id),
    name            text NOT NULL,
    role            text NOT NULL CHECK (role IN ('viewer', 'member', 'admin', 'owner')),
    prefix          text NOT NULL,
    secret_hash     bytea NOT NULL,
    created_by      text NOT NULL REFERENCES users (id),
    created_at      timestamptz NOT NULL,
    last_used_at    timestamptz,
    expires_at      timestamptz,
    revoked_at      timestamptz
);
CREATE INDEX api_keys_org_idx ON api_keys (organization_id, id);

CREATE TABLE audit_events (
    id              text PRIMARY KEY,
    organization_id text NOT NULL REFERENCES organizations (id),
    actor           text NOT NULL,
    action          text NOT NULL,
    resource_id     text NOT NULL,
    details         jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL
);
CREATE INDEX audit_events_org_idx ON audit_events (organization_id, id DESC);

-- Failed log-ins, for rate limiting per email and per client address.
CREATE TABLE login_failures (
    key        text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX login_failures_key_idx ON login_failures (key, created_at);

-- +goose Down
DROP TABLE login_failures, audit_events, api_keys, sessions, memberships, organizations, users;
