-- name: AssumptionInsert :one
INSERT INTO assumptions (workspace_id, created_by, valuation_id, name, value, unit, visibility, team_id)
VALUES (@workspace_id, @created_by, @valuation_id, @name, @value, @unit, @visibility, @team_id)
RETURNING *;
