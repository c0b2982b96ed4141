package netguard_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/countercyclical/webhooks/internal/netguard"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAddrAllowed(t *testing.T) {
	t.Parallel()
	strict := netguard.Policy{}
	for _, addr := range []string{
		"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
		"100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fd00::1",
		"ff02::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1",
	} {
		require.False(t, strict.AddrAllowed(netip.MustParseAddr(addr)), addr)
		require.ErrorIs(t, strict.CheckAddr(netip.MustParseAddr(addr)), netguard.ErrBlocked, addr)
	}
	for _, addr := range []string{"93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700::1111", "1.1.1.1"} {
		require.True(t, strict.AddrAllowed(netip.MustParseAddr(addr)), addr)
	}

	allowed, err := netguard.ParseCIDRs("127.0.0.0/8, ::1/128")
	require.NoError(t, err)
	dev := netguard.Policy{Allowed: allowed}
	require.True(t, dev.AddrAllowed(netip.MustParseAddr("127.0.0.1")))
	require.True(t, dev.AddrAllowed(netip.MustParseAddr("::ffff:127.0.0.1")))
	require.True(t, dev.AddrAllowed(netip.MustParseAddr("::1")))
	require.False(t, dev.AddrAllowed(netip.MustParseAddr("10.0.0.1")))

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
}
