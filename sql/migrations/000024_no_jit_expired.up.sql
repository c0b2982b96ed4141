-- expired_partitions counts, for each slice past the retention, the jobs
-- and events that still hold it. PostgreSQL estimates that at hundreds of
-- thousands (a count over river_job per slice), above jit_above_cost, and
-- compiled the query at every call, though it reads a few index pages.
-- Measured in a 30-minute soak (slices of a minute, checked every 15 s, on
-- a private server with default settings): 0.5-1.5 s a call, 13.0 s of the
-- 17.2 s that 68 calls took were JIT compilation, a core each time.
ALTER FUNCTION webhooks.expired_partitions(timestamptz) SET jit = off;
