package cli

import (
	"fmt"
	"strconv"
	"time"

	"github.com/countercyclical/webhooks/internal/api"
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
	return config, nil
}
