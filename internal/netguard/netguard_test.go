package netguard_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/countercyclical/webhooks/internal/netguard"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	strict := netguard.Policy{}
	for _, addr := range []string{
		"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
		"100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fd00::1",
		"ff02::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1",
		"::7f00:1", "::ffff:0:7f00:1", "2002:7f00:1::", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
	} {
		require.ErrorIs(t, strict.CheckAddr(netip.MustParseAddr(addr)), netguard.ErrBlocked, addr)
	}
	for _, addr := range []string{"93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700::1111", "1.1.1.1"} {
		require.NoError(t, strict.CheckAddr(netip.MustParseAddr(addr)), addr)
	}

	allowed, err := netguard.ParseCIDRs("127.0.0.0/8, ::1/128")
	require.NoError(t, err)
	dev := netguard.Policy{Allowed: allowed}
	require.NoError(t, dev.CheckAddr(netip.MustParseAddr("127.0.0.1")))
	require.NoError(t, dev.CheckAddr(netip.MustParseAddr("::ffff:127.0.0.1")))
	require.NoError(t, dev.CheckAddr(netip.MustParseAddr("::1")))
	require.Error(t, dev.CheckAddr(netip.MustParseAddr("10.0.0.1")))

	_, err = netguard.ParseCIDRs("127.0.0.1")
	require.ErrorContains(t, err, `"127.0.0.1" is not a CIDR range`)
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	strict := netguard.Policy{}
	for _, ok := range []string{"https://example.com/hooks", "https://example.com:8443/x?token=abc", "https://[2606:4700::1111]/"} {
		require.NoError(t, strict.CheckURL(ok), ok)
	}
	for raw, want := range map[string]string{
		"example.com/hooks":             "absolute URL",
		"http://example.com/":           "must use https",
		"ftp://example.com/":            "must use https, not ftp",
		"https://":                      "must have a host",
		"https://example.com/#frag":     "fragment",
		"https://u:p@example.com/":      "credentials",
		"https://127.0.0.1/":            "127.0.0.1, a loopback",
		"https://169.254.169.254/":      "169.254.169.254",
		"https://[::1]:9000/":           "::1",
		"https://localhost:9000/":       "localhost, which is this machine",
		"https://api.localhost/":        "api.localhost",
		"https://example.com:99999/":    "invalid port",
		"https://example.com/%zz":       "not a valid URL",
		"https://10.0.0.1/":             "10.0.0.1",
		"https://[::ffff:192.168.0.1]/": "192.168.0.1",
	} {
		require.ErrorContains(t, strict.CheckURL(raw), want, raw)
	}
	long := "https://example.com/" + string(make([]byte, 2040))
	require.ErrorContains(t, strict.CheckURL(long), "at most 2048")

	allowed, _ := netguard.ParseCIDRs("127.0.0.0/8")
	dev := netguard.Policy{AllowHTTP: true, Allowed: allowed}
	require.NoError(t, dev.CheckURL("http://127.0.0.1:9000/hooks"))
	require.NoError(t, dev.CheckURL("http://localhost:9000/hooks"))
	// Where http is allowed, the error says so.
	require.EqualError(t, dev.CheckURL("ftp://example.com/"), "must use http or https, not ftp")
	require.EqualError(t, dev.CheckURL("FTP://example.com/"), "must use http or https, not ftp")
	require.EqualError(t, strict.CheckURL("ftp://example.com/"), "must use https, not ftp")
}

