package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/api"
	"github.com/countercyclical/webhooks/internal/delivery"
	"github.com/countercyclical/webhooks/internal/harness"
	"github.com/countercyclical/webhooks/jobs"
)

// The soak: a steady rate for a long time, with a retention short enough to
// be reached, to see whether anything grows with the history kept: latency,
// table sizes, River's table, and the reads the API and the page make.

// soakStep is the partition step of a soak: a tenth of its retention, at
// least a minute, so that whole partitions are removed as it runs.
func (b *run) soakStep() time.Duration {
	return max(b.o.Retention/10, time.Minute).Truncate(time.Second)
}

// soakReadSamples is how many times each read is timed each minute, once
// every three seconds: spread over the minute, so that a minute's p95 is not
// one moment's (a checkpoint, a vacuum, the removal of a slice).
const soakReadSamples = 20

// slicePartitions replaces the scratch database's day-long slices, all
// empty, with the soak's, from before the history it will write.
func (b *run) slicePartitions(ctx context.Context) error {
	step := b.soakStep()
	if _, err := b.pool.Exec(ctx, `DO $$
		DECLARE p record;
		BEGIN
			FOR p IN SELECT from_at FROM webhooks.partitions LOOP
				EXECUTE format('DROP TABLE webhooks.%I, webhooks.%I, webhooks.%I',
					webhooks.partition_name('delivery_attempts', p.from_at), webhooks.partition_name('messages', p.from_at),
					webhooks.partition_name('outbox', p.from_at));
			END LOOP;
			DELETE FROM webhooks.partitions;
		END $$`); err != nil {
		return fmt.Errorf("error removing the day-long partitions: %w", err)
	}
	if _, err := b.pool.Exec(ctx, `SELECT webhooks.add_partition(f, f + make_interval(secs => $1))
		FROM generate_series(date_bin(make_interval(secs => $1), now() - make_interval(secs => $2), timestamptz '2000-01-01 00:00:00+00'),
			now() + 5 * make_interval(secs => $1), make_interval(secs => $1)) f`, step.Seconds(), b.o.Retention.Seconds()); err != nil {
		return fmt.Errorf("error making the soak's partitions: %w", err)
	}
	return nil
}

// soakMinute is one minute of the soak.
type soakMinute struct {
	Minute int `json:"minute"`
	// Ended is when the minute ended, to line it up with the server's log.
	Ended      time.Time `json:"ended"`
	Deliveries int       `json:"deliveries"`
	Backlog    int       `json:"backlog"`
	Latency    latencyMS `json:"latency_ms"`
	// Bytes of each log table (all partitions, indexes and TOAST) and of
	// river_job; RiverJobs counts river_job's rows.
	Bytes     map[string]int64 `json:"bytes"`
	RiverJobs int64            `json:"river_job_rows"`
	// Reads are the p95 in milliseconds of each read, timed soakReadSamples
	// times in the minute; reads holds the timings, for the windows.
	Reads map[string]float64 `json:"reads_p95_ms"`
	reads map[string][]time.Duration
}

// soakWindow sums up minutes from First to Last.
type soakWindow struct {
	First int     `json:"first_minute"`
	Last  int     `json:"last_minute"`
	P99   float64 `json:"latency_p99_ms"`
	Bytes int64   `json:"bytes"`
	// Reads is the p95 of each read's timings in the window (200 in ten
	// minutes); WorstMinuteReads the largest of its minutes' p95, the
	// window's worst moment.
	Reads            map[string]float64 `json:"reads_p95_ms"`
	WorstMinuteReads map[string]float64 `json:"reads_worst_minute_p95_ms"`
	RiverJobs        int64              `json:"river_job_rows"`
}

