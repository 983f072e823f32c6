package inthttp

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/roomserver"
	"github.com/axon-matrix/axon/roomserver/api"
)

// discardOutbox accepts staged messages and drops them: these tests are about the transport.
type discardOutbox struct{}

func (discardOutbox) Stage(context.Context, *sql.Tx, ...eventlog.Message) error { return nil }
func (discardOutbox) Kick()                                                     {}
func (discardOutbox) Run(ctx context.Context) error                             { <-ctx.Done(); return nil }

const server = "test.local"

func direct(t *testing.T, dsn string) api.RoomserverAPI {
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	_, key, _ := ed25519.GenerateKey(nil)
	a, err := roomserver.NewInternalAPI(context.Background(), db, server, "ed25519:t", key, discardOutbox{},
		roomserver.Topics{RoomEvent: "room_event", Membership: "membership"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

const secret = "s3cret"

// overHTTP puts the direct implementation behind AddRoutes on an httptest server, guarded
// by the internal API secret as the polylith guards it, and returns a Client of it.
func overHTTP(t *testing.T, dsn string) api.RoomserverAPI {
	root := mux.NewRouter()
	AddRoutes(root.PathPrefix(inthttp.PathPrefix).Subrouter(), direct(t, dsn))
	srv := httptest.NewServer(inthttp.RequireSecret(secret, root))
	t.Cleanup(srv.Close)
	return NewClient(srv.URL, secret, inthttp.WithHTTPClient(srv.Client()))
}

func status(err error) (int, string) {
	var me *httputil.MatrixError
	if errors.As(err, &me) {
		return me.Status, me.ErrCode
	}
	if err != nil {
		return -1, err.Error()
	}
	return 0, ""
}

// impls are the two implementations every test runs against, in this order.
var impls = []struct {
	name string
	mk   func(*testing.T, string) api.RoomserverAPI
}{{"direct", direct}, {"inthttp", overHTTP}}

// TestSameBehaviourDirectAndOverHTTP runs the scenario (scenario_test.go), which calls every
// method of api.RoomserverAPI with successes and errors, against the direct implementation
// and against the inthttp client, on SQLite and Postgres. Each run checks its own
// expectations, and the two runs' transcripts must be the same line for line: a lost
// errcode, message or extra field, a field not serialised, or a nil that became an empty
// list (or the reverse) on the way through HTTP shows up as a difference.
func TestSameBehaviourDirectAndOverHTTP(t *testing.T) {
	for dbName, dsn := range testenv.Databases(t) {
		t.Run(dbName, func(t *testing.T) {
			transcripts := make([][]string, len(impls))
			for i, impl := range impls {
				t.Run(impl.name, func(t *testing.T) { transcripts[i] = scenario(t, impl.mk(t, dsn(t))) })
			}
			d, h := transcripts[0], transcripts[1]
			if len(d) != len(h) {
				t.Fatalf("direct recorded %d results, inthttp %d", len(d), len(h))
			}
			for i := range d {
				if d[i] != h[i] {
					t.Errorf("direct and inthttp differ:\n  direct:  %s\n  inthttp: %s", d[i], h[i])
				}
			}
		})
	}
}
