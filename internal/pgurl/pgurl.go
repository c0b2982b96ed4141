// Package pgurl rewrites and describes PostgreSQL connection strings, in both
// the URL form and the keyword=value form that libpq and pgx accept.
//
// It imports nothing of this project.
package pgurl

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
)

// WithDatabase returns connString pointed at another database on the same
// server, with the same user and options.
func WithDatabase(connString, database string) (string, error) {
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		u, err := url.Parse(connString)
		if err != nil {
			return "", fmt.Errorf("error parsing database URL: %w", err)
		}
		u.Path = "/" + database
		u.RawPath = ""
		return u.String(), nil
	}
	// In the keyword=value form a later keyword overrides an earlier one.
	return strings.TrimSpace(connString + " dbname='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(database) + "'"), nil
}

// Database returns the database a connection string names.
func Database(connString string) (string, error) {
	config, err := pgx.ParseConfig(connString)
	if err != nil {
		return "", fmt.Errorf("error parsing database URL: %w", err)
	}
	return config.Database, nil
}

// Server describes where a connection string leads, as host:port (or the
// socket directory), for error messages.
func Server(connString string) string {
	config, err := pgx.ParseConfig(connString)
	if err != nil {
		return "an unparsable DATABASE_URL"
	}
	if strings.HasPrefix(config.Host, "/") {
		return fmt.Sprintf("%s/.s.PGSQL.%d", config.Host, config.Port)
	}
	return fmt.Sprintf("%s:%d", config.Host, config.Port)
}
