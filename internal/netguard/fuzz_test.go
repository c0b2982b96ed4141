package netguard_test

import (
	"testing"

	"github.com/countercyclical/webhooks/internal/netguard"
)

// FuzzCheckURL: no URL makes the hand-written host parser (IPv4 numbers,
// shifts, labels) panic, which the API would answer with a dropped
// connection. `go test -fuzz FuzzCheckURL ./internal/netguard` explores.
func FuzzCheckURL(f *testing.F) {
	for _, seed := range []string{
		"https://example.com/", "https://2130706433/", "https://0x7f.1/", "https://0177.0.0.1/", "https://127.1/",
		"https://[::127.0.0.1]/", "https://[64:ff9b::7f00:1]/", "https://１２７.０.０.１/", "https://1.2.3.4.5/", "https://0x/",
		"https://.../", "https://./", "https://0.0x.0/", "https://99999999999999999999999/",
	} {
		f.Add(seed)
	}
	strict := netguard.Policy{}
	f.Fuzz(func(t *testing.T, raw string) {
		_ = strict.CheckURL(raw)
	})
}
