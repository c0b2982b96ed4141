-- Fan-out: who may read what, and the messages expansion makes.

-- can_read answers the role-scoping question for a webhook's creator, with
-- their membership now: owners and admins read everything of their
-- workspace; members what is Workspace-visible, what they created, what is
-- Team-visible to a team they are in, and rows without visibility (teams);
-- guests only what is Workspace-visible; non-members nothing. Expansion asks
-- it of the new row for created/updated and the old row for deleted, and
-- admins may ask it the same way.
CREATE FUNCTION webhooks.can_read(user_id text, workspace_id text, created_by text, visibility text, team_id text)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
RETURN coalesce((
    SELECT CASE m.role
        WHEN 'owner' THEN true
        WHEN 'admin' THEN true
        WHEN 'member' THEN
            visibility IS NULL
            OR visibility = 'Workspace'
            OR created_by = can_read.user_id
            OR (visibility = 'Team' AND EXISTS (
                SELECT 1 FROM public.team_members tm WHERE tm.team_id = can_read.team_id AND tm.user_id = can_read.user_id))
        WHEN 'guest' THEN visibility = 'Workspace'
        ELSE false
    END
    FROM public.workspace_members m
    WHERE m.workspace_id = can_read.workspace_id AND m.user_id = can_read.user_id
), false);

-- messages are the (event, webhook) pairs expansion made: one delivery job
-- each. The unique pair is the database's guard against expanding an event
-- twice. webhook_id has no foreign key: a deleted webhook's history stays.
CREATE TABLE webhooks.messages (
    id text PRIMARY KEY CHECK (id ~ '^msg_[0-9A-Za-z]{27}$'),
    outbox_id bigint NOT NULL REFERENCES webhooks.outbox (id) ON DELETE CASCADE,
    webhook_id text NOT NULL,
    workspace_id text NOT NULL,
    event_type text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT messages_outbox_id_webhook_id_key UNIQUE (outbox_id, webhook_id)
);
CREATE INDEX messages_webhook_id_idx ON webhooks.messages (webhook_id, created_at);
