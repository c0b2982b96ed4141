package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/harness"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// plan is one form of the run. Offsets are from the first insert.
type plan struct {
	name        string
	events      int           // investments inserted, each an investment.created
	batch       int           // rows per INSERT
	insertOver  time.Duration // the inserts spread over this long
	chaosFor    time.Duration // kills go on this long
	killEvery   time.Duration
	pgRestartAt time.Duration
	pgDown      time.Duration
	recvDownAt  time.Duration
	recvDown    time.Duration
	settle      time.Duration // after the chaos, the longest wait for the rest to arrive
}

var plans = map[string]plan{
	// The app writes all along: kills first, then the restart, then the
	// receiver's outage, each while deliveries are under way. A kill every
	// 5 s, round robin over 3 processes, lets each live 15 s: a process
	// judges others dead only once it has been seen alive itself for 10 s
	// (liveness.KeepAlive), so with every process replaced within 10 s nobody
	// would rescue.
	"long": {
		name: "long", events: 20000, batch: 20, insertOver: 130 * time.Second,
		chaosFor: 135 * time.Second, killEvery: 5 * time.Second,
		pgRestartAt: 50 * time.Second, pgDown: 10 * time.Second,
		recvDownAt: 95 * time.Second, recvDown: 30 * time.Second,
		settle: 10 * time.Minute,
	},
	// Under 3 minutes on two busy cores, beside the other packages' tests.
	"short": {
		name: "short", events: 3000, batch: 10, insertOver: 52 * time.Second,
		chaosFor: 55 * time.Second, killEvery: 5 * time.Second,
		pgRestartAt: 28 * time.Second, pgDown: 3 * time.Second,
		recvDownAt: 42 * time.Second, recvDown: 8 * time.Second,
		settle: 5 * time.Minute,
	},
}

const (
	processes = 3
	hooks     = 3
	// schedule is compressed: enough retries to outlast the receiver's
	// outage (and kills on top), minutes rather than a day.
	schedule = "1s,2s,4s,8s,15s,30s,30s,30s,30s,30s"
	// deliverWorkers is WEBHOOKS_DELIVER_WORKERS's default: the most
	// delivery jobs a process runs, hence the most a kill can cut between
	// their POST and their record, where it is not known how many it ran.
	deliverWorkers = 200
	// rescueBound bounds the rescue time generously, as a check that the
	// liveness rescue did it: River's own rescuer takes 75 s at the least.
	rescueBound = 60 * time.Second
	// endpointLatency is how long the receiver takes to answer.
	endpointLatency = 100 * time.Millisecond
)

