package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/countercyclical/webhooks/sql/migrations"
)

func (c *command) migrate(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError{"migrate needs a subcommand: up, down N or version"}
	}
	switch args[0] {
	case "up":
		if len(args) != 1 {
			return usageError{"migrate up takes no arguments"}
		}
		pool, err := c.connect(ctx)
		if err != nil {
			return err
		}
		defer pool.Close()
		if err := migrations.Up(ctx, pool); err != nil {
			return err
		}
		version, _, err := migrations.Version(ctx, pool)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "migrated to version %d\n", version)
		return nil
	case "down":
		if len(args) != 2 {
			return usageError{"migrate down needs the number of migrations to revert, e.g. `migrate down 1`"}
		}
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 1 {
			return usageError{fmt.Sprintf("migrate down: %q is not a positive number of migrations", args[1])}
		}
		pool, err := c.connect(ctx)
		if err != nil {
			return err
		}
		defer pool.Close()
		if err := migrations.Down(ctx, pool, n); err != nil {
			return err
		}
		version, _, err := migrations.Version(ctx, pool)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "reverted to version %d\n", version)
		return nil
	case "version":
		if len(args) != 1 {
			return usageError{"migrate version takes no arguments"}
		}
		pool, err := c.connect(ctx)
		if err != nil {
			return err
		}
		defer pool.Close()
		version, dirty, err := migrations.Version(ctx, pool)
		if err != nil {
			return err
		}
		if dirty {
			fmt.Fprintf(c.stdout, "%d (dirty: the last migration failed part way; fix it by hand, then force the version)\n", version)
			return nil
		}
		fmt.Fprintf(c.stdout, "%d\n", version)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown migrate subcommand %q: want up, down N or version", args[0])}
	}
}