// TestCheckURLReadsHostsAsBrowsers: every spelling of a host that a browser
// (the WHATWG URL standard) reads as an internal address is refused at
// creation, naming the address, and the dial-time check refuses that
// address too: one notion of internal for both.
func TestCheckURLReadsHostsAsBrowsers(t *testing.T) {
	t.Parallel()
	strict := netguard.Policy{}
	for _, tt := range []struct{ url, addr, want string }{
		{"https://2130706433/", "127.0.0.1", "127.0.0.1 (as browsers read 2130706433), a loopback address"},
		{"https://0x7f000001/", "127.0.0.1", "127.0.0.1 (as browsers read 0x7f000001), a loopback"},
		{"https://0X7F000001/", "127.0.0.1", "127.0.0.1 (as browsers read 0X7F000001), a loopback"},
		{"https://0177.0.0.1/", "127.0.0.1", "127.0.0.1 (as browsers read 0177.0.0.1), a loopback"},
		{"https://127.1/", "127.0.0.1", "127.0.0.1 (as browsers read 127.1), a loopback"},
		{"https://0x7f.1/", "127.0.0.1", "127.0.0.1 (as browsers read 0x7f.1), a loopback"},
		{"https://0x7f.0.0.01:8443/x", "127.0.0.1", "a loopback"},
		{"https://127.0.0.1./", "127.0.0.1", "127.0.0.1 (as browsers read 127.0.0.1.), a loopback"},
		{"https://127.0.0.1/", "127.0.0.1", "must not point at 127.0.0.1, a loopback"},
		{"https://0/", "0.0.0.0", "0.0.0.0 (as browsers read 0), an unspecified"},
		{"https://0x0a.1/", "10.0.0.1", "10.0.0.1 (as browsers read 0x0a.1), a private"},
		{"https://169.254.43518/", "169.254.169.254", "169.254.169.254 (as browsers read 169.254.43518), a link-local address (cloud metadata)"},
		{"https://0xa9fea9fe/", "169.254.169.254", "169.254.169.254"},
		{"https://0251.0376.0251.0376/", "169.254.169.254", "169.254.169.254"},
		{"https://１２７.０.０.１/", "127.0.0.1", "127.0.0.1 (as browsers read １２７.０.０.１), a loopback"},
		{"https://127。0。0。1/", "127.0.0.1", "a loopback"},
		{"https://%EF%BC%91%EF%BC%92%EF%BC%97.0.0.1/", "127.0.0.1", "a loopback"},
		{"https://[::1]/", "::1", "::1, a loopback"},
		{"https://[::127.0.0.1]/", "::7f00:1", "::7f00:1, a deprecated IPv4-compatible address, which carries the IPv4 address 127.0.0.1"},
		{"https://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1", "127.0.0.1 (written [::ffff:127.0.0.1]), a loopback"},
		{"https://[::ffff:7f00:1]/", "::ffff:7f00:1", "127.0.0.1 (written [::ffff:7f00:1]), a loopback"},
		{"https://[0:0:0:0:0:ffff:a9fe:a9fe]/", "::ffff:169.254.169.254", "169.254.169.254 (written [0:0:0:0:0:ffff:a9fe:a9fe]), a link-local"},
		{"https://[::ffff:0:7f00:1]/", "::ffff:0:7f00:1", "an IPv4-translated address (RFC 2765), which carries the IPv4 address 127.0.0.1"},
		{"https://[64:ff9b::127.0.0.1]/", "64:ff9b::7f00:1", "64:ff9b::7f00:1, a NAT64 address, which carries the IPv4 address 127.0.0.1"},
		{"https://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe", "which carries the IPv4 address 169.254.169.254"},
		{"https://[2002:7f00:1::]/", "2002:7f00:1::", "2002:7f00:1::, a 6to4 address, which carries the IPv4 address 127.0.0.1"},
		{"https://[2002:a9fe:a9fe::1]/", "2002:a9fe:a9fe::1", "which carries the IPv4 address 169.254.169.254"},
		{"https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "a Teredo address"},
		{"https://[FE80::1]/", "fe80::1", "fe80::1, a link-local"},
	} {
		err := strict.CheckURL(tt.url)
		require.ErrorContains(t, err, tt.want, tt.url)
		require.ErrorContains(t, err, "WEBHOOKS_ALLOWED_CIDRS", tt.url)
		require.ErrorIs(t, strict.CheckAddr(netip.MustParseAddr(tt.addr)), netguard.ErrBlocked, "dialling %s (%s)", tt.addr, tt.url)
	}

	// What browsers refuse is refused, saying why.
	for raw, want := range map[string]string{
		"https://1.2.3.4.5/":           "more than four parts",
		"https://256.0.0.1/":           "256 is past 255",
		"https://1.2.3.256/":           "256 is too large",
		"https://4294967296/":          "too large",
		"https://08.0.0.1/":            `"08" is not a number`,
		"https://0x1g.0.0.1/":          `"0x1g" is not a number`,
		"https://example.123/":         `"example" is not a number`,
		"https://example.0x/":          `"example" is not a number`,
		"https://[::1::2]/":            "is not a valid URL", // net/url checks IPv6 literals itself
		"https://[fe80::1%25eth0]/":    "must not give an IPv6 zone",
		"https://exa<mple.com/":        `'<', which no domain name may contain`,
		"https://exa＜mple.com/":        `'<', which no domain name may contain`,
		"https://localhost./":          "localhost, which is this machine",
		"https://LocalHost/":           "localhost, which is this machine",
		"https://ｌｏｃａｌｈｏｓｔ/":           "localhost, which is this machine",
		"https://api.localhost./hooks": "api.localhost, which is this machine",
	} {
		require.ErrorContains(t, strict.CheckURL(raw), want, raw)
	}

	// A public address written in a form clients disagree on: the dotted
	// form is asked for.
	for raw, want := range map[string]string{
		"https://134744072/":  "must write the IPv4 address as 8.8.8.8, not 134744072",
		"https://0x08080808/": "as 8.8.8.8, not 0x08080808",
		"https://8.8.8.8./":   "as 8.8.8.8, not 8.8.8.8.",
		"https://8.8.2056/":   "as 8.8.8.8, not 8.8.2056",
	} {
		require.ErrorContains(t, strict.CheckURL(raw), want, raw)
	}

	for _, ok := range []string{
		"https://8.8.8.8/", "https://[::ffff:8.8.8.8]/", "https://[2606:4700::1111]:8443/", "https://example.com./hooks",
		"https://ex_ample.com/", "https://münchen.de/", "https://1x.example/", "https://0x.example.com/", "https://example.0x1g/",
		"https://a.b.c.d.e.example/", "https://123.example/",
	} {
		require.NoError(t, strict.CheckURL(ok), ok)
	}

	// Opening a range opens its every spelling that browsers and clients
	// agree on; the forms that only carry it stay closed.
	allowed, err := netguard.ParseCIDRs("127.0.0.0/8")
	require.NoError(t, err)
	dev := netguard.Policy{Allowed: allowed}
	require.NoError(t, dev.CheckURL("https://127.0.0.1:9000/"))
	require.NoError(t, dev.CheckURL("https://[::ffff:127.0.0.1]:9000/"))
	require.ErrorContains(t, dev.CheckURL("https://127.1:9000/"), "must write the IPv4 address as 127.0.0.1, not 127.1")
	require.ErrorContains(t, dev.CheckURL("https://[64:ff9b::127.0.0.1]/"), "a NAT64 address")
}
