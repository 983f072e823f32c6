package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestRateLimitsDefaultsAndRates(t *testing.T) {
	c := Defaults("/d")
	rl := c.Global.RateLimits
	if !rl.Enabled {
		t.Fatal("rate limits are not on by default")
	}
	rates := rl.Rates()
	want := []string{"message", "registration", "registration_token_validity", "login_address", "login_account", "login_failed_attempts",
		"joins", "invites_per_room", "invites_per_user", "invites_per_issuer", "threepid_validation", "media_upload"}
	if got := rateNames(); !reflect.DeepEqual(got, want) {
		t.Fatalf("rateNames = %v, want %v", got, want)
	}
	for _, n := range want {
		r, ok := rates[n]
		if !ok || r.PerSecond <= 0 || r.BurstCount < 1 {
			t.Errorf("default %s = %+v (present %v)", n, r, ok)
		}
	}
	if got := rates["message"]; got != (Rate{PerSecond: 0.2, BurstCount: 10}) {
		t.Errorf("message = %+v, want Synapse's 0.2/s burst 10", got)
	}
	if len(c.Global.TrustedProxies) != 0 {
		t.Errorf("trusted proxies by default: %v", c.Global.TrustedProxies)
	}
}

func TestRateLimitsParseAndValidate(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error; empty: valid
	}{
		{"off", "global: {rate_limits: {enabled: false}}", nil},
		{"one limit changed", "global: {rate_limits: {message: {per_second: 100, burst_count: 1000}}}", nil},
		{"zero rate", "global: {rate_limits: {joins: {per_second: 0}}}", []string{"global.rate_limits.joins.per_second:"}},
		{"negative rate", "global: {rate_limits: {message: {per_second: -1}}}", []string{"global.rate_limits.message.per_second:"}},
		{"zero burst", "global: {rate_limits: {registration: {burst_count: 0}}}", []string{"global.rate_limits.registration.burst_count:"}},
		{"exempt ok", "global: {rate_limits: {exempt_user_ids: ['@bridge:example.org']}}", nil},
		{"exempt not a user ID", "global: {rate_limits: {exempt_user_ids: ['@ok:x', 'bridge']}}", []string{"global.rate_limits.exempt_user_ids[1]:"}},
		{"proxies ok", "global: {trusted_proxies: ['127.0.0.1', '::1', '10.0.0.0/8', 'fd00::/8']}", nil},
		{"bad proxy", "global: {trusted_proxies: ['127.0.0.1', 'proxy.local', '10.0.0.0/33']}",
			[]string{"global.trusted_proxies[1]:", "global.trusted_proxies[2]:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want errors %q, got none", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	// Keys a file leaves out keep their defaults.
	c, err := Parse([]byte("global: {rate_limits: {message: {per_second: 5}}}"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Global.RateLimits.Message; got != (Rate{PerSecond: 5, BurstCount: 10}) {
		t.Fatalf("message = %+v", got)
	}
	if !c.Global.RateLimits.Enabled || c.Global.RateLimits.Joins != defaultRateLimits().Joins {
		t.Fatalf("other limits lost their defaults: %+v", c.Global.RateLimits)
	}
}

func TestTrustedProxyPrefixes(t *testing.T) {
	g := Global{TrustedProxies: []string{"127.0.0.1", "::ffff:10.1.2.3", "192.168.7.9/16", "::1", "bad"}}
	want := []netip.Prefix{
		netip.MustParsePrefix("127.0.0.1/32"),
		netip.MustParsePrefix("10.1.2.3/32"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("::1/128"),
	}
	if got := g.TrustedProxyPrefixes(); !reflect.DeepEqual(got, want) {
		t.Fatalf("TrustedProxyPrefixes = %v, want %v", got, want)
	}
}

func TestGenerateRateLimitsRoundTrips(t *testing.T) {
	c := Defaults("/d")
	c.Global.TrustedProxies = []string{"127.0.0.1", "10.0.0.0/8"}
	c.Global.RateLimits.ExemptUserIDs = []string{"@bot:example.org"}
	c.Global.RateLimits.Joins = Rate{PerSecond: 0.05, BurstCount: 2}
	raw := "global:\n" + generateRateLimits(c)
	got, err := Parse([]byte(raw))
	if err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	if !reflect.DeepEqual(got.Global.RateLimits, c.Global.RateLimits) ||
		!reflect.DeepEqual(got.Global.TrustedProxies, c.Global.TrustedProxies) {
		t.Fatalf("round trip: %+v %v\n%s", got.Global.RateLimits, got.Global.TrustedProxies, raw)
	}
}
