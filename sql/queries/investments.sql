-- name: InvestmentInsert :one
INSERT INTO investments (workspace_id, created_by, name, ticker_symbol, visibility, team_id)
VALUES (@workspace_id, @created_by, @name, @ticker_symbol, @visibility, @team_id)
RETURNING *;
