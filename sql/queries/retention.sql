-- name: PartitionMake :one
-- PartitionMake makes partitions of length step until they reach until
-- (webhooks.make_partitions) and returns how many it made.
SELECT webhooks.make_partitions(@until::timestamptz, make_interval(secs => @step_seconds::float8))::int AS made;

-- name: PartitionExpiredList :many
-- PartitionExpiredList lists the slices that end before @before, oldest
-- first, with the unexpanded events and undelivered messages that hold each.
SELECT p.from_at::timestamptz AS from_at, p.to_at::timestamptz AS to_at,
    p.unexpanded::bigint AS unexpanded, p.undelivered::bigint AS undelivered
FROM webhooks.expired_partitions(@before::timestamptz) p;

-- name: PartitionState :one
-- PartitionState says where a slice's partition of a log table stands:
-- attached, detaching, detached or gone; and its qualified name.
SELECT webhooks.partition_state(@base::text, @from_at::timestamptz)::text AS state,
    ('webhooks.' || quote_ident(webhooks.partition_name(@base::text, @from_at::timestamptz)))::text AS name;

-- name: PartitionForget :exec
-- PartitionForget removes a slice, its partitions gone, from the list.
DELETE FROM webhooks.partitions WHERE from_at = @from_at;

-- name: PartitionCountAhead :one
-- PartitionCountAhead counts the slices that begin after now: the room the
-- app's writes have before one finds no partition.
SELECT count(*)::int AS ahead FROM webhooks.partitions WHERE from_at > now();

-- name: WebhookStatsDeleteBefore :execrows
-- WebhookStatsDeleteBefore removes roll-up buckets older than the logs they
-- count, and the health of deleted webhooks with nothing in the logs since.
WITH stats AS (
    DELETE FROM webhooks.webhook_stats WHERE bucket < @before
)
DELETE FROM webhooks.webhook_health h
WHERE h.last_attempt_at < @before AND NOT EXISTS (SELECT 1 FROM webhooks.webhooks w WHERE w.id = h.webhook_id);

-- name: RateWindowDeleteStale :exec
DELETE FROM webhooks.rate_windows WHERE window_start < now() - interval '1 minute';
