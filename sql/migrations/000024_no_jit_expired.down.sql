ALTER FUNCTION webhooks.expired_partitions(timestamptz) RESET jit;
