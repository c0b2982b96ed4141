package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/countercyclical/webhooks/jobs"
)

// filterMatch is the share of the filtered phase's events its filter
// lets through: one in ten.
const filterMatch = 10

// expansion is one expansion of the filtered phase: a backlog of
// events expanded by a client that only expands, timed from its start to
// the queue's end.
type expansion struct {
	EventType string `json:"event_type"`
	Filter    string `json:"filter"`
	// Matching are the events the filter lets through (all without one).
	Matching    int64   `json:"matching_events"`
	Seconds     float64 `json:"seconds"`
	EventsPerS  float64 `json:"events_per_s"`
	USPerEvent  float64 `json:"us_per_event"`
	Messages    int64   `json:"messages"`
	DeliverJobs int64   `json:"deliver_jobs"`
}

// filteredResult is what the filtered phase measured: the same events
// expanded to --webhooks webhooks without a filter, then with one that
// matches a tenth of them.
type filteredResult struct {
	Events   int `json:"events"`
	Webhooks int `json:"webhooks"`
	// Unmatched is the floor: the webhooks take no investment events.
	Unmatched  expansion `json:"unmatched"`
	Unfiltered expansion `json:"unfiltered"`
	Filtered   expansion `json:"filtered"`
	// WantJobs is what the filtered expansion must make: a job per matching
	// event and webhook, none for the others.
	WantJobs int64 `json:"want_jobs"`
}

// filtered measures the cost of expansion per event without and with a
// payload filter, against that of events no webhook takes. Nothing is delivered: the phase runs last, and its jobs
// are deleted after it.
func (b *run) filtered(ctx context.Context) (filteredResult, error) {
	n, w := b.o.Filtered, b.o.Webhooks
	result := filteredResult{Events: n, Webhooks: w}
	var err error
	if result.Unmatched, err = b.expandBacklog(ctx, "pipeline.*", "", n, w); err != nil {
		return result, err
	}
	if result.Unfiltered, err = b.expandBacklog(ctx, "investment.*", "", n, w); err != nil {
		return result, err
	}
	if result.Filtered, err = b.expandBacklog(ctx, "investment.*", `{"tickerSymbol": "KO"}`, n, w); err != nil {
		return result, err
	}
	result.WantJobs = result.Filtered.Matching * int64(w)
	if result.Filtered.DeliverJobs != result.WantJobs || result.Filtered.Messages != result.WantJobs {
		return result, fmt.Errorf("bench: the filter let %d messages and %d jobs through, want %d of each",
			result.Filtered.Messages, result.Filtered.DeliverJobs, result.WantJobs)
	}
	return result, nil
}

// expandBacklog adds w webhooks of the event type with the filter (none if
// ""), queues n investments of which one in filterMatch has ticker
// KO, and times their expansion.
func (b *run) expandBacklog(ctx context.Context, eventType, filter string, n, w int) (expansion, error) {
	out := expansion{EventType: eventType, Filter: filter}
	if err := b.disableWebhooks(ctx); err != nil {
		return out, err
	}
	var ids []string
	for i := range w {
		id, err := b.addWebhook(ctx, "filtered", i, eventType)
		if err != nil {
			return out, err
		}
		if filter != "" {
			if _, err := b.pool.Exec(ctx, `UPDATE webhooks.webhooks SET filter = $2 WHERE id = $1`, id, filter); err != nil {
				return out, fmt.Errorf("error setting a filter: %w", err)
			}
		}
		ids = append(ids, id)
	}
	for done := 0; done < n; done += b.o.Batch {
		size := min(b.o.Batch, n-done)
		if _, err := b.pool.Exec(ctx, `INSERT INTO investments (workspace_id, created_by, name, ticker_symbol)
			SELECT $1, $2, 'Investment ' || i, CASE WHEN i % $4 = 0 THEN 'KO' ELSE 'PEP' END FROM generate_series(1, $3::int) i`,
			b.workspaceID, b.userID, size, filterMatch); err != nil {
			return out, fmt.Errorf("error inserting investments: %w", err)
		}
		switch {
		case eventType != "investment.*":
		case filter == "":
			out.Matching += int64(size)
		default:
			out.Matching += int64(size / filterMatch)
		}
	}
	if _, err := b.pool.Exec(ctx, "ANALYZE webhooks.webhooks, webhooks.capture_queue"); err != nil {
		return out, fmt.Errorf("error analyzing: %w", err)
	}
	client, err := jobs.NewClient(b.pool, jobs.Config{Work: true, ExpandOnly: true})
	if err != nil {
		return out, err
	}
	start := time.Now()
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return out, fmt.Errorf("error starting the expanding client: %w", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(stopCtx)
	}()
	deadline := time.Now().Add(stallTimeout)
	for {
		var left int
		if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM webhooks.capture_queue`).Scan(&left); err != nil {
			return out, fmt.Errorf("error counting the queue: %w", err)
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			return out, fmt.Errorf("bench: %d of %d events left unexpanded after %s", left, n, stallTimeout)
		}
		select {
		case <-time.After(5 * time.Millisecond):
		case <-ctx.Done():
			return out, ctx.Err()
		}
	}
	elapsed := time.Since(start)
	out.Seconds, out.EventsPerS, out.USPerEvent = elapsed.Seconds(), float64(n)/elapsed.Seconds(), float64(elapsed.Microseconds())/float64(n)
	if err := b.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM webhooks.messages WHERE webhook_id = ANY ($1)),
		(SELECT count(*) FROM river_job WHERE kind = 'webhook_deliver' AND args ->> 'webhookId' = ANY ($1))`, ids).Scan(&out.Messages, &out.DeliverJobs); err != nil {
		return out, fmt.Errorf("error counting messages and jobs: %w", err)
	}
	if _, err := b.pool.Exec(ctx, `DELETE FROM river_job WHERE kind = 'webhook_deliver' AND args ->> 'webhookId' = ANY ($1)`, ids); err != nil {
		return out, fmt.Errorf("error deleting the phase's jobs: %w", err)
	}
	return out, b.vacuum(ctx)
}
