-- name: UserInsert :one
INSERT INTO users (email, name) VALUES (@email, @name) RETURNING *;
