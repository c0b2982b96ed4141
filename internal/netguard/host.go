package netguard

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"golang.org/x/net/idna"
)

// browserHost is UTS #46 processing as the WHATWG URL standard's "domain to
// ASCII" does it, not strictly: fullwidth and other compatibility forms are
// mapped (１２７。０。０。１ is 127.0.0.1 to a browser, and to net/http, which
// maps hosts with the same tables), case is folded, and names that are not
// strict DNS host names (underscores) pass.
var browserHost = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.StrictDomainName(false),
	idna.CheckHyphens(false), idna.VerifyDNSLength(false), idna.BidiRule(), idna.CheckJoiners(true))

// host is a URL's host as a browser reads it: an IP address, or a domain
// name in lowercase ASCII.
type host struct {
	addr    netip.Addr // valid when the host is an address
	domain  string     // the host as written, mapped to ASCII
	numeric bool       // domain is read as an IPv4 address
}

// parseHost reads u's host as the WHATWG URL standard's host parser does
// (https://url.spec.whatwg.org/#host-parsing), so that every spelling a
// browser reads as an IP address is judged as that address: 2130706433,
// 0x7f000001, 0177.0.0.1, 127.1, 0x7f.1, 127.0.0.1. and the IPv6 forms. Hosts
// a browser refuses are refused too. u.Hostname() is already percent-decoded.
func parseHost(u *url.URL) (host, error) {
	if strings.HasPrefix(u.Host, "[") {
		inner := u.Hostname()
		if strings.Contains(inner, "%") {
			return host{}, fmt.Errorf("must not give an IPv6 zone ([%s]); browsers refuse it", inner)
		}
		addr, err := netip.ParseAddr(inner)
		if err != nil || !addr.Is6() {
			return host{}, fmt.Errorf("has [%s], which is not an IPv6 address", inner)
		}
		return host{addr: addr, domain: "[" + inner + "]"}, nil
	}
	written := u.Hostname()
	domain, err := browserHost.ToASCII(written)
	if err != nil || domain == "" {
		return host{}, fmt.Errorf("has a host %q that is not a valid domain name", written)
	}
	if i := strings.IndexFunc(domain, forbiddenInDomain); i >= 0 {
		return host{}, fmt.Errorf("has a host %q with %q, which no domain name may contain", written, domain[i])
	}
	if !endsInNumber(domain) {
		return host{domain: domain}, nil
	}
	addr, err := parseIPv4(domain)
	if err != nil {
		return host{}, fmt.Errorf("has a host %q that browsers refuse: it ends in a number, so it must be an IPv4 address, and %v", written, err)
	}
	return host{addr: addr, domain: domain, numeric: true}, nil
}

// forbiddenInDomain is the standard's forbidden domain code point.
func forbiddenInDomain(r rune) bool {
	return r <= 0x20 || r == 0x7f || strings.ContainsRune("#%/:<>?@[\\]^|", r)
}

// endsInNumber is the standard's "ends in a number" checker: a host whose
// last label (a trailing dot aside) is decimal digits, or 0x and hex digits,
// is parsed as an IPv4 address, or refused.
func endsInNumber(domain string) bool {
	labels := strings.Split(domain, ".")
	if labels[len(labels)-1] == "" {
		if len(labels) == 1 {
			return false
		}
		labels = labels[:len(labels)-1]
	}
	last := labels[len(labels)-1]
	if last != "" && strings.Trim(last, "0123456789") == "" {
		return true
	}
	hex, ok := strings.CutPrefix(strings.ToLower(last), "0x")
	return ok && strings.Trim(hex, "0123456789abcdef") == ""
}

// parseIPv4 is the standard's IPv4 parser: one to four numbers, each
// decimal, octal (leading 0) or hex (0x), the last filling the bytes left.
func parseIPv4(domain string) (netip.Addr, error) {
	parts := strings.Split(domain, ".")
	if parts[len(parts)-1] == "" && len(parts) > 1 {
		parts = parts[:len(parts)-1]
	}
	if len(parts) > 4 {
		return netip.Addr{}, errors.New("it has more than four parts")
	}
	numbers := make([]uint64, len(parts))
	for i, part := range parts {
		n, err := parseIPv4Number(part)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("%q %v", part, err)
		}
		numbers[i] = n
	}
	for _, n := range numbers[:len(numbers)-1] {
		if n > 255 {
			return netip.Addr{}, fmt.Errorf("%d is past 255", n)
		}
	}
	last := numbers[len(numbers)-1]
	if last >= 1<<(8*(5-len(numbers))) {
		return netip.Addr{}, fmt.Errorf("%d is too large for its place", last)
	}
	ipv4 := last
	for i, n := range numbers[:len(numbers)-1] {
		ipv4 += n << (8 * (3 - i))
	}
	return netip.AddrFrom4([4]byte{byte(ipv4 >> 24), byte(ipv4 >> 16), byte(ipv4 >> 8), byte(ipv4)}), nil
}

// parseIPv4Number is the standard's IPv4 number parser. Values past 2^32
// are errors (the standard would fail them in parseIPv4 all the same).
func parseIPv4Number(s string) (uint64, error) {
	if s == "" {
		return 0, errors.New("is empty")
	}
	radix := uint64(10)
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		radix, s = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		radix, s = 8, s[1:]
	}
	var n uint64
	for _, c := range s {
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, errors.New("is not a number")
		}
		if d >= radix {
			return 0, errors.New("is not a number")
		}
		n = n*radix + d
		if n > 1<<32 {
			return 0, errors.New("is too large")
		}
	}
	return n, nil
}
