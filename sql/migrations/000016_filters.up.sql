-- Filters: a webhook may narrow its events by their payload (filter, in the
-- language of internal/filter, checked by the API) and, for *.updated
-- events, by the columns that changed (changed_columns, payload keys as a
-- receiver gets them). Expansion applies both, so an event that does not
-- match costs no message and no delivery job. NULL is no filter.
ALTER TABLE webhooks.webhooks
    ADD COLUMN filter jsonb CHECK (jsonb_typeof(filter) = 'object'),
    ADD COLUMN changed_columns text[] CHECK (cardinality(changed_columns) > 0);
