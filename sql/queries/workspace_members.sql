-- name: WorkspaceMemberUpsert :one
-- WorkspaceMemberUpsert adds a user to a workspace or changes their role.
INSERT INTO workspace_members (workspace_id, user_id, role)
VALUES (@workspace_id, @user_id, @role)
ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role
RETURNING *;

-- name: WorkspaceMemberGetRole :one
SELECT role FROM workspace_members WHERE workspace_id = @workspace_id AND user_id = @user_id;
