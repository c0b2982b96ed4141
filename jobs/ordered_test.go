package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/delivery"
	"github.com/countercyclical/webhooks/jobs"
	"github.com/countercyclical/webhooks/webhook"
)

// versionReceiver accepts deliveries of pipelines named "v<N>", failing a
// share of them with 500 at random, and keeps per pipeline the versions it
// accepted, in arrival order, a redelivery of an accepted webhook-id
// (at least once) set aside.
type versionReceiver struct {
	failShare float64
	// fail, when set, decides instead of failShare.
	fail func(resource string, version int) bool

	mu       sync.Mutex
	accepted map[string][]int
	seen     map[string]bool
	dups     int
	requests atomic.Int64
}

func newVersionReceiver(failShare float64) *versionReceiver {
	return &versionReceiver{failShare: failShare, accepted: map[string][]int{}, seen: map[string]bool{}}
}

func (v *versionReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v.requests.Add(1)
	body, _ := io.ReadAll(r.Body)
	var env struct {
		Payload struct{ ID, Name string } `json:"payload"`
	}
	if err := json.Unmarshal(body, &env); err != nil || !strings.HasPrefix(env.Payload.Name, "v") {
		http.Error(w, "not a versioned pipeline", http.StatusBadRequest)
		return
	}
	version, _ := strconv.Atoi(strings.TrimPrefix(env.Payload.Name, "v"))
	fail := rand.Float64() < v.failShare
	if v.fail != nil {
		fail = v.fail(env.Payload.ID, version)
	}
	if fail {
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	id := r.Header.Get(webhook.HeaderID)
	if v.seen[id] {
		v.dups++
		return
	}
	v.seen[id] = true
	v.accepted[env.Payload.ID] = append(v.accepted[env.Payload.ID], version)
}

// total is how many distinct deliveries were accepted.
func (v *versionReceiver) total() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.seen)
}

// outOfOrder lists the pipelines whose accepted versions are not 0, 1, 2, …
// up to last.
func (v *versionReceiver) outOfOrder(last int) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var bad []string
	for id, versions := range v.accepted {
		for i, ver := range versions {
			if ver != i {
				bad = append(bad, fmt.Sprintf("%s: %v", id, versions))
				break
			}
		}
		if len(versions) != last+1 && len(bad) == 0 {
			bad = append(bad, fmt.Sprintf("%s: %v (incomplete)", id, versions))
		}
	}
	return bad
}

