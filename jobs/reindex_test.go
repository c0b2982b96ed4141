package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/riverjob"
	"github.com/countercyclical/webhooks/jobs"
)

// TestReindexSchedule: ReindexAt is a time of day in UTC; River asks for
// the next run with the time of the run it started, which must not come
// round again; NoReindex never runs; anything else is refused.
func TestReindexSchedule(t *testing.T) {
	t.Parallel()
	at := jobs.ReindexSchedule(3*time.Hour + 30*time.Minute)
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	require.Equal(t, day.Add(3*time.Hour+30*time.Minute), at.Next(day.Add(time.Hour)), "later that day")
	require.Equal(t, day.Add(27*time.Hour+30*time.Minute), at.Next(day.Add(3*time.Hour+30*time.Minute)), "the run just started: the next day")
	require.Equal(t, day.Add(27*time.Hour+30*time.Minute), at.Next(day.Add(5*time.Hour)), "past it: the next day")
	berlin := time.FixedZone("CET", 3600)
	require.Equal(t, day.Add(3*time.Hour+30*time.Minute), at.Next(time.Date(2026, 12, 1, 2, 0, 0, 0, berlin)), "in UTC, whatever the zone asked in")
	require.Equal(t, day.Add(24*time.Hour), jobs.ReindexSchedule(0).Next(day), "0 is midnight, River's default")

	require.Greater(t, jobs.ReindexSchedule(jobs.NoReindex).Next(day).Sub(day), 100*365*24*time.Hour, "off: never")

	pool := dbtest.NewPool(t)
	for _, bad := range []time.Duration{24 * time.Hour, -2 * time.Minute} {
		_, err := jobs.NewRunner(pool, jobs.Config{ReindexAt: bad})
		require.ErrorContains(t, err, "is not a time of day", bad)
	}
}

// TestReindexAt: River's reindexer rebuilds each index it names at the
// time of day set, and not before.
func TestReindexAt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	files := func() map[string]uint32 {
		out := map[string]uint32{}
		for _, name := range riverjob.Reindexed() {
			var file uint32
			require.NoError(t, pool.QueryRow(ctx, `SELECT pg_relation_filenode($1::regclass)::oid`, name).Scan(&file))
			out[name] = file
		}
		return out
	}
	before := files()
	now := time.Now().UTC()
	// Long enough ahead that River has elected its leader and started the
	// reindexer by then (else the first run is tomorrow's).
	due := now.Add(10 * time.Second)
	startRunner(t, pool, jobs.Config{ReindexAt: due.Sub(due.Truncate(24 * time.Hour))})
	require.Equal(t, before, files(), "nothing rebuilt before the time set")
	require.Eventually(t, func() bool {
		after := files()
		for name, file := range before {
			if after[name] == file {
				return false
			}
		}
		return true
	}, time.Minute, 200*time.Millisecond, "every index River names rebuilt after %s", due)
	require.False(t, time.Now().Before(due), "rebuilt at the time set, not before")
}
