-- +goose Up

-- The W3C traceparent of the request that wrote the outbox row, when that request was traced
-- and sampled: the dispatcher continues its trace, so one trace runs from the write to the
-- socket writes on every node. NULL when tracing is off or the request was not sampled.
ALTER TABLE outbox ADD COLUMN trace_context text;

-- +goose Down
ALTER TABLE outbox DROP COLUMN trace_context;
