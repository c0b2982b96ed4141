-- name: WorkspaceInsert :one
-- WorkspaceInsert creates a workspace.
INSERT INTO workspaces (name) VALUES (@name) RETURNING *;

-- name: WorkspaceGetByID :one
SELECT * FROM workspaces WHERE id = @id;
