package setup

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/config"
)

// FullPathRouter: routes registered with full paths are served below the client router
// with the variables unescaped (a %2F stays inside its variable), and everything else keeps
// the base's M_UNRECOGNIZED answers.
func TestFullPathRouter(t *testing.T) {
	cfg := config.Defaults(t.TempDir())
	base, err := NewBase(cfg, config.ComponentSyncAPI)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Shutdown(context.Background())
	r := FullPathRouter(base.PublicClientAPIMux)
	// Registered like the syncapi's: a subrouter per prefix, several routes each.
	for _, prefix := range []string{"/_matrix/client/v3", "/_matrix/client/r0"} {
		s := r.PathPrefix(prefix).Subrouter()
		s.HandleFunc("/sync", func(http.ResponseWriter, *http.Request) {}).Methods(http.MethodGet)
		s.HandleFunc("/rooms/{roomId}/event/{eventId}", func(w http.ResponseWriter, req *http.Request) {
			_ = json.NewEncoder(w).Encode(mux.Vars(req))
		}).Methods(http.MethodGet)
	}
	h := base.PublicHandler()
	tests := []struct {
		method, path string
		status       int
		want         string
	}{
		{"GET", "/_matrix/client/v3/rooms/!r:x/event/$e", 200, `{"eventId":"$e","roomId":"!r:x"}`},
		{"GET", "/_matrix/client/v3/rooms/!r:x/event/$a%2Fb", 200, `{"eventId":"$a/b","roomId":"!r:x"}`},
		{"GET", "/_matrix/client/v3/rooms/!r%3Ax/event/$a%25b", 200, `{"eventId":"$a%b","roomId":"!r:x"}`},
		{"GET", "/_matrix/client/v3/rooms/!r:x/nope", 404, `M_UNRECOGNIZED`},
		{"POST", "/_matrix/client/v3/rooms/!r:x/event/$e", 405, `M_UNRECOGNIZED`},
		{"POST", "/_matrix/client/r0/sync", 405, `M_UNRECOGNIZED`},
		{"GET", "/_matrix/client/r0/sync", 200, ``},
		{"GET", "/_matrix/client/v4/sync", 404, `M_UNRECOGNIZED`},
		{"GET", "/_matrix/client/v3/rooms/!r:x/event/$e/extra", 404, `M_UNRECOGNIZED`},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, rec.Code, rec.Body, tc.status, tc.want)
		}
	}
}
