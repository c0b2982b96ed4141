-- name: TeamInsert :one
INSERT INTO teams (workspace_id, name, description) VALUES (@workspace_id, @name, @description) RETURNING *;

-- name: TeamMemberInsert :exec
INSERT INTO team_members (team_id, user_id) VALUES (@team_id, @user_id) ON CONFLICT DO NOTHING;
