-- 000019's index, which covers state (and so makes no message update HOT).
DROP INDEX webhooks.messages_replay_id_idx;
CREATE INDEX messages_replay_id_idx ON webhooks.messages (replay_id, state) WHERE replay_id IS NOT NULL;
