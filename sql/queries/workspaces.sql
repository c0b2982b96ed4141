-- name: WorkspaceInsert :one
-- WorkspaceInsert creates a workspace.
INSERT INTO workspaces (name) VALUES (@name) RETURNING *;
