-- name: OrderedQueueInsertMany :exec
-- OrderedQueueInsertMany queues messages of ordered webhooks, waiting (not
-- released): expansion's, in the transaction that makes them, and a
-- replay's; trigger is what queued them ('' for expansion).
INSERT INTO webhooks.ordered_queue (webhook_id, resource, outbox_id, message_id, captured_at, event_type, trigger)
SELECT unnest(@webhook_ids::text[]), unnest(@resources::text[]), unnest(@outbox_ids::bigint[]),
    unnest(@message_ids::text[]), unnest(@captured_ats::timestamptz[]), unnest(@event_types::text[]), nullif(@trigger::text, '');

-- name: OrderedLock :exec
-- OrderedLock takes, for the transaction, the lock that every change of
-- the ordered queue but an insert at expansion takes first: one releaser at
-- a time, so that no resource ever has two messages released. Its key is
-- arbitrary, fixed (hashtext('webhooks.ordered_queue')).
SELECT pg_advisory_xact_lock(1779263781);

-- name: OrderedRelease :many
-- OrderedRelease releases, for each given resource (webhook_ids[i],
-- resources[i]) of an ordered webhook that has no message released, its
-- first waiting message (in the queue's order, see migration 000018), and
-- returns what its delivery job needs: an index probe or two a resource,
-- however many wait. A message is held back while an event before it is
-- still to be expanded (a concurrent expansion holds it): it may be about
-- the same resource (OrderedHeld).
WITH heads AS (
    SELECT h.message_id, h.outbox_id, h.trigger
    FROM (SELECT DISTINCT u.webhook_id, u.resource FROM (SELECT unnest(@webhook_ids::text[]) AS webhook_id, unnest(@resources::text[]) AS resource) u) k
    CROSS JOIN LATERAL (
        SELECT q.message_id, q.outbox_id, q.trigger FROM webhooks.ordered_queue q
        WHERE q.webhook_id = k.webhook_id AND q.resource = k.resource AND NOT q.released
        ORDER BY (q.trigger IS NOT NULL), q.outbox_id, q.message_id
        LIMIT 1
    ) h
    WHERE NOT EXISTS (
        SELECT 1 FROM webhooks.ordered_queue r
        WHERE r.webhook_id = k.webhook_id AND r.resource = k.resource AND r.released)
)
UPDATE webhooks.ordered_queue q SET released = true
FROM heads h
WHERE q.message_id = h.message_id
  AND (h.trigger IS NOT NULL OR q.outbox_id < coalesce((SELECT min(c.id) FROM webhooks.capture_queue c), 9223372036854775807))
RETURNING q.message_id, q.webhook_id, q.event_type, q.captured_at, coalesce(q.trigger, '')::text AS trigger;

-- name: OrderedReleaseAll :many
-- OrderedReleaseAll is OrderedRelease for every resource: it reads every
-- waiting message, for the sweep every few seconds.
WITH heads AS (
    SELECT DISTINCT ON (q.webhook_id, q.resource) q.message_id, q.outbox_id, q.trigger
    FROM webhooks.ordered_queue q
    WHERE NOT q.released
      AND NOT EXISTS (
          SELECT 1 FROM webhooks.ordered_queue r
          WHERE r.webhook_id = q.webhook_id AND r.resource = q.resource AND r.released)
    ORDER BY q.webhook_id, q.resource, (q.trigger IS NOT NULL), q.outbox_id, q.message_id
)
UPDATE webhooks.ordered_queue q SET released = true
FROM heads h
WHERE q.message_id = h.message_id
  AND (h.trigger IS NOT NULL OR q.outbox_id < coalesce((SELECT min(c.id) FROM webhooks.capture_queue c), 9223372036854775807))
RETURNING q.message_id, q.webhook_id, q.event_type, q.captured_at, coalesce(q.trigger, '')::text AS trigger;

-- name: OrderedHeld :many
-- OrderedHeld lists which of the given resources have messages waiting and
-- none released: held back by a concurrent expansion, to be released again.
SELECT k.webhook_id::text AS webhook_id, k.resource::text AS resource
FROM (SELECT DISTINCT u.webhook_id, u.resource FROM (SELECT unnest(@webhook_ids::text[]) AS webhook_id, unnest(@resources::text[]) AS resource) u) k
WHERE EXISTS (
        SELECT 1 FROM webhooks.ordered_queue q
        WHERE q.webhook_id = k.webhook_id AND q.resource = k.resource AND NOT q.released)
  AND NOT EXISTS (
        SELECT 1 FROM webhooks.ordered_queue r
        WHERE r.webhook_id = k.webhook_id AND r.resource = k.resource AND r.released);

-- name: OrderedFinish :many
-- OrderedFinish takes finished messages (succeeded, cancelled, skipped) out
-- of the queue, and returns their resources, to release the next.
DELETE FROM webhooks.ordered_queue WHERE message_id = ANY (@message_ids::text[])
RETURNING webhook_id, resource;

-- name: OrderedFinishedSweep :many
-- OrderedFinishedSweep takes out of the queue the released messages that
-- finished without saying so (a crash between a delivery's record and its
-- finish) or no longer exist (retention removed them), and returns their
-- resources.
DELETE FROM webhooks.ordered_queue q
WHERE q.released AND NOT EXISTS (
    SELECT 1 FROM webhooks.messages m
    WHERE m.id = q.message_id AND m.captured_at = q.captured_at AND m.state NOT IN ('succeeded', 'cancelled'))
RETURNING q.webhook_id, q.resource;

-- name: OrderedOrphans :many
-- OrderedOrphans are released messages still to be sent that have no
-- delivery job to send them: its job ended without finishing them (its
-- process killed during its last attempt, then discarded by River's
-- rescuer; or cancelled in River UI). Their resources would wait for good.
SELECT q.message_id, q.webhook_id, q.event_type, q.captured_at, coalesce(q.trigger, '')::text AS trigger
FROM webhooks.ordered_queue q
JOIN webhooks.messages m ON m.id = q.message_id AND m.captured_at = q.captured_at
WHERE q.released AND m.state IN ('pending', 'retrying')
  AND NOT EXISTS (
      SELECT 1 FROM river_job j
      WHERE j.kind = 'webhook_deliver' AND j.args ->> 'messageId' = q.message_id
        AND j.state IN ('available', 'scheduled', 'retryable'))
  AND NOT EXISTS (
      SELECT 1 FROM river_job j
      WHERE j.state IN ('running', 'pending') AND j.kind = 'webhook_deliver' AND j.args ->> 'messageId' = q.message_id);

-- name: OrderedQueued :many
-- OrderedQueued lists which of the given messages are in the ordered queue,
-- and whether released.
SELECT message_id, released FROM webhooks.ordered_queue WHERE message_id = ANY (@message_ids::text[]);

-- name: OrderedRequeue :many
-- OrderedRequeue puts messages of an ordered webhook asked to be sent again
-- (a retry, a recover) back in their resource's queue, waiting; those still
-- in it (a head that failed) are left as they are and not returned.
INSERT INTO webhooks.ordered_queue (webhook_id, resource, outbox_id, message_id, captured_at, event_type, trigger)
SELECT m.webhook_id, o.resource_type || '/' || o.resource_id, m.outbox_id, m.id, m.captured_at, m.event_type, @trigger::text
FROM webhooks.messages m
JOIN webhooks.outbox o ON o.id = m.outbox_id AND o.captured_at = m.captured_at
WHERE m.id = ANY (@message_ids::text[])
ON CONFLICT (message_id) DO NOTHING
RETURNING message_id, webhook_id, resource;

-- name: OrderedReleaseWebhook :many
-- OrderedReleaseWebhook releases every message of a webhook that is no
-- longer ordered, and empties its queue.
DELETE FROM webhooks.ordered_queue q WHERE q.webhook_id = @webhook_id
RETURNING q.message_id, q.webhook_id, q.event_type, q.captured_at, q.released, coalesce(q.trigger, '')::text AS trigger;

-- name: OrderedWaitingBehind :many
-- OrderedWaitingBehind names, for those of the given messages that wait,
-- the message of their resource they wait behind: the one released, or the
-- first held back.
SELECT q.message_id, h.message_id AS behind, q.resource
FROM webhooks.ordered_queue q
CROSS JOIN LATERAL (
    SELECT h.message_id FROM webhooks.ordered_queue h
    WHERE h.webhook_id = q.webhook_id AND h.resource = q.resource AND h.message_id <> q.message_id
      AND (h.released OR ((h.trigger IS NOT NULL), h.outbox_id, h.message_id) < ((q.trigger IS NOT NULL), q.outbox_id, q.message_id))
    ORDER BY h.released DESC, (h.trigger IS NOT NULL), h.outbox_id, h.message_id
    LIMIT 1
) h
WHERE q.message_id = ANY (@message_ids::text[]) AND NOT q.released;

-- name: OrderedHead :one
-- OrderedHead is a message's place in its resource's queue: whether it is
-- released (the one under way), and its resource.
SELECT released, resource, webhook_id FROM webhooks.ordered_queue WHERE message_id = @message_id;