// soakReport is what --soak prints at its end.
type soakReport struct {
	Saturation   float64      `json:"saturation_deliveries_per_s"`
	Rate         int          `json:"rate"`
	Webhooks     int          `json:"webhooks"`
	Duration     string       `json:"duration"`
	Retention    string       `json:"retention"`
	JobRetention string       `json:"job_retention"`
	Step         string       `json:"partition_step"`
	History      int          `json:"history_attempts"`
	Minutes      []soakMinute `json:"minutes"`
	// Windows are the first steady window (after the first minute) and
	// the last: each min(10, minutes/3) minutes long.
	Windows    [2]soakWindow `json:"windows"`
	Expected   int           `json:"expected"`
	Lost       int           `json:"lost"`
	Duplicates int           `json:"duplicates"`
	// Bytes per row of what is kept at the end: per event (outbox), per
	// delivery (message) and per attempt, and the three logs per delivery.
	BytesPerEvent       float64 `json:"bytes_per_event"`
	BytesPerMessage     float64 `json:"bytes_per_message"`
	BytesPerAttempt     float64 `json:"bytes_per_attempt"`
	LogBytesPerDelivery float64 `json:"log_bytes_per_delivery"`
	RiverBytesPerJob    float64 `json:"river_job_bytes_per_row"`
	// MessagesUpdatedInPlace is the share of the kept messages' updates that
	// were HOT (pg_stat_user_tables, as the server has counted them so far):
	// near 1 unless an index covers a column a delivery changes.
	MessagesUpdatedInPlace float64 `json:"messages_updated_in_place"`
}

