// Package netguard decides which endpoint URLs and addresses webhooks may
// reach: no loopback, private, link-local (cloud metadata), unique-local,
// CGNAT, multicast or unspecified address unless an allow-list opens it, and
// plain http only when allowed.
//
// It imports nothing of this project.
package netguard

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// blocked are the ranges no endpoint may be in by default, each with what
// it is, for the error. Both checks go through blockedRange: the API's, at
// creation, on the address a browser reads in the URL; the dialler's, on the
// address actually dialled. IPv6 forms that carry an IPv4 address are blocked
// whole (an operator opens one with WEBHOOKS_ALLOWED_CIDRS), except
// IPv4-mapped addresses, which the socket dials as the IPv4 address they
// carry and are therefore judged as that address (addrAllowed unmaps them).
var blocked = []struct {
	prefix netip.Prefix
	what   string
	v4At   int // the bit at which an IPv4 address it carries starts, or 0
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "an unspecified (\"this network\") address", 0}, // 0.0.0.0 reaches this machine
	{netip.MustParsePrefix("10.0.0.0/8"), "a private address", 0},
	{netip.MustParsePrefix("100.64.0.0/10"), "a CGNAT address", 0},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address", 0},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address (cloud metadata)", 0},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private address", 0},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol assignment", 0},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private address", 0},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address", 0},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address", 0},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved or broadcast address", 0},
	{netip.MustParsePrefix("::/128"), "the unspecified address", 0},
	{netip.MustParsePrefix("::1/128"), "a loopback address", 0},
	// Deprecated IPv4-compatible addresses (::a.b.c.d, RFC 4291): no public
	// endpoint has one, and [::127.0.0.1] reads as loopback to a person.
	{netip.MustParsePrefix("::/96"), "a deprecated IPv4-compatible address", 96},
	{netip.MustParsePrefix("::ffff:0:0:0/96"), "an IPv4-translated address (RFC 2765)", 96},
	// NAT64 and 6to4 reach whatever IPv4 address they carry, private ones
	// included, through a translator or relay the dialler cannot see past.
	{netip.MustParsePrefix("64:ff9b::/96"), "a NAT64 address", 96},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a local-use NAT64 address", 0},
	{netip.MustParsePrefix("2002::/16"), "a 6to4 address", 16},
	{netip.MustParsePrefix("2001::/32"), "a Teredo address (it carries IPv4 addresses)", 0},
	{netip.MustParsePrefix("fc00::/7"), "a unique-local address", 0},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address", 0},
	{netip.MustParsePrefix("fec0::/10"), "a deprecated site-local address", 0},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address", 0},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address", 0},
	{netip.MustParsePrefix("3fff::/20"), "a documentation address", 0},
	{netip.MustParsePrefix("100::/64"), "a discard address", 0},
	{netip.MustParsePrefix("5f00::/16"), "a segment routing address", 0},
	{netip.MustParsePrefix("2001:10::/28"), "an ORCHID address", 0},
	{netip.MustParsePrefix("2001:20::/28"), "an ORCHIDv2 address", 0},
	{netip.MustParsePrefix("192.88.99.0/24"), "a 6to4 relay anycast address", 0},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address", 0},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address", 0},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address", 0},
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

// addrAllowed reports whether an address may be dialled.
func (p Policy) addrAllowed(addr netip.Addr) bool {
	_, blocked := p.blockedRange(addr)
	return !blocked
}

// blockedRange says what kind of internal address addr is, when the policy
// does not let it be dialled: the one notion of "internal" of both checks.
func (p Policy) blockedRange(addr netip.Addr) (what string, isBlocked bool) {
	addr = addr.Unmap().WithZone("")
	for _, allowed := range p.Allowed {
		if allowed.Contains(addr) {
			return "", false
		}
	}
	for _, b := range blocked {
		if !b.prefix.Contains(addr) {
			continue
		}
		if b.v4At > 0 {
			a := addr.As16()
			carried := netip.AddrFrom4([4]byte(a[b.v4At/8 : b.v4At/8+4]))
			return fmt.Sprintf("%s, which carries the IPv4 address %s", b.what, carried), true
		}
		return b.what, true
	}
	return "", false
}

// ErrBlocked is wrapped by the errors of CheckAddr.
var ErrBlocked = errors.New("netguard: address not allowed")

// CheckAddr returns an error wrapping ErrBlocked when addr may not be dialled.
func (p Policy) CheckAddr(addr netip.Addr) error {
	if p.addrAllowed(addr) {
		return nil
	}
	return fmt.Errorf("%w: %s is a loopback, private, link-local or otherwise internal address"+hintCIDRs, ErrBlocked, addr.Unmap())
}

// The hints of CheckURL's errors, for the operator who may open a range:
// ForPeople leaves them out for the people who only enter URLs.
const (
	hintCIDRs = " (allow it with WEBHOOKS_ALLOWED_CIDRS)"
	hintHTTP  = " (plain http is allowed only where WEBHOOKS_ALLOW_HTTP=true)"
)

// ForPeople is an error of CheckURL without its hints to the operator,
// for a page whose users cannot change the server's settings.
func ForPeople(err error) string {
	msg := strings.ReplaceAll(err.Error(), hintHTTP, "")
	if strings.Contains(msg, hintCIDRs) {
		msg = strings.ReplaceAll(msg, hintCIDRs, "") + "; use an address the internet can reach"
	}
	return msg
}

// CheckURL validates an endpoint URL as far as can be known without DNS: an
// absolute https (or allowed http) URL of at most 2048 characters, with a
// host, without fragment or credentials, whose host is not localhost nor,
// read as a browser reads it (parseHost), a blocked address. The delivery
// dialler checks the resolved address too, with the same ranges.
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
		return errors.New("must use https" + hintHTTP)
	case u.Scheme != "https" && u.Scheme != "http" && p.AllowHTTP:
		return fmt.Errorf("must use http or https, not %s", u.Scheme)
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
	h, err := parseHost(u)
	if err != nil {
		return err
	}
	if !h.addr.IsValid() {
		name := strings.TrimSuffix(h.domain, ".")
		if name == "localhost" || strings.HasSuffix(name, ".localhost") {
			if !p.addrAllowed(netip.MustParseAddr("127.0.0.1")) {
				return fmt.Errorf("must not point at %s, which is this machine"+hintCIDRs, name)
			}
		}
		return nil
	}
	if what, isBlocked := p.blockedRange(h.addr); isBlocked {
		as := ""
		switch {
		case h.numeric && u.Hostname() != h.addr.String():
			as = fmt.Sprintf(" (as browsers read %s)", u.Hostname())
		case h.addr.Is4In6():
			as = fmt.Sprintf(" (written [%s])", u.Hostname())
		}
		return fmt.Errorf("must not point at %s%s, %s"+hintCIDRs, h.addr.Unmap(), as, what)
	}
	if h.numeric && u.Hostname() != h.addr.String() {
		// Allowed, but written so that clients disagree: Go's own resolver
		// looks 2130706433 up in DNS, a browser or glibc's getaddrinfo
		// reads it as 127.0.0.1. The dotted form means one thing to all.
		return fmt.Errorf("must write the IPv4 address as %s, not %s, which not every client reads as that address", h.addr, u.Hostname())
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
