-- name: InvestmentInsert :one
INSERT INTO investments (workspace_id, created_by, name, ticker_symbol, visibility, team_id)
VALUES (@workspace_id, @created_by, @name, @ticker_symbol, @visibility, @team_id)
RETURNING *;

-- name: InvestmentGetByID :one
SELECT * FROM investments WHERE id = @id;
