package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/countercyclical/webhooks/internal/delivery"
	"github.com/countercyclical/webhooks/internal/harness"
	"github.com/countercyclical/webhooks/jobs"
)

// orderedResult is what the ordered phase measured: the same updates, spread
// over many resources, delivered to an unordered webhook and then to an
// ordered one.
type orderedResult struct {
	Events    int                 `json:"events"`
	Resources int                 `json:"resources"`
	Unordered harness.PhaseResult `json:"unordered"`
	Ordered   harness.PhaseResult `json:"ordered"`
	// Ratio is the ordered webhook's deliveries/s over the unordered one's.
	Ratio float64 `json:"ratio"`
}

// ordered updates --ordered-resources investments --ordered-events times in
// all, round after round (each round one update of every resource, in
// statements of --batch rows), first to one unordered webhook, then to one
// ordered one, and times each from the first update to the last arrival.
func (b *run) ordered(ctx context.Context) (orderedResult, error) {
	out := orderedResult{Events: b.o.OrderedEvents, Resources: b.o.OrderedResources}
	if err := b.disableWebhooks(ctx); err != nil {
		return out, err
	}
	var ids []string
	rows, err := b.pool.Query(ctx, `INSERT INTO investments (workspace_id, created_by, name, ticker_symbol)
		SELECT $1, $2, 'v0', 'KO' FROM generate_series(1, $3::int) RETURNING id`, b.workspaceID, b.userID, out.Resources)
	if err != nil {
		return out, fmt.Errorf("error inserting investments: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return out, fmt.Errorf("error inserting investments: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("error inserting investments: %w", err)
	}
	phase := func(name string, ordered bool) (harness.PhaseResult, error) {
		if err := b.disableWebhooks(ctx); err != nil {
			return harness.PhaseResult{}, err
		}
		id, err := b.addWebhook(ctx, name, 0, "investment.updated")
		if err != nil {
			return harness.PhaseResult{}, err
		}
		if _, err := b.pool.Exec(ctx, `UPDATE webhooks.webhooks SET ordered = $2 WHERE id = $1`, id, ordered); err != nil {
			return harness.PhaseResult{}, fmt.Errorf("error making the webhook ordered: %w", err)
		}
		ph := b.recv.NewPhase(name, out.Events, harness.ArrivalsCounted)
		// The creations above are expanded to no webhook first.
		stop, err := b.startInProcess(ctx, jobs.Config{Delivery: delivery.Config{MaxInflight: b.o.Workers}})
		if err != nil {
			return harness.PhaseResult{}, err
		}
		defer stop()
		stopProgress := b.progress(func() string { return name + ": " + ph.Progress() })
		defer stopProgress()
		start := time.Now()
		for done, round := 0, 1; done < out.Events; round++ {
			for i := 0; i < len(ids) && done < out.Events; i += b.o.Batch {
				batch := ids[i:min(i+b.o.Batch, len(ids), i+out.Events-done)]
				if _, err := b.pool.Exec(ctx, `UPDATE investments SET name = $2 WHERE id = ANY ($1)`, batch, fmt.Sprintf("v%d", round)); err != nil {
					return harness.PhaseResult{}, fmt.Errorf("error updating investments: %w", err)
				}
				done += len(batch)
			}
		}
		if err := b.await(ctx, ph, nil); err != nil {
			return harness.PhaseResult{}, err
		}
		stopProgress()
		return ph.Result(start), nil
	}
	if out.Unordered, err = phase("unordered", false); err != nil {
		return out, err
	}
	if err := b.vacuum(ctx); err != nil {
		return out, err
	}
	if out.Ordered, err = phase("ordered", true); err != nil {
		return out, err
	}
	if out.Unordered.PerS > 0 {
		out.Ratio = out.Ordered.PerS / out.Unordered.PerS
	}
	return out, nil
}
