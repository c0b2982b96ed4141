package cli

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/jobs"
)

// TestReindexAt: WEBHOOKS_REINDEX_AT is HH:MM in UTC or off, and reads
// back as it was written; anything else names the variable.
func TestReindexAt(t *testing.T) {
	for s, want := range map[string]time.Duration{"00:00": 0, "03:30": 3*time.Hour + 30*time.Minute, "23:59": 23*time.Hour + 59*time.Minute, "off": jobs.NoReindex} {
		at, err := reindexAt(s)
		require.NoError(t, err, s)
		require.Equal(t, want, at, s)
		require.Equal(t, s, reindexAtString(at))
	}
	for _, s := range []string{"24:00", "12:60", "3pm", "03:30:00", "OFF", "never", "-01:00"} {
		_, err := reindexAt(s)
		require.EqualError(t, err, `WEBHOOKS_REINDEX_AT="`+s+`" is not a time of day in UTC such as 03:30, or off`)
	}
}
