// Package netguard decides which endpoint URLs and addresses webhooks may
// reach: no loopback, private, link-local (cloud metadata), unique-local,
// CGNAT, multicast or unspecified address unless an allow-list opens it, and
// plain http only when allowed.
package netguard

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// blocked are the ranges no endpoint may be in by default.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network", unspecified
	netip.MustParsePrefix("10.0.0.0/8"),      // private
	netip.MustParsePrefix("100.64.0.0/10"),   // CGNAT
	netip.MustParsePrefix("127.0.0.0/8"),     // loopback
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local, cloud metadata
	netip.MustParsePrefix("172.16.0.0/12"),   // private
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.168.0.0/16"),  // private
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("224.0.0.0/4"),     // multicast
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("::/128"),          // unspecified
	netip.MustParsePrefix("::1/128"),         // loopback
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64 of any IPv4, private ones included
	netip.MustParsePrefix("fc00::/7"),        // unique-local
	netip.MustParsePrefix("fe80::/10"),       // link-local
	netip.MustParsePrefix("ff00::/8"),        // multicast
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("2002::/16"),       // 6to4, which can embed private IPv4
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("::ffff:0:0/96"),   // IPv4-mapped: judged as IPv4 below
	netip.MustParsePrefix("2001::/32"),       // Teredo
	netip.MustParsePrefix("3fff::/20"),       // documentation
	netip.MustParsePrefix("5f00::/16"),       // segment routing
	netip.MustParsePrefix("2001:10::/28"),    // ORCHID
	netip.MustParsePrefix("2001:20::/28"),    // ORCHIDv2
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
}

// Policy is what an operator opened up.
type Policy struct {
	// AllowHTTP permits plain http endpoints (WEBHOOKS_ALLOW_HTTP).
	AllowHTTP bool
	// Allowed ranges are reachable even where blocked (WEBHOOKS_ALLOWED_CIDRS).
	Allowed []netip.Prefix
}

// ParseCIDRs parses a comma-separated list such as "127.0.0.0/8,::1/128".
func ParseCIDRs(list string) ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR range such as 127.0.0.0/8", s)
		}
		prefixes = append(prefixes, p.Masked())
	}
	return prefixes, nil
}

// AddrAllowed reports whether an address may be dialled.
func (p Policy) AddrAllowed(addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("")
	for _, allowed := range p.Allowed {
		if allowed.Contains(addr) {
			return true
		}
	}
	for _, prefix := range blocked {
		if prefix.Contains(addr) {
			return false
		}
	}
	return true
}

// ErrBlocked is wrapped by the errors of CheckURL and CheckAddr.
var ErrBlocked = errors.New("netguard: address not allowed")

// CheckAddr returns an error wrapping ErrBlocked when addr may not be dialled.
func (p Policy) CheckAddr(addr netip.Addr) error {
	if p.AddrAllowed(addr) {
		return nil
	}
	return fmt.Errorf("%w: %s is a loopback, private, link-local or otherwise internal address (allow it with WEBHOOKS_ALLOWED_CIDRS)", ErrBlocked, addr.Unmap())
}

// CheckURL validates an endpoint URL as far as can be known without DNS: an
// absolute https (or allowed http) URL of at most 2048 characters, with a
// host, without fragment or credentials, whose host is not a blocked literal
// address or localhost. The delivery dialler checks the resolved address too.
func (p Policy) CheckURL(raw string) error {
	if len(raw) > 2048 {
		return fmt.Errorf("must be at most 2048 characters, got %d", len(raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("is not a valid URL")
	}
	switch {
	case !u.IsAbs():
		return errors.New("must be an absolute URL such as https://example.com/webhooks")
	case u.Scheme == "http" && !p.AllowHTTP:
		return errors.New("must use https (plain http is allowed only where WEBHOOKS_ALLOW_HTTP=true)")
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("must use https, not %s", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return errors.New("must have a host")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("must not have a fragment (#…)")
	case u.User != nil:
		return errors.New("must not carry credentials (user:password@); put a token in the path or query instead")
	}
	if port := u.Port(); port != "" {
		if n, err := parsePort(port); err != nil || n == 0 {
			return fmt.Errorf("has an invalid port %q", port)
		}
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		if !p.AddrAllowed(netip.MustParseAddr("127.0.0.1")) {
			return fmt.Errorf("must not point at %s, which is this machine (allow it with WEBHOOKS_ALLOWED_CIDRS)", host)
		}
		return nil
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if !p.AddrAllowed(addr) {
			return fmt.Errorf("must not point at %s, a loopback, private, link-local or otherwise internal address (allow it with WEBHOOKS_ALLOWED_CIDRS)", addr.Unmap())
		}
	}
	return nil
}

func parsePort(s string) (int, error) {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errors.New("not a number")
		}
		n = n*10 + int(c-'0')
		if n > 65535 {
			return 0, errors.New("out of range")
		}
	}
	return n, nil
}