// runSoak offers events at the soak's rate to its webhooks, with the soak's
// retention, and prints a line a minute, then the summary.
func (b *run) runSoak(ctx context.Context, saturation float64) error {
	f := b.o
	rate := f.SoakRate
	if rate == 0 {
		rate = max(int(0.6*saturation/float64(f.Webhooks)), 1)
	}
	if err := b.disableWebhooks(ctx); err != nil {
		return err
	}
	hooks := make([]string, f.Webhooks)
	for i := range hooks {
		id, err := b.addWebhook(ctx, "soak", i, "*")
		if err != nil {
			return err
		}
		hooks[i] = id
	}
	if f.History > 0 {
		fmt.Fprintf(b.stderr, "soak: writing %d attempts of history\n", f.History)
		if err := b.writeHistory(ctx, hooks); err != nil {
			return err
		}
	}
	if err := b.gatherStatistics(ctx, "ANALYZE"); err != nil {
		return err
	}
	total := int(float64(rate)*f.Soak.Seconds()) * f.Webhooks
	ph := b.recv.NewPhase("soak", total, harness.ArrivalsStreamed)
	stop, err := b.startInProcess(ctx, jobs.Config{
		Delivery:  delivery.Config{MaxInflight: f.Workers},
		Retention: f.Retention, JobRetention: f.soakJobRetention(), PartitionStep: b.soakStep(),
	})
	if err != nil {
		return err
	}
	defer stop()
	report := soakReport{Saturation: saturation, Rate: rate, Webhooks: f.Webhooks, Duration: f.Soak.String(),
		Retention: f.Retention.String(), JobRetention: f.soakJobRetention().String(), Step: b.soakStep().String(), History: f.History, Expected: total}
	fmt.Fprintf(b.stderr, "soak: %d events/s to %d webhooks (%d deliveries/s, %.0f%% of the saturation measured) for %s, retention %s, partitions of %s, completed jobs kept %s\n",
		rate, f.Webhooks, rate*f.Webhooks, 100*float64(rate*f.Webhooks)/saturation, f.Soak, f.Retention, b.soakStep(), f.soakJobRetention())
	fmt.Fprintln(b.stderr, "minute ended_utc deliveries backlog p50_ms p99_ms outbox_MB messages_MB attempts_MB river_job_MB river_rows | reads p95 ms: list deliveries failed event_type endpoint_health recover")

	// committed holds each event's commit, as time since start: no
	// pointers, for the garbage collector to scan in the workers' process.
	committed := make(map[harness.Key]time.Duration, total/f.Webhooks)
	start := time.Now()
	inserted := 0
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	minuteDone := make(chan soakMinute, 1)
	sampler := b.newReadSampler(hooks[0])
	stopSampling := sampler.start(ctx)
	defer stopSampling()
	nextMinute, minute, lastDelivered := start.Add(time.Minute), 0, 0
	var latencies [][]time.Duration // of each delivery, by arrival minute
	var later []harness.Arrival     // taken early, arrived after their minute's end
	// measure closes minute m, which ends at to: the latency of each
	// delivery that arrived in it, then (in the background) the sizes and
	// reads. It takes only the arrivals since the last minute, so that it
	// costs the same in the thirtieth minute as in the first.
	measure := func(m int, to time.Time, delivered, offered int) {
		row := soakMinute{Minute: m, Ended: to, Deliveries: delivered - lastDelivered, Backlog: offered - delivered}
		lastDelivered = delivered
		var ls []time.Duration
		arrivals := append(later, ph.TakeArrivals()...)
		later = nil
		for _, a := range arrivals {
			if !a.At.Before(to) {
				later = append(later, a)
				continue
			}
			if at, ok := committed[a.Payload]; ok {
				ls = append(ls, a.At.Sub(start)-at)
			}
		}
		latencies = append(latencies, ls)
		row.Latency = percentiles(slices.Clone(ls))
		var err error
		row.reads, err = sampler.take()
		if err != nil {
			fmt.Fprintf(b.stderr, "soak: minute %d: %v\n", m, err)
		}
		row.Reads = make(map[string]float64, len(row.reads))
		for name, took := range row.reads {
			row.Reads[name] = percentiles(slices.Clone(took)).P95
		}
		go func() {
			var err error
			row.Bytes, row.RiverJobs, err = b.soakSizes(ctx)
			if err != nil {
				fmt.Fprintf(b.stderr, "soak: minute %d: %v\n", m, err)
			}
			minuteDone <- row
		}()
	}
	for inserted < total/f.Webhooks || minute < int(f.Soak/time.Minute) {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		case row := <-minuteDone:
			report.Minutes = append(report.Minutes, row)
			b.printSoakMinute(row)
			continue
		}
		now := time.Now()
		if !now.Before(nextMinute) {
			minute++
			measure(minute, nextMinute, ph.DistinctCount(), inserted*f.Webhooks)
			nextMinute = nextMinute.Add(time.Minute)
		}
		due := int(float64(rate)*min(time.Since(start), f.Soak).Seconds()) - inserted
		if due <= 0 {
			continue
		}
		rows, err := b.pool.Query(ctx, `INSERT INTO investments (workspace_id, created_by, name, ticker_symbol)
			SELECT $1, $2, 'Investment ' || i, 'KO' FROM generate_series(1, $3::int) i RETURNING id`, b.workspaceID, b.userID, due)
		if err != nil {
			return fmt.Errorf("error inserting investments: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("error inserting investments: %w", err)
		}
		at := time.Since(start)
		for _, id := range ids {
			committed[harness.KeyOf(id)] = at
		}
		inserted += len(ids)
	}
	for len(report.Minutes) < minute {
		row := <-minuteDone
		report.Minutes = append(report.Minutes, row)
		b.printSoakMinute(row)
	}
	if err := b.await(ctx, ph, nil); err != nil {
		return err
	}
	slices.SortFunc(report.Minutes, func(a, b soakMinute) int { return a.Minute - b.Minute })
	result := ph.Result(start)
	report.Lost, report.Duplicates = result.Lost, result.Duplicates
	w := max(min(10, len(report.Minutes)/3), 1)
	report.Windows = [2]soakWindow{
		soakWindowOf(report.Minutes, latencies, min(2, len(report.Minutes)), min(1+w, len(report.Minutes))),
		soakWindowOf(report.Minutes, latencies, len(report.Minutes)-w+1, len(report.Minutes)),
	}
	bytes, jobRows, err := b.soakSizes(ctx)
	if err != nil {
		return err
	}
	var events, messages, attempts int64
	if err := b.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM webhooks.outbox), (SELECT count(*) FROM webhooks.messages),
		(SELECT count(*) FROM webhooks.delivery_attempts)`).Scan(&events, &messages, &attempts); err != nil {
		return fmt.Errorf("error counting rows: %w", err)
	}
	per := func(b, rows int64) float64 { return float64(b) / float64(max(rows, 1)) }
	report.BytesPerEvent, report.BytesPerMessage, report.BytesPerAttempt = per(bytes["outbox"], events), per(bytes["messages"], messages), per(bytes["attempts"], attempts)
	report.LogBytesPerDelivery = per(bytes["outbox"]+bytes["messages"]+bytes["attempts"], messages)
	report.RiverBytesPerJob = per(bytes["river_job"], jobRows)
	if err := b.pool.QueryRow(ctx, `SELECT coalesce(sum(s.n_tup_hot_upd)::float8 / nullif(sum(s.n_tup_upd), 0), 0)
		FROM pg_stat_user_tables s JOIN pg_inherits i ON i.inhrelid = s.relid
		WHERE i.inhparent = 'webhooks.messages'::regclass`).Scan(&report.MessagesUpdatedInPlace); err != nil {
		return fmt.Errorf("error reading the messages' updates: %w", err)
	}
	if f.JSON {
		enc := json.NewEncoder(b.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return fmt.Errorf("error writing the report: %w", err)
		}
	} else {
		fmt.Fprintf(b.stdout, "soak: %d events/s to %d webhooks for %s (saturation measured: %.0f deliveries/s), retention %s\n",
			rate, f.Webhooks, f.Soak, saturation, f.Retention)
		for _, win := range report.Windows {
			fmt.Fprintf(b.stdout, "minutes %d-%d: p99 %.1f ms, tables %.0f MB, river_job rows %d, reads p95 ms %s (worst minute's %s)\n",
				win.First, win.Last, win.P99, float64(win.Bytes)/1e6, win.RiverJobs, formatReads(win.Reads), formatReads(win.WorstMinuteReads))
		}
		fmt.Fprintf(b.stdout, "bytes: %.0f per event, %.0f per message, %.0f per attempt, %.0f of the logs per delivery; river_job %.0f per row\n",
			report.BytesPerEvent, report.BytesPerMessage, report.BytesPerAttempt, report.LogBytesPerDelivery, report.RiverBytesPerJob)
		fmt.Fprintf(b.stdout, "messages updated in place (HOT): %.0f %%\n", 100*report.MessagesUpdatedInPlace)
		fmt.Fprintf(b.stdout, "lost %d, duplicates %d (of %d)\n", report.Lost, report.Duplicates, report.Expected)
	}
	if report.Lost > 0 {
		return fmt.Errorf("bench: deliveries lost: %d of %d in the soak", report.Lost, total)
	}
	return nil
}

// soakReadNames are the reads timed each minute, in the order printed.
var soakReadNames = []string{"list", "deliveries", "failed", "event_type", "endpoint_health", "recover"}

// readSampler times the API's and the page's reads of one webhook, with the
// queries the API makes: the list with its health, a page of deliveries,
// the failed filter, an event-type filter, the endpoint_health view, and a
// recover (rolled back). It runs each once every minute/soakReadSamples and
// keeps the timings until take.
type readSampler struct {
	reads map[string]func(context.Context) error

	mu   sync.Mutex
	took map[string][]time.Duration
	err  error
}

func (b *run) newReadSampler(hook string) *readSampler {
	q := db.New()
	return &readSampler{took: map[string][]time.Duration{}, reads: map[string]func(context.Context) error{
		"list": func(ctx context.Context) error {
			rows, err := q.WebhookList(ctx, b.pool, db.WebhookListParams{WorkspaceID: b.workspaceID, Max: 21})
			if err != nil {
				return err
			}
			ids := make([]string, len(rows))
			for i, r := range rows {
				ids[i] = r.ID
			}
			_, err = q.WebhookHealthList(ctx, b.pool, ids)
			return err
		},
		"deliveries": func(ctx context.Context) error {
			_, err := api.ListMessages(ctx, b.pool, db.MessageListParams{WebhookID: hook, Max: 21}, "")
			return err
		},
		"failed": func(ctx context.Context) error {
			_, err := api.ListMessages(ctx, b.pool, db.MessageListParams{WebhookID: hook, Max: 21}, "failed")
			return err
		},
		"event_type": func(ctx context.Context) error {
			eventType := "investment.deleted"
			_, err := api.ListMessages(ctx, b.pool, db.MessageListParams{WebhookID: hook, EventType: &eventType, Max: 21}, "")
			return err
		},
		"endpoint_health": func(ctx context.Context) error {
			rows, err := b.pool.Query(ctx, `SELECT * FROM webhooks.endpoint_health WHERE workspace_id = $1`, b.workspaceID)
			if err != nil {
				return err
			}
			rows.Close()
			return rows.Err()
		},
		"recover": func(ctx context.Context) error {
			tx, err := b.pool.Begin(ctx)
			if err != nil {
				return err
			}
			defer tx.Rollback(ctx) //nolint:errcheck
			_, err = q.MessageResetFailedSince(ctx, tx, db.MessageResetFailedSinceParams{WebhookID: hook, Since: time.Now().Add(-b.o.Retention), Max: 1000})
			return err
		},
	}}
}

// start times the reads every minute/soakReadSamples until ctx is done or
// the returned stop is called (which waits for the round under way).
func (s *readSampler) start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Minute / soakReadSamples)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				s.round(ctx)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// round times each read once.
func (s *readSampler) round(ctx context.Context) {
	for _, name := range soakReadNames {
		start := time.Now()
		err := s.reads[name](ctx)
		took := time.Since(start)
		s.mu.Lock()
		if err != nil && ctx.Err() == nil && s.err == nil {
			s.err = fmt.Errorf("error timing %s: %w", name, err)
		}
		if err == nil {
			s.took[name] = append(s.took[name], took)
		}
		s.mu.Unlock()
	}
}

// take returns the timings since the last take, and the first error.
func (s *readSampler) take() (map[string][]time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	took, err := s.took, s.err
	s.took, s.err = map[string][]time.Duration{}, nil
	return took, err
}

// soakSizes measures the log tables, every partition with its indexes and
// TOAST, and river_job, with its rows as PostgreSQL's statistics count them
// (n_live_tup): a count(*) of a million and more rows took 0.3-0.5 s a
// minute of the server the soak measures.
func (b *run) soakSizes(ctx context.Context) (map[string]int64, int64, error) {
	var outbox, messages, attempts, river, rows int64
	if err := b.pool.QueryRow(ctx, `SELECT
		(SELECT coalesce(sum(pg_total_relation_size(relid)), 0) FROM pg_partition_tree('webhooks.outbox'))::bigint,
		(SELECT coalesce(sum(pg_total_relation_size(relid)), 0) FROM pg_partition_tree('webhooks.messages'))::bigint,
		(SELECT coalesce(sum(pg_total_relation_size(relid)), 0) FROM pg_partition_tree('webhooks.delivery_attempts'))::bigint,
		pg_total_relation_size('river_job'),
		(SELECT n_live_tup FROM pg_stat_user_tables WHERE relid = 'river_job'::regclass)`).Scan(&outbox, &messages, &attempts, &river, &rows); err != nil {
		return nil, 0, fmt.Errorf("error measuring tables: %w", err)
	}
	return map[string]int64{"outbox": outbox, "messages": messages, "attempts": attempts, "river_job": river}, rows, nil
}

func (b *run) printSoakMinute(m soakMinute) {
	mb := func(name string) float64 { return float64(m.Bytes[name]) / 1e6 }
	fmt.Fprintf(b.stderr, "%6d %9s %10d %7d %6.1f %6.1f %9.1f %11.1f %11.1f %12.1f %10d | %s\n",
		m.Minute, m.Ended.UTC().Format(time.TimeOnly), m.Deliveries, m.Backlog, m.Latency.P50, m.Latency.P99,
		mb("outbox"), mb("messages"), mb("attempts"), mb("river_job"), m.RiverJobs, formatReads(m.Reads))
}

func formatReads(reads map[string]float64) string {
	s := ""
	for _, name := range soakReadNames {
		s += fmt.Sprintf(" %.1f", reads[name])
	}
	return s
}

// soakWindowOf sums up minutes first to last (1-based): the p99 of their
// arrivals' latencies, the largest tables among them, and each read's p95
// over all their timings and in their worst minute.
func soakWindowOf(minutes []soakMinute, latencies [][]time.Duration, first, last int) soakWindow {
	w := soakWindow{First: first, Last: last, Reads: map[string]float64{}, WorstMinuteReads: map[string]float64{}}
	var ls []time.Duration
	reads := map[string][]time.Duration{}
	for i := first - 1; i < last && i < len(minutes); i++ {
		if i < 0 {
			continue
		}
		if i < len(latencies) {
			ls = append(ls, latencies[i]...)
		}
		m := minutes[i]
		var total int64
		for _, v := range m.Bytes {
			total += v
		}
		w.Bytes = max(w.Bytes, total)
		w.RiverJobs = max(w.RiverJobs, m.RiverJobs)
		for k, v := range m.Reads {
			w.WorstMinuteReads[k] = max(w.WorstMinuteReads[k], v)
		}
		for k, took := range m.reads {
			reads[k] = append(reads[k], took...)
		}
	}
	w.P99 = percentiles(ls).P99
	for k, took := range reads {
		w.Reads[k] = percentiles(took).P95
	}
	return w
}

// writeHistory writes, in bulk, --history attempts of succeeded deliveries
// to the soak's webhooks, their events and messages, spread over the
// retention before now, and their roll-ups: the history a long-running
// installation has when the soak begins.
func (b *run) writeHistory(ctx context.Context, hooks []string) error {
	events := max(b.o.History/len(hooks), 1)
	const chunk = 100000
	for done := 0; done < events; done += chunk {
		n := min(chunk, events-done)
		if _, err := b.pool.Exec(ctx, `WITH o AS (
				INSERT INTO webhooks.outbox (event_id, event_type, resource_type, resource_id, workspace_id, payload, rendered, captured_at, expanded_at)
				SELECT webhooks.gen_id(), 'investment.created', 'investment', 'hist' || ($3::int + i), $1::text,
					json_build_object('id', 'hist' || ($3::int + i), 'tickerSymbol', 'KO', 'name', 'Investment ' || i, 'workspaceId', $1::text),
					true, t, t
				FROM generate_series(1, $4::int) i
				CROSS JOIN LATERAL (SELECT now() - make_interval(secs => $5::float8 * (1 - ($3::int + i)::float8 / $6::int)) - interval '1 minute' AS t) at (t)
				RETURNING id, event_id, workspace_id, event_type, captured_at
			), m AS (
				INSERT INTO webhooks.messages (id, outbox_id, webhook_id, workspace_id, event_type, created_at, state, attempts, last_status_code, updated_at, captured_at)
				SELECT 'msg_' || lpad(o.id::text || lpad(h.n::text, 3, '0'), 27, '0'), o.id, h.id, o.workspace_id, o.event_type, o.captured_at, 'succeeded', 1, 204, o.captured_at, o.captured_at
				FROM o CROSS JOIN unnest($2::text[]) WITH ORDINALITY AS h (id, n)
				RETURNING id, webhook_id, workspace_id, event_type, captured_at, outbox_id
			)
			INSERT INTO webhooks.delivery_attempts (message_id, event_id, webhook_id, workspace_id, event_type, attempt, url, started_at, duration_ms, succeeded, status_code, captured_at)
			SELECT m.id, o.event_id, m.webhook_id, m.workspace_id, m.event_type, 1, 'http://127.0.0.1/history', m.captured_at, 1.5, true, 204, m.captured_at
			FROM m JOIN o ON o.id = m.outbox_id`,
			b.workspaceID, hooks, done, n, b.o.Retention.Seconds()*0.9, events); err != nil {
			return fmt.Errorf("error writing history: %w", err)
		}
	}
	if _, err := b.pool.Exec(ctx, `INSERT INTO webhooks.webhook_stats AS s (webhook_id, bucket, attempts, succeeded)
		SELECT webhook_id, webhooks.stats_bucket(started_at), count(*), count(*) FILTER (WHERE succeeded)
		FROM webhooks.delivery_attempts GROUP BY 1, 2
		ON CONFLICT (webhook_id, bucket) DO UPDATE SET attempts = s.attempts + excluded.attempts, succeeded = s.succeeded + excluded.succeeded`); err != nil {
		return fmt.Errorf("error writing history roll-ups: %w", err)
	}
	if _, err := b.pool.Exec(ctx, `INSERT INTO webhooks.webhook_health (webhook_id, last_attempt_at, last_success_at)
		SELECT webhook_id, max(started_at), max(started_at) FROM webhooks.delivery_attempts GROUP BY 1
		ON CONFLICT (webhook_id) DO NOTHING`); err != nil {
		return fmt.Errorf("error writing history health: %w", err)
	}
	return nil
}
