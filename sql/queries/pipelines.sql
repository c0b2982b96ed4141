-- name: PipelineInsert :one
INSERT INTO pipelines (workspace_id, created_by, name, stages, visibility, team_id)
VALUES (@workspace_id, @created_by, @name, @stages, @visibility, @team_id)
RETURNING *;
