package clientapi

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/axon-matrix/axon/internal/config"
)

// ConfigFromFile hands global.rate_limits and global.trusted_proxies to the handlers.
func TestConfigFromFileRateLimits(t *testing.T) {
	cfg := config.Defaults(t.TempDir())
	if got := ConfigFromFile(cfg, ":8008"); !got.RateLimits.Enabled || !reflect.DeepEqual(got.RateLimits, cfg.Global.RateLimits) || got.TrustedProxies != nil {
		t.Fatalf("defaults: %+v %v", got.RateLimits, got.TrustedProxies)
	}
	cfg.Global.RateLimits.Enabled = false
	cfg.Global.RateLimits.ExemptUserIDs = []string{"@bot:x"}
	cfg.Global.TrustedProxies = []string{"127.0.0.1", "10.0.0.0/8"}
	got := ConfigFromFile(cfg, ":8008")
	want := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	if got.RateLimits.Enabled || !reflect.DeepEqual(got.RateLimits.ExemptUserIDs, []string{"@bot:x"}) || !reflect.DeepEqual(got.TrustedProxies, want) {
		t.Fatalf("got %+v %v", got.RateLimits, got.TrustedProxies)
	}
}
