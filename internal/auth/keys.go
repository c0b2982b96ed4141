package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/countercyclical/webhooks/db"
)

// APIKeyPrefix starts every API key, so that a leaked one is recognisable.
const APIKeyPrefix = "whk_"

// ErrNotMember is returned for an API key asked for someone outside the workspace.
var ErrNotMember = errors.New("user is not a member of the workspace")

// CreateAPIKey makes an API key for a member of a workspace and returns it;
// only its hash is stored, so this is the one time it can be seen.
func CreateAPIKey(ctx context.Context, q db.DBTX, workspaceID, userID, name string) (string, db.APIKeyInsertRow, string, error) {
	queries := db.New()
	role, err := queries.WorkspaceMemberGetRole(ctx, q, db.WorkspaceMemberGetRoleParams{WorkspaceID: workspaceID, UserID: userID})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", db.APIKeyInsertRow{}, "", fmt.Errorf("%w: user %q in workspace %q", ErrNotMember, userID, workspaceID)
	}
	if err != nil {
		return "", db.APIKeyInsertRow{}, "", fmt.Errorf("error looking up membership: %w", err)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	key := APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	row, err := queries.APIKeyInsert(ctx, q, db.APIKeyInsertParams{WorkspaceID: workspaceID, UserID: userID, Name: name, KeyHash: Hash(key)})
	if err != nil {
		return "", db.APIKeyInsertRow{}, "", fmt.Errorf("error inserting API key: %w", err)
	}
	return key, row, role, nil
}
