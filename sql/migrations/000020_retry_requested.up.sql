-- When someone last asked for a message waiting to retry to be sent at once
-- (POST /v1/messages/{id}/retry on a retrying message, "Retry now" on the
-- page). That brings the message's scheduled job forward with River's
-- JobRetry, whose args cannot say who asked: the attempt that follows the
-- request is logged as a manual retry by reading this. Null for nearly
-- every message, so it costs no bytes; not indexed, so setting it is a HOT
-- update.
ALTER TABLE webhooks.messages ADD COLUMN retry_requested_at timestamptz;
