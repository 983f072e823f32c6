package clientapi

import (
	"testing"

	"github.com/axon-matrix/axon/internal/config"
)

func TestConfigFromFile(t *testing.T) {
	cases := []struct {
		name    string
		baseURL string
		listen  string
		want    string
	}{
		{"default port", "", ":8008", "http://localhost:8008"},
		{"other port", "", "127.0.0.1:9000", "http://localhost:9000"},
		{"ephemeral port", "", "127.0.0.1:0", "http://localhost:8008"},
		{"configured", "https://matrix.example.org", ":8008", "https://matrix.example.org"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := config.Defaults(t.TempDir())
			cfg.Global.ServerName = "example.org"
			cfg.ClientAPI.PublicBaseURL = c.baseURL
			cfg.ClientAPI.GuestAccess = true
			cfg.ClientAPI.RegistrationSharedSecret = "s"
			cfg.Global.DefaultRoomVersion = "11"
			got := ConfigFromFile(cfg, c.listen)
			if got.DefaultRoomVersion != "11" {
				t.Fatalf("default room version %q", got.DefaultRoomVersion)
			}
			if got.PublicBaseURL != c.want || got.ServerName != "example.org" || !got.GuestsEnabled ||
				got.RegistrationSharedSecret != "s" || got.RegistrationMode != config.RegistrationOpen {
				t.Fatalf("got %+v", got)
			}
		})
	}
}
