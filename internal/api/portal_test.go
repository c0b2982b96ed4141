package api_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/auth"
	"github.com/countercyclical/webhooks/internal/dbtest"
)

// TestRedeemPortalLinkRace: two redemptions of one link at the same time
// open one session: exactly one succeeds, the other gets
// ErrPortalLinkInvalid. In the first round both are made to wait on the
// link's row (locked by a transaction here) and go together when it is
// released, the closest two requests can come; then rounds run free.
func TestRedeemPortalLinkRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	ws := newWorkspace(t, pool, "Acme")

	redeemTwice := func(token string, whileBlocked func()) (sessions []string, invalid int) {
		t.Helper()
		type result struct {
			session string
			err     error
		}
		results := make(chan result, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				session, _, err := auth.RedeemPortalLink(ctx, pool, token)
				results <- result{session, err}
			}()
		}
		close(start)
		if whileBlocked != nil {
			whileBlocked()
		}
		wg.Wait()
		close(results)
		for r := range results {
			switch {
			case r.err == nil:
				sessions = append(sessions, r.session)
			case errors.Is(r.err, auth.ErrPortalLinkInvalid):
				invalid++
			default:
				t.Fatalf("redeeming: %v", r.err)
			}
		}
		return sessions, invalid
	}

	for round := range 10 {
		link, err := auth.CreatePortalLink(ctx, pool, "http://127.0.0.1", ws.id, ws.users["owner"], nil)
		require.NoError(t, err)
		token := link.URL[len("http://127.0.0.1"+auth.PortalStartPath+"?token="):]

		var whileBlocked func()
		if round == 0 {
			tx, err := pool.Begin(ctx)
			require.NoError(t, err)
			_, err = tx.Exec(ctx, `SELECT 1 FROM webhooks.portal_sessions WHERE link_hash = $1 FOR UPDATE`, auth.Hash(token))
			require.NoError(t, err)
			whileBlocked = func() {
				require.Eventually(t, func() bool {
					var waiting int
					require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
						WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%UPDATE webhooks.portal_sessions%'`).Scan(&waiting))
					return waiting == 2
				}, 10*time.Second, 10*time.Millisecond, "both redemptions wait on the link's row")
				require.NoError(t, tx.Rollback(ctx))
			}
		}
		sessions, invalid := redeemTwice(token, whileBlocked)
		require.Len(t, sessions, 1, "round %d: exactly one redemption opens a session", round)
		require.Equal(t, 1, invalid, "round %d", round)

		// The one session works.
		r := httptest.NewRequest("GET", "/portal/", nil)
		r.Header.Set("Cookie", auth.SessionCookie+"="+sessions[0])
		viewer, ok, err := auth.PortalViewer(ctx, pool, r, false)
		require.NoError(t, err)
		require.True(t, ok, "round %d", round)
		require.Equal(t, ws.users["owner"], viewer.UserID)
	}
}
