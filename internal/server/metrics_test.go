package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/server"
	"github.com/countercyclical/webhooks/jobs"
)

// TestMetricsRiverJobsAtIdle: webhooks_river_jobs has a series for each
// queue and state, 0 when no job is there, rather than none.
func TestMetricsRiverJobsAtIdle(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	url := start(t, server.Config{Pool: pool})
	code, body := get(t, url+"/metrics", "", "")
	require.Equal(t, 200, code)
	for _, queue := range []string{jobs.QueueExpand, jobs.QueueDeliver} {
		for _, state := range []string{"available", "scheduled", "retryable", "running"} {
			require.Contains(t, body, fmt.Sprintf("webhooks_river_jobs{queue=%q,state=%q} 0\n", queue, state))
		}
	}

	// A job counts where it is, and only there.
	client, err := jobs.NewClient(pool, jobs.Config{})
	require.NoError(t, err)
	_, err = client.Insert(context.Background(), jobs.DeliverArgs{MessageID: "msg_x", WebhookID: "w"}, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	_, body = get(t, url+"/metrics", "", "")
	require.Contains(t, body, `webhooks_river_jobs{queue="webhook_deliver",state="scheduled"} 1`+"\n")
	require.Contains(t, body, `webhooks_river_jobs{queue="webhook_deliver",state="available"} 0`+"\n")
	require.Contains(t, body, `webhooks_river_jobs{queue="outbox_expand",state="scheduled"} 0`+"\n")
}
