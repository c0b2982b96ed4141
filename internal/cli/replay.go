package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/expansion"
	"github.com/countercyclical/webhooks/jobs"
)

// replay sends a webhook the events of a time range again, as POST
// /v1/webhooks/{id}/replay does, or counts them; with --follow it prints
// the replay's progress until it ends.
func (c *command) replay(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	webhookID := fs.String("webhook", "", "webhook id")
	sinceArg := fs.String("since", "", "events captured at or after this RFC 3339 time")
	untilArg := fs.String("until", "", "events captured before this RFC 3339 time (default now)")
	types := fs.String("event-types", "", "comma-separated event types, each one the webhook takes (default all it takes)")
	dryRun := fs.Bool("dry-run", false, "count the events, send nothing")
	follow := fs.Bool("follow", false, "print the replay's progress every second until it ends")
	if err := fs.Parse(args); err != nil {
		return usageError{"replay: " + err.Error()}
	}
	switch {
	case fs.NArg() != 0:
		return usageError{fmt.Sprintf("replay takes flags only, not %q", fs.Arg(0))}
	case *webhookID == "" || *sinceArg == "":
		return usageError{"replay needs --webhook W and --since T"}
	case *dryRun && *follow:
		return usageError{"replay: --follow follows a replay; a --dry-run sends nothing to follow"}
	}
	now := time.Now()
	since, err := time.Parse(time.RFC3339, *sinceArg)
	if err != nil {
		return usageError{fmt.Sprintf("replay: --since %q is not an RFC 3339 time such as 2024-11-19T14:29:33Z", *sinceArg)}
	}
	until := now
	if *untilArg != "" {
		if until, err = time.Parse(time.RFC3339, *untilArg); err != nil {
			return usageError{fmt.Sprintf("replay: --until %q is not an RFC 3339 time such as 2024-11-19T14:29:33Z", *untilArg)}
		}
	}
	switch {
	case since.After(now) || until.After(now):
		return usageError{"replay: --since and --until must not be in the future"}
	case !since.Before(until):
		return usageError{"replay: --until must be after --since"}
	}

	pool, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	wh, err := db.New().WebhookGet(ctx, pool, *webhookID)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("replay: no webhook %q (its id is in GET /v1/webhooks)", *webhookID)
	}
	if err != nil {
		return fmt.Errorf("error loading webhook: %w", err)
	}
	req := expansion.ReplayRequest{WebhookID: wh.ID, WorkspaceID: wh.WorkspaceID, CreatedBy: wh.CreatedBy, Since: since, Until: until}
	if *types != "" {
		for _, t := range strings.Split(*types, ",") {
			t = strings.TrimSpace(t)
			if t == "" || strings.Contains(t, "*") {
				return usageError{fmt.Sprintf("replay: --event-types names event types such as investment.updated, not %q", t)}
			}
			if !expansion.Takes(wh.EventTypes, t) {
				return usageError{fmt.Sprintf("replay: --event-types: webhook %q does not take %q (it takes %s)", wh.ID, t, strings.Join(wh.EventTypes, ", "))}
			}
			req.EventTypes = append(req.EventTypes, t)
		}
	}
	if *dryRun {
		n, err := expansion.CountReplay(ctx, pool, req)
		if err != nil {
			return replayError(err)
		}
		if n > expansion.MaxReplay {
			return replayError(&expansion.ReplayTooLargeError{Events: n})
		}
		fmt.Fprintf(c.stdout, "%d events would be sent to %s (%s)\n", n, wh.Name, wh.ID)
		return nil
	}
	if !wh.Enabled {
		return fmt.Errorf("replay: webhook %q is disabled; enable it first", wh.ID)
	}
	client, err := jobs.NewClient(pool, jobs.Config{})
	if err != nil {
		return err
	}
	replay, err := jobs.StartReplay(ctx, pool, client, req)
	if err != nil {
		return replayError(err)
	}
	fmt.Fprintf(c.stderr, "replay of %d events to %s started; serve or a worker sends them. Progress: GET /v1/replays/%s\n", replay.Total, wh.Name, replay.ID)
	fmt.Fprintln(c.stdout, replay.ID)
	if !*follow {
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
		row, err := db.New().ReplayGet(ctx, pool, db.ReplayGetParams{ID: replay.ID})
		if err != nil {
			return fmt.Errorf("error reading the replay: %w", err)
		}
		r := row.WebhooksReplay
		fmt.Fprintf(c.stderr, "%s: %d of %d queued, %d sent, %d failed, %d cancelled, %d pending\n",
			r.State, r.Queued, r.Total, row.Sent, row.Failed, row.Cancelled, row.Pending)
		if r.State != "running" {
			return nil
		}
	}
}

// replayError says what to change for the errors a replay's start refuses
// with.
func replayError(err error) error {
	var tooOld *expansion.ReplayBeforeRetentionError
	var tooLarge *expansion.ReplayTooLargeError
	switch {
	case errors.As(err, &tooOld):
		return fmt.Errorf("replay: --since %s", tooOld.Error())
	case errors.As(err, &tooLarge), errors.Is(err, expansion.ErrReplayRunning):
		return fmt.Errorf("replay: %w", err)
	}
	return err
}
