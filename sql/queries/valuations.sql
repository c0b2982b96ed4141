-- name: ValuationInsert :one
INSERT INTO valuations (workspace_id, created_by, investment_id, name, method, currency, value, visibility, team_id)
VALUES (@workspace_id, @created_by, @investment_id, @name, @method, @currency, @value, @visibility, @team_id)
RETURNING *;
