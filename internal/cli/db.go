package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/countercyclical/webhooks/internal/pgurl"
)

// db holds the two steps of scripts/db.sh that need a PostgreSQL client,
// which a machine with only Go does not have.
func (c *command) db(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError{"db needs a subcommand: ping URL or create"}
	}
	switch args[0] {
	case "ping":
		if len(args) != 2 {
			return usageError{"db ping needs a connection string"}
		}
		return ping(ctx, args[1])
	case "create":
		if len(args) != 1 {
			return usageError{"db create takes no arguments; it creates the database of DATABASE_URL"}
		}
		return c.createDatabase(ctx)
	default:
		return usageError{fmt.Sprintf("unknown db subcommand %q: want ping or create", args[0])}
	}
}

// ping succeeds when a server answers at url and lets us in. A missing
// database still counts: the server answers, and `db create` makes it.
func ping(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.InvalidCatalogName {
			return nil
		}
		return unreachable(url, err)
	}
	return conn.Close(ctx)
}

func (c *command) createDatabase(ctx context.Context) error {
	url := c.databaseURL()
	name, err := pgurl.Database(url)
	if err != nil {
		return err
	}
	if name == "" || name == "postgres" {
		return nil
	}
	adminURL, err := pgurl.WithDatabase(url, "postgres")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return unreachable(url, err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("error looking for database %q: %w", name, err)
	}
	if exists {
		fmt.Fprintf(c.stdout, "database %s exists\n", name)
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.DuplicateDatabase {
		err = nil // created meanwhile by someone else: just as good
	}
	if err != nil {
		return fmt.Errorf("error creating database %q: %w", name, err)
	}
	fmt.Fprintf(c.stdout, "database %s created\n", name)
	return nil
}