// TestChaos: see the package doc. It prints expected, delivered, lost (must
// be 0), duplicates (bounded: see below) and the rescue times.
func TestChaos(t *testing.T) {
	p, ok := plans[os.Getenv("WEBHOOKS_CHAOS")]
	if !ok {
		t.Skip("WEBHOOKS_CHAOS=short or long runs the chaos test (make test runs short, make chaos long)")
	}
	started := time.Now()
	ctx := context.Background()
	bin := webhooksBinary(t)
	pg := newPGServer(t)
	url, pool := migratedDatabase(t, pg, bin)

	recv := newReceiver(t)
	workspace, user := seed(t, pool, recv.addr)
	env := append(os.Environ(), "DATABASE_URL="+url, "WEBHOOKS_ALLOW_HTTP=true", "WEBHOOKS_ALLOWED_CIDRS=127.0.0.0/8",
		"WEBHOOKS_RETRY_SCHEDULE="+schedule, "WEBHOOKS_LOG_FORMAT=text")
	ws := newWorkers(t, bin, pg.dir, env, processes)
	t.Logf("chaos %s: %d events × %d webhooks, %d worker processes, PostgreSQL %s on port %d; ready after %s",
		p.name, p.events, hooks, processes, filepath.Base(filepath.Dir(pg.bin)), pg.port, time.Since(started).Round(time.Second))

	var quiet atomic.Bool // no kills while the server restarts
	start := time.Now()
	at := func(d time.Duration) { time.Sleep(time.Until(start.Add(d))) }

	// The app's writes, as it would make them, spread over insertOver; a
	// statement cut by the server's restart is made again.
	insertDone := make(chan int)
	go func() {
		inserted, statements := 0, (p.events+p.batch-1)/p.batch
		for i := 0; inserted < p.events; i++ {
			at(p.insertOver * time.Duration(i) / time.Duration(statements))
			n := min(p.batch, p.events-inserted)
			for {
				_, err := pool.Exec(ctx, `INSERT INTO investments (workspace_id, created_by, name, ticker_symbol)
					SELECT $1, $2, 'Investment ' || i, 'KO' FROM generate_series(1, $3::int) i`, workspace, user, n)
				if err == nil {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			inserted += n
		}
		insertDone <- inserted
	}()

	// A worker killed every killEvery, round robin, and started again;
	// each kill's rescue measured beside.
	var (
		kills atomic.Int64
		// unknownKills are kills whose running jobs were not counted.
		unknownKills atomic.Int64
		rescueMu     sync.Mutex
		rescues      []rescue
		measures     sync.WaitGroup
	)
	killsDone := make(chan struct{})
	go func() {
		defer close(killsDone)
		for k := 0; ; k++ {
			at(p.killEvery * time.Duration(k+1))
			if time.Since(start) > p.chaosFor {
				return
			}
			if quiet.Load() {
				continue
			}
			i := k % processes
			client := clientOf(ctx, pool, ws.pid(i))
			waitBusy(ctx, pool, client, 2*time.Second)
			ws.kill(i)
			killedAt := time.Now()
			kill := int(kills.Add(1))
			ws.start(i)
			if client == "" {
				// Killed before it said it was alive: how many jobs it
				// ran is not known.
				unknownKills.Add(1)
				continue
			}
			measures.Go(func() {
				r := measureRescue(ctx, pool, client, killedAt)
				r.kill, r.worker, r.at = kill, i+1, killedAt
				if !r.known {
					unknownKills.Add(1)
				}
				rescueMu.Lock()
				rescues = append(rescues, r)
				rescueMu.Unlock()
			})
		}
	}()

	// No kills from 13 s before the restart until 10 s after it: a rescue
	// takes 10 s, and after an outage no process judges others before it
	// has been seen again for 10 s itself; measured across the restart,
	// the rescue time would be the outage's.
	at(p.pgRestartAt - 13*time.Second)
	quiet.Store(true)
	at(p.pgRestartAt)
	pgDownAt := time.Now()
	t.Logf("%5.1fs PostgreSQL: immediate shutdown (a crash for every session), down for %s", time.Since(start).Seconds(), p.pgDown)
	pg.stop(syscall.SIGQUIT)
	time.Sleep(p.pgDown)
	pg.start()
	pgUpAt := time.Now()
	t.Logf("%5.1fs PostgreSQL: accepting connections again", time.Since(start).Seconds())
	time.Sleep(10 * time.Second)
	quiet.Store(false)

	at(p.recvDownAt)
	recv.down()
	t.Logf("%5.1fs receiver: down (connections refused) for %s", time.Since(start).Seconds(), p.recvDown)
	time.Sleep(p.recvDown)
	if err := recv.up(); err != nil {
		t.Fatalf("chaos: %v", err)
	}
	t.Logf("%5.1fs receiver: up", time.Since(start).Seconds())

	inserted := <-insertDone
	<-killsDone
	t.Logf("%5.1fs chaos over: %d events inserted, %d kills", time.Since(start).Seconds(), inserted, kills.Load())
	for i := range processes {
		if err := ws.waitWorking(i, 2*time.Minute); err != nil {
			t.Errorf("chaos: %v", err)
		}
	}

	// The events are counted in the app's table: an INSERT made again after
	// the restart cut its answer may have committed the first time too.
	var events int
	must(t, pool.QueryRow(ctx, `SELECT count(*) FROM investments`).Scan(&events), "counting events")
	pairs := events * hooks

	// Settled: every message arrived and no delivery job is left to run,
	// so that late duplicates are counted too.
	deadline := time.Now().Add(p.settle)
	var expected []string
	lastProgress := time.Now()
	for {
		expected = messageIDs(ctx, pool)
		distinct, _, _ := recv.counts()
		left := unfinishedJobs(ctx, pool)
		if len(expected) == pairs && distinct >= len(expected) && left == 0 {
			break
		}
		if time.Since(lastProgress) >= 5*time.Second {
			lastProgress = time.Now()
			t.Logf("%5.1fs settling: %d of %d delivered; delivery jobs unfinished: %s", time.Since(start).Seconds(), distinct, pairs, jobStates(ctx, pool))
		}
		if time.Now().After(deadline) {
			t.Errorf("chaos: not settled %s after the chaos: %d messages of %d expected, %d delivered, %d delivery jobs unfinished",
				p.settle, len(expected), pairs, distinct, left)
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	measures.Wait()
	settled := time.Since(start)

	// The report.
	delivered, duplicates, cut := recv.counts()
	var lost []string
	for _, id := range expected {
		if !recv.has(id) {
			lost = append(lost, id)
		}
	}
	lostPairs := pairs - len(expected) + len(lost) // never expanded, or never arrived
	// A duplicate needs a job that was running in a killed process (it
	// POSTed, and died before its attempt was written), or an arrival whose
	// answer the receiver's outage cut off. Each may make one.
	bound := int(unknownKills.Load())*deliverWorkers + cut
	for _, r := range rescues {
		bound += r.jobs
	}
	var captured, notLogged, notSucceeded, discarded int
	must(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM webhooks.outbox) + (SELECT count(*) FROM webhooks.capture_queue)`).Scan(&captured), "counting events")
	// The receiver keeps no ids (only their hashes, as the bench's does):
	// the delivered messages less those logged as succeeded.
	rows, err := pool.Query(ctx, `SELECT DISTINCT message_id FROM webhooks.delivery_log WHERE outcome = 'succeeded'`)
	must(t, err, "reading the log")
	logged, err := pgx.CollectRows(rows, pgx.RowTo[string])
	must(t, err, "reading the log")
	notLogged = delivered
	for _, id := range logged {
		if recv.has(id) {
			notLogged--
		}
	}
	must(t, pool.QueryRow(ctx, `SELECT count(*) FROM webhooks.message_status WHERE state <> 'succeeded'`).Scan(&notSucceeded), "reading message states")
	must(t, pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'webhook_deliver' AND state = 'discarded'`).Scan(&discarded), "counting discarded jobs")

	var out strings.Builder
	fmt.Fprintf(&out, "chaos %s: %d events × %d webhooks, %d worker processes; %d kills (SIGKILL), PostgreSQL restarted (down %s), receiver down %s; retry schedule %s\n",
		p.name, events, hooks, processes, kills.Load(), p.pgDown, p.recvDown, schedule)
	fmt.Fprintf(&out, "  events captured        %d (outbox rows)\n", captured)
	fmt.Fprintf(&out, "  expected pairs         %d (event, webhook)\n", pairs)
	fmt.Fprintf(&out, "  delivered              %d distinct webhook-ids\n", delivered)
	fmt.Fprintf(&out, "  lost                   %d\n", lostPairs)
	fmt.Fprintf(&out, "  duplicates             %d (bound %d: the delivery jobs running in the killed processes, each of which may have POSTed before its attempt was written; %d arrivals whose answer the receiver's outage cut off)\n",
		duplicates, bound, cut)
	fmt.Fprintf(&out, "  delivered, not logged  %d (delivered messages without a succeeded attempt in webhooks.delivery_log)\n", notLogged)
	fmt.Fprintf(&out, "  not succeeded          %d (webhooks.message_status)\n", notSucceeded)
	fmt.Fprintf(&out, "  discarded jobs         %d\n", discarded)
	out.WriteString(rescueReport(rescues, pgDownAt, pgUpAt))
	fmt.Fprintf(&out, "  settled after          %s from the first insert; whole run %s\n", settled.Round(time.Second), time.Since(started).Round(time.Second))
	t.Log("\n" + out.String())

	if lostPairs != 0 {
		t.Errorf("chaos: %d (event, webhook) pairs lost, e.g. %v", lostPairs, lost[:min(len(lost), 5)])
	}
	if duplicates > bound {
		t.Errorf("chaos: %d duplicates, more than the %d kills can explain", duplicates, bound)
	}
	if notLogged != 0 || notSucceeded != 0 || discarded != 0 {
		t.Errorf("chaos: the log disagrees with the receiver: %d delivered but not logged as succeeded, %d messages not succeeded, %d jobs discarded",
			notLogged, notSucceeded, discarded)
	}
	for _, r := range rescues {
		if r.jobs > 0 && (r.underWay == 0 || r.underWay > rescueBound) {
			t.Errorf("chaos: kill %d: %d delivery jobs of the dead worker were not under way again within %s (River's own rescuer would take 75 s and more)",
				r.kill, r.jobs, rescueBound)
		}
	}
	for _, u := range ws.exitedUnexpectedly() {
		t.Errorf("chaos: %s", u)
	}
	if t.Failed() {
		t.Logf("PostgreSQL's log:\n%s", pg.log())
	}
}

// webhooksBinary is the binary the test runs (harness.Binary).
func webhooksBinary(t *testing.T) string {
	t.Helper()
	bin, err := harness.Binary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func must(t *testing.T, err error, doing string) {
	t.Helper()
	if err != nil {
		t.Fatalf("chaos: error %s: %v", doing, err)
	}
}

// seed makes a workspace, its owner and the webhooks, each to its own path
// of the receiver, as bench does.
func seed(t *testing.T, pool *pgxpool.Pool, addr string) (workspace, user string) {
	workspace = dbtest.Workspace(t, pool, "chaos")
	user = dbtest.Member(t, pool, workspace, "owner")
	for i := range hooks {
		dbtest.WebhookWith(t, pool, workspace, user, fmt.Sprintf("http://%s/hook/%d", addr, i),
			dbtest.WebhookOptions{Name: fmt.Sprintf("chaos %d", i), Events: []string{"investment.created"}})
	}
	return workspace, user
}

// clientOf is the River client id of the worker process with pid, as it
// says it is alive; "" if it has not yet.
func clientOf(ctx context.Context, pool *pgxpool.Pool, pid int) string {
	var id string
	_ = pool.QueryRow(ctx, `SELECT client_id FROM webhooks.worker_processes WHERE pid = $1 ORDER BY started_at DESC LIMIT 1`, pid).Scan(&id)
	return id
}

// waitBusy waits, up to max, until the process has a delivery job running:
// deliveries come in bursts (an INSERT's rows), and a kill between two
// would measure no rescue.
func waitBusy(ctx context.Context, pool *pgxpool.Pool, client string, max time.Duration) {
	for deadline := time.Now().Add(max); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var busy bool
		if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_job
			WHERE state = 'running' AND kind = 'webhook_deliver' AND attempted_by[array_length(attempted_by, 1)] = $1)`, client).Scan(&busy); err == nil && busy {
			return
		}
	}
}

func messageIDs(ctx context.Context, pool *pgxpool.Pool) []string {
	rows, err := pool.Query(ctx, `SELECT id FROM webhooks.messages`)
	if err != nil {
		return nil
	}
	ids, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids
}

// jobStates counts the unfinished delivery jobs by state, and the
// scheduled ones by why they wait.
func jobStates(ctx context.Context, pool *pgxpool.Pool) string {
	var s string
	_ = pool.QueryRow(ctx, `SELECT coalesce(string_agg(format('%s %s', state, n), ', '), 'none') FROM (
		SELECT state || CASE WHEN state IN ('scheduled', 'retryable') THEN format(' (due in up to %ss, %s snoozed)', ceil(extract(epoch FROM max(scheduled_at) - now())), count(*) FILTER (WHERE (metadata ->> 'snoozes')::int > 0)) ELSE '' END AS state, count(*) AS n
		FROM river_job WHERE kind = 'webhook_deliver' AND finalized_at IS NULL GROUP BY state) s`).Scan(&s)
	return s
}

func unfinishedJobs(ctx context.Context, pool *pgxpool.Pool) int {
	n := -1
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'webhook_deliver' AND finalized_at IS NULL`).Scan(&n)
	return n
}

// rescue is what became of the delivery jobs a killed worker held.
type rescue struct {
	kill, worker int
	at           time.Time     // when it was killed
	known        bool          // its jobs were counted
	jobs         int           // delivery jobs running in it when it died
	rescued      time.Duration // from the kill until none was left running in it
	underWay     time.Duration // ... until each was fetched again (or finished)
}

// measureRescue finds the delivery jobs the dead process held and polls
// until each has been taken up by a live one. Zero durations: not within
// 3 minutes.
func measureRescue(ctx context.Context, pool *pgxpool.Pool, client string, killedAt time.Time) rescue {
	var r rescue
	var ids []int64
	var attempts []int32
	for time.Since(killedAt) < time.Minute {
		rows, err := pool.Query(ctx, `SELECT id, attempt FROM river_job
			WHERE state = 'running' AND kind = 'webhook_deliver' AND attempted_by[array_length(attempted_by, 1)] = $1`, client)
		if err == nil {
			ids, attempts = ids[:0], attempts[:0]
			for rows.Next() {
				var id int64
				var attempt int32
				if err = rows.Scan(&id, &attempt); err != nil {
					break
				}
				ids, attempts = append(ids, id), append(attempts, attempt)
			}
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
		if err == nil {
			// Counted before any rescue could have begun.
			r.known = time.Since(killedAt) < 5*time.Second
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.jobs = len(ids)
	if r.jobs == 0 {
		return r
	}
	for time.Since(killedAt) < 3*time.Minute {
		var running, waiting int
		err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE j.state = 'running' AND j.attempt = o.attempt),
				count(*) FILTER (WHERE j.attempt <= o.attempt AND j.finalized_at IS NULL)
			FROM river_job j JOIN unnest($1::bigint[], $2::int[]) AS o(id, attempt) ON j.id = o.id`, ids, attempts).Scan(&running, &waiting)
		if err == nil {
			if running == 0 && r.rescued == 0 {
				r.rescued = time.Since(killedAt)
			}
			if waiting == 0 {
				r.underWay = time.Since(killedAt)
				return r
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return r
}

// rescueReport sums the rescues up, leaving out of the figures those
// that the server's restart delayed: no process rescues until it has been
// seen alive for 10 s after an outage.
func rescueReport(rs []rescue, pgDownAt, pgUpAt time.Time) string {
	var out strings.Builder
	var times []time.Duration
	empty := 0
	spans := func(r rescue) bool {
		return r.at.Before(pgUpAt.Add(10*time.Second)) && r.at.Add(r.underWay).After(pgDownAt)
	}
	for _, r := range rs {
		if r.jobs == 0 {
			empty++
			continue
		}
		if r.underWay > 0 && !spans(r) {
			times = append(times, r.underWay)
		}
	}
	slices.Sort(times)
	if len(times) == 0 {
		fmt.Fprintf(&out, "  rescue time            none measured (%d kills caught no delivery job running)\n", empty)
		return out.String()
	}
	fmt.Fprintf(&out, "  rescue time            kill -9 to the dead worker's delivery jobs under way again: min %.1fs, median %.1fs, max %.1fs over %d kills (%d caught none running; the restart's not counted)\n",
		times[0].Seconds(), times[len(times)/2].Seconds(), times[len(times)-1].Seconds(), len(times), empty)
	slices.SortFunc(rs, func(a, b rescue) int { return a.kill - b.kill })
	for _, r := range rs {
		if r.jobs > 0 {
			note := ""
			if spans(r) {
				note = " (the server's restart came between)"
			}
			fmt.Fprintf(&out, "    kill %2d, worker %d: %3d jobs running; rescued after %.1fs, under way again after %.1fs%s\n",
				r.kill, r.worker, r.jobs, r.rescued.Seconds(), r.underWay.Seconds(), note)
		}
	}
	return out.String()
}
