// Package migrations owns the database schema: the project's golang-migrate
// migrations, embedded in the binary, and the order in which they run after
// River's own migrations.
//
// It imports nothing of this project.
package migrations

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed *.sql
var files embed.FS

// FS holds the project's migration files (000001_name.up.sql, .down.sql).
var FS fs.FS = files

// Up applies River's migrations and then the project's. Running it on a
// database that is already current changes nothing.
func Up(ctx context.Context, pool *pgxpool.Pool) error {
	riverMigrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("error creating River migrator: %w", err)
	}
	if _, err := riverMigrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("error applying River migrations: %w", err)
	}
	return withMigrate(pool, func(m *migrate.Migrate) error {
		if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
			return fmt.Errorf("error applying migrations: %w", err)
		}
		return nil
	})
}

// Down reverts the last n of the project's migrations. River's tables stay.
func Down(ctx context.Context, pool *pgxpool.Pool, n int) error {
	if n < 1 {
		return fmt.Errorf("error reverting migrations: steps must be at least 1, got %d", n)
	}
	return withMigrate(pool, func(m *migrate.Migrate) error {
		version, _, err := m.Version()
		if errors.Is(err, migrate.ErrNilVersion) {
			return errors.New("error reverting migrations: no migration is applied")
		}
		if err != nil {
			return fmt.Errorf("error reading migration version: %w", err)
		}
		if applied := countUpTo(version); n > applied {
			return fmt.Errorf("error reverting migrations: %d steps asked but only %d applied", n, applied)
		}
		if err := m.Steps(-n); err != nil {
			return fmt.Errorf("error reverting migrations: %w", err)
		}
		return nil
	})
}

// Version returns the project's applied migration version (0 when none) and
// whether the last migration failed half way (dirty).
func Version(ctx context.Context, pool *pgxpool.Pool) (version uint, dirty bool, err error) {
	err = withMigrate(pool, func(m *migrate.Migrate) error {
		version, dirty, err = m.Version()
		if errors.Is(err, migrate.ErrNilVersion) {
			version, dirty, err = 0, false, nil
		}
		if err != nil {
			return fmt.Errorf("error reading migration version: %w", err)
		}
		return nil
	})
	return version, dirty, err
}

// Latest returns the version of the newest embedded migration.
func Latest() uint {
	names, _ := fs.Glob(FS, "*.up.sql")
	var latest uint
	for _, name := range names {
		var v uint
		if _, err := fmt.Sscanf(name, "%d_", &v); err == nil && v > latest {
			latest = v
		}
	}
	return latest
}

// countUpTo counts the embedded migrations up to version: the steps down
// to zero, which is not the version where numbers were skipped (numbers
// are taken by branches before they merge).
func countUpTo(version uint) int {
	names, _ := fs.Glob(FS, "*.up.sql")
	n := 0
	for _, name := range names {
		var v uint
		if _, err := fmt.Sscanf(name, "%d_", &v); err == nil && v <= version {
			n++
		}
	}
	return n
}

// Fingerprint identifies the schema that Up builds: River's migrations and the
// project's. Test harnesses key migrated template databases on it.
func Fingerprint() string {
	h := sha256.New()
	riverMigrator, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err == nil {
		for _, m := range riverMigrator.AllVersions() {
			fmt.Fprintf(h, "river %d\n%s\n", m.Version, m.SQLUp)
		}
	}
	names, _ := fs.Glob(FS, "*.sql")
	sort.Strings(names)
	for _, name := range names {
		b, _ := fs.ReadFile(FS, name)
		fmt.Fprintf(h, "%s\n%s\n", name, b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func withMigrate(pool *pgxpool.Pool, fn func(*migrate.Migrate) error) error {
	source, err := iofs.New(FS, ".")
	if err != nil {
		return fmt.Errorf("error reading embedded migrations: %w", err)
	}
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer sqlDB.Close()
	driver, err := migratepgx.WithInstance(sqlDB, &migratepgx.Config{})
	if err != nil {
		return fmt.Errorf("error opening migration driver: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", source, "pgx5", driver)
	if err != nil {
		return fmt.Errorf("error creating migrator: %w", err)
	}
	defer m.Close()
	return fn(m)
}
