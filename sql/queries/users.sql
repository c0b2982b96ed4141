-- name: UserInsert :one
INSERT INTO users (email, name) VALUES (@email, @name) RETURNING *;

-- name: UserGetByID :one
SELECT * FROM users WHERE id = @id;
