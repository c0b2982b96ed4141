-- name: MemoInsert :one
INSERT INTO memos (workspace_id, created_by, investment_id, title, body, visibility, team_id)
VALUES (@workspace_id, @created_by, @investment_id, @title, @body, @visibility, @team_id)
RETURNING *;
