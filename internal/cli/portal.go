package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"

	"github.com/countercyclical/webhooks/internal/auth"
)

// portal prints a one-time link to the Webhooks page for a user, as the
// host app gets one from POST /v1/portal/sessions.
func (c *command) portal(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("portal", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	workspace := fs.String("workspace", "", "workspace id")
	user := fs.String("user", "", "user id")
	if err := fs.Parse(args); err != nil {
		return usageError{"portal: " + err.Error()}
	}
	switch {
	case fs.NArg() != 0:
		return usageError{fmt.Sprintf("portal takes flags only, not %q", fs.Arg(0))}
	case *workspace == "" || *user == "":
		return usageError{"portal needs --workspace W and --user U"}
	}
	base, err := c.publicURL()
	if err != nil {
		return err
	}
	pool, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	link, err := auth.CreatePortalLink(ctx, pool, base, *workspace, *user, nil)
	if errors.Is(err, auth.ErrNotMember) {
		return fmt.Errorf("user %q is not a member of workspace %q: add them to workspace_members first", *user, *workspace)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "a one-time link to the Webhooks page, to open before %s:\n", link.ExpiresAt.Local().Format(time.TimeOnly))
	fmt.Fprintln(c.stdout, link.URL)
	return nil
}

// publicURL is where browsers reach serve: WEBHOOKS_PUBLIC_URL, else
// http:// and WEBHOOKS_ADDR.
func (c *command) publicURL() (string, error) {
	v := c.env("WEBHOOKS_PUBLIC_URL")
	if v == "" {
		// A listener on every interface (":8080", "0.0.0.0:8080") is
		// reached on loopback from here.
		host, port, err := net.SplitHostPort(c.addr())
		if err != nil {
			return "", fmt.Errorf("WEBHOOKS_ADDR=%q is not host:port", c.addr())
		}
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			host = "127.0.0.1"
		}
		return "http://" + net.JoinHostPort(host, port), nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("WEBHOOKS_PUBLIC_URL=%q must be an http or https origin such as https://webhooks.example.com", v)
	}
	return u.Scheme + "://" + u.Host, nil
}

// needPublicURL refuses a serve that listens beyond loopback without
// WEBHOOKS_PUBLIC_URL: links to the Webhooks page, and whether its session
// cookie is Secure (and __Host-), come from it, never from what a
// request's Host or X-Forwarded-Proto claims. On loopback (make run) the
// default, http:// and WEBHOOKS_ADDR, is right.
func (c *command) needPublicURL() error {
	if c.env("WEBHOOKS_PUBLIC_URL") != "" {
		return nil
	}
	host, _, err := net.SplitHostPort(c.addr())
	if err != nil {
		return fmt.Errorf("WEBHOOKS_ADDR=%q is not host:port", c.addr())
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("WEBHOOKS_ADDR=%q listens beyond loopback, so set WEBHOOKS_PUBLIC_URL to the origin browsers reach serve at, such as https://webhooks.example.com: links to the Webhooks page are made under it, and its https makes the session cookie Secure; or listen on 127.0.0.1", c.addr())
}
