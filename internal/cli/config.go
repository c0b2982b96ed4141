package cli

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/countercyclical/webhooks/jobs"

	"github.com/countercyclical/webhooks/internal/api"
	"github.com/countercyclical/webhooks/internal/delivery"
	"github.com/countercyclical/webhooks/internal/netguard"
)

// apiConfig reads the API's settings from the environment. A bad value is
// an error naming the variable, never a silent default.
func (c *command) apiConfig() (api.Config, error) {
	var config api.Config
	if v := c.env("WEBHOOKS_ALLOW_HTTP"); v != "" {
		allow, err := strconv.ParseBool(v)
		if err != nil {
			return config, fmt.Errorf("WEBHOOKS_ALLOW_HTTP=%q is not true or false", v)
		}
		config.Policy.AllowHTTP = allow
	}
	allowed, err := netguard.ParseCIDRs(c.env("WEBHOOKS_ALLOWED_CIDRS"))
	if err != nil {
		return config, fmt.Errorf("WEBHOOKS_ALLOWED_CIDRS: %w", err)
	}
	config.Policy.Allowed = allowed
	if v := c.env("WEBHOOKS_SECRET_GRACE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return config, fmt.Errorf("WEBHOOKS_SECRET_GRACE=%q is not a duration such as 24h", v)
		}
		config.SecretGrace = d
	}
	quotas := []struct {
		name string
		dst  *int
	}{
		{"WEBHOOKS_MAX_WEBHOOKS_PER_WORKSPACE", &config.MaxWebhooksPerWorkspace},
		{"WEBHOOKS_TEST_SENDS_PER_MINUTE", &config.TestSendsPerMinute},
	}
	for _, v := range quotas {
		if s := c.env(v.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return config, fmt.Errorf("%s=%q is not a positive whole number", v.name, s)
			}
			*v.dst = n
		}
	}
	if c.env("WEBHOOKS_PUBLIC_URL") != "" {
		base, err := c.publicURL()
		if err != nil {
			return config, err
		}
		config.PublicURL = base
	}
	return config, nil
}

// jobsConfig reads the River client's settings from the environment.
func (c *command) jobsConfig(logger *slog.Logger) (jobs.Config, error) {
	apiConfig, err := c.apiConfig()
	if err != nil {
		return jobs.Config{}, err
	}
	config := jobs.Config{Work: true, Logger: logger, Delivery: delivery.Config{Policy: apiConfig.Policy}}
	ints := []struct {
		name string
		dst  *int
	}{
		{"WEBHOOKS_EXPAND_WORKERS", &config.ExpandWorkers},
		{"WEBHOOKS_DELIVER_WORKERS", &config.DeliverWorkers},
		{"WEBHOOKS_MAX_INFLIGHT", &config.Delivery.MaxInflight},
		{"WEBHOOKS_PARTITIONS_AHEAD", &config.PartitionsAhead},
	}
	for _, v := range ints {
		if s := c.env(v.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return config, fmt.Errorf("%s=%q is not a positive whole number", v.name, s)
			}
			*v.dst = n
		}
	}
	durations := []struct {
		name string
		dst  *time.Duration
	}{
		{"WEBHOOKS_DISABLE_AFTER", &config.Delivery.DisableAfter},
		{"WEBHOOKS_CONNECT_TIMEOUT", &config.Delivery.ConnectTimeout},
		{"WEBHOOKS_TIMEOUT", &config.Delivery.Timeout},
		{"WEBHOOKS_RETENTION", &config.Retention},
		{"WEBHOOKS_PARTITION_STEP", &config.PartitionStep},
		{"WEBHOOKS_JOB_RETENTION", &config.JobRetention},
	}
	for _, v := range durations {
		if s := c.env(v.name); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				return config, fmt.Errorf("%s=%q is not a positive duration such as 15s", v.name, s)
			}
			*v.dst = d
		}
	}
	if config.PartitionStep != 0 && config.PartitionStep%time.Second != 0 {
		return config, fmt.Errorf("WEBHOOKS_PARTITION_STEP=%q is not a whole number of seconds, such as 24h or 10m", c.env("WEBHOOKS_PARTITION_STEP"))
	}
	if s := c.env("WEBHOOKS_REINDEX_AT"); s != "" {
		at, err := reindexAt(s)
		if err != nil {
			return config, err
		}
		config.ReindexAt = at
	}
	if s := c.env("WEBHOOKS_RETRY_SCHEDULE"); s != "" {
		for i, part := range strings.Split(s, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(part))
			if err != nil || d <= 0 {
				return config, fmt.Errorf("WEBHOOKS_RETRY_SCHEDULE=%q: entry %d %q is not a positive duration such as 5m", s, i+1, part)
			}
			config.Delivery.Schedule = append(config.Delivery.Schedule, d)
		}
	}
	return config, nil
}

// reindexAt reads WEBHOOKS_REINDEX_AT: a time of day in UTC, HH:MM, or off.
func reindexAt(s string) (time.Duration, error) {
	if s == "off" {
		return jobs.NoReindex, nil
	}
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("WEBHOOKS_REINDEX_AT=%q is not a time of day in UTC such as 03:30, or off", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// reindexAtString is ReindexAt as WEBHOOKS_REINDEX_AT writes it.
func reindexAtString(at time.Duration) string {
	if at == jobs.NoReindex {
		return "off"
	}
	return time.Time{}.Add(at).Format("15:04")
}

// logger writes to standard error as text, or as JSON where
// WEBHOOKS_LOG_FORMAT=json.
func (c *command) logger() (*slog.Logger, error) {
	switch format := c.env("WEBHOOKS_LOG_FORMAT"); format {
	case "", "text":
		return slog.New(slog.NewTextHandler(c.stderr, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(c.stderr, nil)), nil
	default:
		return nil, fmt.Errorf("WEBHOOKS_LOG_FORMAT=%q is not text or json", format)
	}
}
