// Package chaos holds the chaos test: the real binary's worker processes
// killed with SIGKILL again and again, their PostgreSQL restarted and their
// receiver taken down, while the app writes; every (event, webhook) must
// arrive. It starts a PostgreSQL server of its own and never touches
// another. `make test` runs its short form (WEBHOOKS_CHAOS=short), `make
// chaos` its long one (WEBHOOKS_CHAOS=long); without the variable it skips.
//
// It is tests alone; nothing imports it.
package chaos
