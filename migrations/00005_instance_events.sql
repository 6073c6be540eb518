-- +goose Up
-- Every change of an instance's state, step or endpoint, recorded by a
-- trigger in the changing transaction, so WatchInstance streams each step
-- in order even when steps are shorter than its poll interval, on any API
-- replica.
CREATE TABLE instance_events (
    id             bigserial PRIMARY KEY,
    instance_id    text NOT NULL REFERENCES instances (id),
    state          text NOT NULL,
    state_detail   text NOT NULL,
    endpoint_url   text NOT NULL,
    failure_reason text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instance_events_instance_idx ON instance_events (instance_id, id);

-- +goose StatementBegin
CREATE FUNCTION record_instance_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT'
        OR OLD.state IS DISTINCT FROM NEW.state
        OR OLD.state_detail IS DISTINCT FROM NEW.state_detail
        OR OLD.endpoint_url IS DISTINCT FROM NEW.endpoint_url THEN
        INSERT INTO instance_events (instance_id, state, state_detail, endpoint_url, failure_reason)
        VALUES (NEW.id, NEW.state, NEW.state_detail, NEW.endpoint_url, NEW.failure_reason);
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER instances_record_event AFTER INSERT OR UPDATE ON instances
    FOR EACH ROW EXECUTE FUNCTION record_instance_event();

-- +goose Down
DROP TRIGGER instances_record_event ON instances;
DROP FUNCTION record_instance_event();
DROP TABLE instance_events;
