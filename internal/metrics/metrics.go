// Package metrics exposes the pipeline to Prometheus: deliveries by outcome
// and their latency, counted as they happen, and the outbox backlog,
// expansion lag and River queue depth, read from PostgreSQL at each scrape.
//
// It imports db and riverjob.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/riverjob"
)

// DeliveriesHelp describes Deliveries; the classes are delivery.ErrorClasses
// (TestStatesAgree).
const DeliveriesHelp = "Delivery attempts by outcome: succeeded, or the error class (status, redirect, timeout, connection, blocked, invalid_url, invalid_secret)."

// Deliveries counts attempts by outcome: succeeded, or the error class.
var Deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "webhooks_delivery_attempts_total",
	Help: DeliveriesHelp,
}, []string{"outcome"})

// AttemptSeconds is the latency of attempts.
var AttemptSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
	Name:    "webhooks_delivery_attempt_seconds",
	Help:    "Duration of delivery attempts, from request to the end of the answer read.",
	Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15},
})

// dbCollector reads gauges from the database at scrape time.
type dbCollector struct {
	pool                         *pgxpool.Pool
	logger                       *slog.Logger
	backlog, lag, queue, scrapeE *prometheus.Desc
	ahead, invalid               *prometheus.Desc
	// queues have a series for each state even when it is 0.
	queues []string
}

// queueStates are the states of webhooks_river_jobs: those of jobs waiting
// or under way.
var queueStates = []string{"available", "scheduled", "retryable", "running"}

// Handler serves /metrics: the counters above, Go's, and the database's.
// webhooks_river_jobs has a series for each of queues in each state, 0 when
// idle (a missing series is no job to a dashboard, but an alert on the
// absence of data cannot tell it from a broken scrape).
func Handler(pool *pgxpool.Pool, logger *slog.Logger, queues ...string) http.Handler {
	registry := prometheus.NewRegistry()
	registry.MustRegister(Deliveries, AttemptSeconds, collectors.NewGoCollector(), &dbCollector{
		pool:    pool,
		logger:  logger,
		backlog: prometheus.NewDesc("webhooks_outbox_backlog", "Captured events not yet expanded.", nil, nil),
		lag:     prometheus.NewDesc("webhooks_expansion_lag_seconds", "Age of the oldest event not yet expanded (0 when none).", nil, nil),
		queue:   prometheus.NewDesc("webhooks_river_jobs", "River jobs by queue and state.", []string{"queue", "state"}, nil),
		scrapeE: prometheus.NewDesc("webhooks_metrics_database_up", "Whether the database answered this scrape.", nil, nil),
		ahead: prometheus.NewDesc("webhooks_partitions_ahead",
			"Partitions of the logs ready after the current one; the app's writes fail once none is left (alert below 2).", nil, nil),
		invalid: prometheus.NewDesc("webhooks_river_job_invalid_indexes",
			"Invalid indexes on river_job: copies a cut-off rebuild of River's reindexer left, which every write still updates (alert above 0; drop them).", nil, nil),
		queues: queues,
	})
	return promhttp.HandlerFor(registry, promhttp.HandlerOpts{})
}

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.backlog
	ch <- c.lag
	ch <- c.queue
	ch <- c.scrapeE
	ch <- c.ahead
	ch <- c.invalid
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	up := 1.0
	defer func() { ch <- prometheus.MustNewConstMetric(c.scrapeE, prometheus.GaugeValue, up) }()

	var backlog int64
	var lag float64
	if err := c.pool.QueryRow(ctx, `SELECT unexpanded, coalesce(extract(epoch FROM oldest_age), 0)::float8 FROM webhooks.outbox_backlog`).Scan(&backlog, &lag); err != nil {
		c.logger.Warn("metrics: error reading the outbox backlog", "error", err)
		up = 0
		return
	}
	ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(backlog))
	ahead, err := db.New().PartitionCountAhead(ctx, c.pool)
	if err != nil {
		c.logger.Warn("metrics: error counting partitions", "error", err)
		up = 0
		return
	}
	ch <- prometheus.MustNewConstMetric(c.ahead, prometheus.GaugeValue, float64(ahead))
	ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, lag)

	invalid, err := riverjob.InvalidIndexes(ctx, c.pool)
	if err != nil {
		c.logger.Warn("metrics: error counting River's invalid indexes", "error", err)
		up = 0
		return
	}
	ch <- prometheus.MustNewConstMetric(c.invalid, prometheus.GaugeValue, float64(invalid))

	found, err := riverjob.CountQueues(ctx, c.pool, queueStates)
	if err != nil {
		c.logger.Warn("metrics: error reading River's queues", "error", err)
		up = 0
		return
	}
	type key struct{ queue, state string }
	counts := map[key]int64{}
	for _, queue := range c.queues {
		for _, state := range queueStates {
			counts[key{queue, state}] = 0
		}
	}
	for _, f := range found {
		counts[key{f.Queue, f.State}] = f.Jobs
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(n), k.queue, k.state)
	}
}
