package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/auth"
)

func (c *command) apikey(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError{"apikey needs a subcommand: create or revoke"}
	}
	switch args[0] {
	case "create":
		fs := flag.NewFlagSet("apikey create", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		workspace := fs.String("workspace", "", "workspace id")
		user := fs.String("user", "", "user id")
		name := fs.String("name", "", "what the key is for")
		if err := fs.Parse(args[1:]); err != nil {
			return usageError{"apikey create: " + err.Error()}
		}
		switch {
		case fs.NArg() != 0:
			return usageError{fmt.Sprintf("apikey create takes flags only, not %q", fs.Arg(0))}
		case *workspace == "" || *user == "":
			return usageError{"apikey create needs --workspace W and --user U"}
		}
		pool, err := c.connect(ctx)
		if err != nil {
			return err
		}
		defer pool.Close()
		key, row, role, err := auth.CreateAPIKey(ctx, pool, *workspace, *user, *name)
		if errors.Is(err, auth.ErrNotMember) {
			return fmt.Errorf("user %q is not a member of workspace %q: add them to workspace_members first", *user, *workspace)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "created API key %s for user %s (%s) in workspace %s; it is shown once:\n", row.ID, row.UserID, role, row.WorkspaceID)
		fmt.Fprintln(c.stdout, key)
		return nil
	case "revoke":
		if len(args) != 2 {
			return usageError{"apikey revoke needs the key's id (not the key), e.g. `apikey revoke 3nD…`"}
		}
		pool, err := c.connect(ctx)
		if err != nil {
			return err
		}
		defer pool.Close()
		n, err := db.New().APIKeyRevoke(ctx, pool, args[1])
		if err != nil {
			return fmt.Errorf("error revoking API key: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("no API key with id %q (give the id printed by `apikey create`, not the key)", args[1])
		}
		fmt.Fprintf(c.stderr, "revoked API key %s\n", args[1])
		return nil
	default:
		return usageError{fmt.Sprintf("unknown apikey subcommand %q: want create or revoke", args[0])}
	}
}
