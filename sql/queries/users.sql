-- name: UserInsert :one
INSERT INTO users (email, name) VALUES (@email, @name) RETURNING *;

-- name: UserDisplayName :one
-- UserDisplayName is how people see a user: their name, else their email.
SELECT coalesce(nullif(name, ''), email)::text AS display_name FROM users WHERE id = @id;
