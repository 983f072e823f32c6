package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestClientAPIProxyDefaults(t *testing.T) {
	p := Defaults("/d").ClientAPIProxy
	want := ClientAPIProxy{
		Listen:              "127.0.0.1:8008",
		MetricsListen:       "127.0.0.1:9108",
		ClientAPIURLs:       []string{"http://localhost:8071"},
		SyncAPIURLs:         []string{"http://localhost:8072"},
		MediaAPIURLs:        []string{}, // no mediaapi binary yet
		FederationAPIURLs:   []string{}, // no federationapi binary yet
		HealthCheckInterval: 5 * time.Second,
		HealthCheckPath:     "/health",
		HealthCheckTimeout:  2 * time.Second,
		ConnectTimeout:      5 * time.Second,
	}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("defaults\n%+v\nwant\n%+v", p, want)
	}
}

func TestClientAPIProxyParse(t *testing.T) {
	c, err := Parse([]byte(`
client_api:
  registration_mode: token
client_api_proxy:
  listen: "0.0.0.0:443"
  sync_api_urls: ["http://sync1:8072", "http://sync2:8072/"]
  health_check_interval: 250ms
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	p := c.ClientAPIProxy
	if p.Listen != "0.0.0.0:443" || !reflect.DeepEqual(p.SyncAPIURLs, []string{"http://sync1:8072", "http://sync2:8072/"}) ||
		p.HealthCheckInterval != 250*time.Millisecond {
		t.Fatalf("parsed %+v", p)
	}
	// Keys the file leaves out keep their defaults.
	if !reflect.DeepEqual(p.ClientAPIURLs, []string{"http://localhost:8071"}) || p.HealthCheckPath != "/health" {
		t.Fatalf("defaults lost: %+v", p)
	}
	if _, err := Parse([]byte("client_api_proxy: {sync_urls: []}")); err == nil {
		t.Fatal("an unknown key in client_api_proxy was accepted")
	}
}

func TestClientAPIProxyValidate(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // a substring of the error naming the bad key; "" = valid
	}{
		{"defaults", "", ""},
		{"https upstream", `client_api_proxy: {client_api_urls: ["https://c.internal"]}`, ""},
		{"bad listen", `client_api_proxy: {listen: "8008"}`, "client_api_proxy.listen:"},
		{"empty sync list", `client_api_proxy: {sync_api_urls: []}`, "client_api_proxy.sync_api_urls: must list at least one"},
		{"empty client list", `client_api_proxy: {client_api_urls: []}`, "client_api_proxy.client_api_urls: must list"},
		// Media and federation may be left out: not configured is not a failure.
		{"empty media list", `client_api_proxy: {media_api_urls: []}`, ""},
		{"empty federation list", `client_api_proxy: {federation_api_urls: []}`, ""},
		{"media and federation listed", `client_api_proxy: {media_api_urls: ["http://m:8074"], federation_api_urls: ["http://f:8073"]}`, ""},
		{"not http", `client_api_proxy: {sync_api_urls: ["http://a:1", "ftp://x"]}`, "client_api_proxy.sync_api_urls[1]: \"ftp://x\" is not an http"},
		{"no host", `client_api_proxy: {media_api_urls: ["http://"]}`, "client_api_proxy.media_api_urls[0]:"},
		{"path", `client_api_proxy: {federation_api_urls: ["http://f:8073/_matrix"]}`, "client_api_proxy.federation_api_urls[0]: \"http://f:8073/_matrix\": must be scheme://host[:port] only"},
		{"query", `client_api_proxy: {client_api_urls: ["http://c:1?x=1"]}`, "client_api_proxy.client_api_urls[0]:"},
		{"user info", `client_api_proxy: {client_api_urls: ["http://u:p@c:1"]}`, "client_api_proxy.client_api_urls[0]:"},
		{"duplicate", `client_api_proxy: {sync_api_urls: ["http://s:1", "http://s:1/"]}`, "client_api_proxy.sync_api_urls[1]: \"http://s:1/\" is listed twice"},
		{"zero interval", `client_api_proxy: {health_check_interval: 0s}`, "client_api_proxy.health_check_interval: must be positive"},
		{"negative timeout", `client_api_proxy: {health_check_timeout: -1s}`, "client_api_proxy.health_check_timeout: must be positive"},
		{"zero connect timeout", `client_api_proxy: {connect_timeout: 0s}`, "client_api_proxy.connect_timeout: must be positive"},
		{"relative health path", `client_api_proxy: {health_check_path: "health"}`, "client_api_proxy.health_check_path: must be a path"},
		{"absolute URL as health path", `client_api_proxy: {health_check_path: "http://x/health"}`, "client_api_proxy.health_check_path:"},
		{"protocol-relative health path", `client_api_proxy: {health_check_path: "//x/health"}`, "client_api_proxy.health_check_path:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("accepted; want an error containing %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// TestGeneratedProxyListsOnlyBuiltComponents: the generated file names no upstream for a
// component without a binary (media, federation), so a proxy run from it is healthy as
// soon as the client and sync APIs are.
func TestGeneratedProxyListsOnlyBuiltComponents(t *testing.T) {
	raw := string(Generate("example.org", "/d"))
	for _, line := range []string{"media_api_urls: []", "federation_api_urls: []"} {
		if !strings.Contains(raw, "\n  "+line+"\n") {
			t.Errorf("generated config lacks %q", line)
		}
	}
	for _, port := range []string{":8073", ":8074"} {
		if strings.Contains(raw, "http://localhost"+port) {
			t.Errorf("generated config lists an upstream on %s", port)
		}
	}
	c, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.ClientAPIProxy; len(p.MediaAPIURLs) != 0 || len(p.FederationAPIURLs) != 0 || len(p.ClientAPIURLs) != 1 || len(p.SyncAPIURLs) != 1 {
		t.Fatalf("generated proxy section loads as %+v", p)
	}
}