// writeVersions makes resources pipelines, each created as v0 and updated
// to v1 … v<updates>, from concurrent transactions (one writer per
// pipeline, several pipelines at once), and returns their ids.
func writeVersions(t *testing.T, b *deliverBundle, resources, updates int) []string {
	t.Helper()
	ids := make([]string, resources)
	for i := range ids {
		ids[i] = queryID(t, b.pool, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'v0') RETURNING id`, b.ws, b.owner)
	}
	var wg sync.WaitGroup
	errs := make(chan error, resources)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := 1; v <= updates; v++ {
				for i := w; i < resources; i += 8 {
					if _, err := b.pool.Exec(context.Background(), `UPDATE pipelines SET name = $2 WHERE id = $1`, ids[i], fmt.Sprintf("v%d", v)); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	return ids
}

func orderedWebhook(t *testing.T, b *deliverBundle, url string) string {
	t.Helper()
	id := dbtest.Webhook(t, b.pool, b.ws, b.owner, url, "pipeline.*")
	exec(t, b.pool, `UPDATE webhooks.webhooks SET ordered = true WHERE id = $1`, id)
	return id
}

func TestOrderedDeliveryKeepsEachResourceInOrder(t *testing.T) {
	t.Parallel()
	b := deliverSetup(t, delivery.Config{Policy: loopback(), Schedule: []time.Duration{20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}})
	// A second process's client: two expanders and two sets of workers.
	second := startClient(t, b.pool, jobs.Config{Delivery: delivery.Config{Policy: loopback(), Schedule: []time.Duration{20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}}, SafetyNet: time.Second})
	_ = second
	recv := newVersionReceiver(0.1)
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	orderedWebhook(t, b, srv.URL)

	const resources, updates = 40, 10
	writeVersions(t, b, resources, updates)
	require.Eventually(t, func() bool { return recv.total() == resources*(updates+1) }, 2*time.Minute, 50*time.Millisecond,
		"accepted %d of %d", recv.total(), resources*(updates+1))
	require.Empty(t, recv.outOfOrder(updates))
	// The last deliveries are recorded, and leave the queue, after they arrive.
	require.Eventually(t, func() bool { return count(t, b.pool, `SELECT count(*) FROM webhooks.ordered_queue`) == 0 },
		time.Minute, 20*time.Millisecond, "the queue empties")
}

func TestOrderedFailingHeadHoldsOnlyItsResource(t *testing.T) {
	t.Parallel()
	// No retry comes within the test: the failing head stays retrying.
	b := deliverSetup(t, delivery.Config{Policy: loopback(), Schedule: []time.Duration{time.Hour}})
	var stuck atomic.Value
	stuck.Store("")
	recv := newVersionReceiver(0)
	recv.fail = func(resource string, version int) bool { return resource == stuck.Load().(string) && version == 1 }
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	webhookID := orderedWebhook(t, b, srv.URL)

	stuckID := queryID(t, b.pool, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'v0') RETURNING id`, b.ws, b.owner)
	stuck.Store(stuckID)
	otherID := queryID(t, b.pool, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'v0') RETURNING id`, b.ws, b.owner)
	for v := 1; v <= 3; v++ {
		exec(t, b.pool, `UPDATE pipelines SET name = $2 WHERE id = $1`, stuckID, fmt.Sprintf("v%d", v))
		exec(t, b.pool, `UPDATE pipelines SET name = $2 WHERE id = $1`, otherID, fmt.Sprintf("v%d", v))
	}
	// The other resource arrives whole while the stuck one's v1 retries.
	require.Eventually(t, func() bool {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		return len(recv.accepted[otherID]) == 4
	}, time.Minute, 20*time.Millisecond)
	recv.mu.Lock()
	require.Equal(t, []int{0, 1, 2, 3}, recv.accepted[otherID])
	require.Equal(t, []int{0}, recv.accepted[stuckID], "v2 and v3 wait behind v1")
	recv.mu.Unlock()
	require.Equal(t, 2, count(t, b.pool, `SELECT count(*) FROM webhooks.ordered_queue WHERE webhook_id = $1 AND NOT released`, webhookID),
		"the other resource waits for nothing")
	require.Equal(t, "retrying", queryID(t, b.pool, `SELECT m.state FROM webhooks.messages m JOIN webhooks.ordered_queue q ON q.message_id = m.id
		WHERE q.released AND q.resource = $1`, "pipeline/"+stuckID))

	// v2 and v3 name v1 as what they wait behind.
	waiting := queryID(t, b.pool, `SELECT string_agg(h.message_id, ',') FROM webhooks.ordered_queue h WHERE h.released AND h.resource = $1`, "pipeline/"+stuckID)
	rows, err := b.pool.Query(context.Background(), `SELECT q.message_id FROM webhooks.ordered_queue q WHERE NOT q.released`)
	require.NoError(t, err)
	var ids []string
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	behind, err := db.New().OrderedWaitingBehind(context.Background(), b.pool, ids)
	require.NoError(t, err)
	require.Len(t, behind, 2)
	for _, r := range behind {
		require.Equal(t, waiting, r.Behind)
		require.Equal(t, "pipeline/"+stuckID, r.Resource)
	}
}

// TestOrderedOrphanedHeadGetsANewJob: a released message whose delivery job
// is gone without finishing it (a process killed during its last attempt,
// its job then discarded) would hold its resource for good; the sweep
// gives it a new job, and the resource goes on.
func TestOrderedOrphanedHeadGetsANewJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	ws := dbtest.Workspace(t, pool, "Acme")
	owner := dbtest.Member(t, pool, ws, "owner")
	recv := newVersionReceiver(0)
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	webhookID := dbtest.Webhook(t, pool, ws, owner, srv.URL, "pipeline.*")
	exec(t, pool, `UPDATE webhooks.webhooks SET ordered = true WHERE id = $1`, webhookID)
	id := queryID(t, pool, `INSERT INTO pipelines (workspace_id, created_by, name) VALUES ($1, $2, 'v0') RETURNING id`, ws, owner)
	exec(t, pool, `UPDATE pipelines SET name = 'v1' WHERE id = $1`, id)

	// Expanded and released by a client that does not deliver; then the
	// head's job is lost.
	expander, err := jobs.NewClient(pool, jobs.Config{Work: true, ExpandOnly: true, SafetyNet: time.Hour})
	require.NoError(t, err)
	require.NoError(t, expander.Start(ctx))
	require.Eventually(t, func() bool {
		return count(t, pool, `SELECT count(*) FROM webhooks.ordered_queue WHERE released`) == 1 &&
			count(t, pool, `SELECT count(*) FROM webhooks.ordered_queue`) == 2
	}, time.Minute, 20*time.Millisecond)
	stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, expander.Stop(stopCtx))
	exec(t, pool, `DELETE FROM river_job WHERE kind = 'webhook_deliver'`)

	startClient(t, pool, jobs.Config{Delivery: delivery.Config{Policy: loopback()}, SafetyNet: time.Hour})
	require.Eventually(t, func() bool { return recv.total() == 2 }, time.Minute, 20*time.Millisecond)
	require.Empty(t, recv.outOfOrder(1))
}
