package polylith

import (
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/config"
)

func TestStartupLines(t *testing.T) {
	cfg := config.Defaults(t.TempDir())
	cfg.Global.ServerName = "poly.example"
	cfg.ClientAPI.RegistrationMode = config.RegistrationToken
	for _, tc := range []struct {
		component string
		want      []string
		not       string
	}{
		{config.ComponentClientAPI, []string{"server name poly.example", "database: SQLite file", "clientapi.db", "event log: embedded", "registration: with a registration token only", "read next: docs/"}, ""},
		{config.ComponentRoomServer, []string{"server name poly.example", "roomserver.db", "read next"}, "registration"},
	} {
		var all []string
		for _, l := range StartupLines(cfg, tc.component) {
			all = append(all, l.Msg)
		}
		joined := strings.Join(all, "\n")
		for _, w := range tc.want {
			if !strings.Contains(joined, w) {
				t.Errorf("%s: lacks %q in\n%s", tc.component, w, joined)
			}
		}
		if tc.not != "" && strings.Contains(joined, tc.not) {
			t.Errorf("%s: has %q in\n%s", tc.component, tc.not, joined)
		}
	}
}
