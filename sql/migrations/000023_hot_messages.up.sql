-- A message's update from pending to succeeded, once per delivery, is again
-- made in place (a HOT update), as 000008 and 000014 meant it to be.
-- 000019's index of replays' messages covered state, and PostgreSQL makes an
-- update HOT only when no indexed column changes, in any index, partial or
-- not: since 000019 every delivery wrote a new row version and a new entry
-- in each of messages' five indexes, and left a dead row for vacuum. In a
-- 30-minute soak messages took 614 bytes each against 453 before, and no
-- update of the 120,000 a minute was HOT.
--
-- The new index finds a replay's messages as before; their states are read
-- from the rows (ReplayGet and ReplayLatest count them). It is built by
-- reading every message once, under a lock that holds writes to messages
-- until the migration commits: 0.67 s for 5 million messages (1.4 GB, in
-- memory) on a 2-core machine. Counting a replay of a million messages
-- took 230-260 ms after, against 400-440 ms with the index it replaces.
DROP INDEX webhooks.messages_replay_id_idx;
CREATE INDEX messages_replay_id_idx ON webhooks.messages (replay_id) WHERE replay_id IS NOT NULL;
