package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/countercyclical/webhooks/internal/harness"
)

// How long worker processes have to start and to stop.
const (
	workersReadyTimeout = 30 * time.Second
	// workersStopGrace is worker's longest graceful stop: the request
	// timeout, 15s, and 5s more, and some.
	workersStopGrace = 30 * time.Second
)

// startProcesses starts --processes `webhooks worker` processes on the
// scratch database, configured as the in-process client is, and waits
// until each says it is ready: its River client works and its listener
// listens, as startInProcess's does when it returns.
func (b *run) startProcesses(ctx context.Context) (*harness.Workers, error) {
	bin := b.o.WorkerBinary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("error finding this executable: %w", err)
		}
		bin = exe
	}
	// The parent's environment but its database and settings: the
	// processes run as the in-process client would.
	var env []string
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); name != "DATABASE_URL" && !strings.HasPrefix(name, "WEBHOOKS_") {
			env = append(env, kv)
		}
	}
	workers := strconv.Itoa(b.o.Workers)
	env = append(env, "DATABASE_URL="+b.url, "WEBHOOKS_ALLOW_HTTP=true", "WEBHOOKS_ALLOWED_CIDRS=127.0.0.0/8",
		"WEBHOOKS_DELIVER_WORKERS="+workers, "WEBHOOKS_MAX_INFLIGHT="+workers, "WEBHOOKS_LOG_FORMAT=text")
	ws, err := harness.StartWorkers(ctx, harness.WorkerConfig{Bin: bin, Env: env}, b.o.Processes, workersReadyTimeout)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return ws, nil
}
