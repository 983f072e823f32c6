package auth

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/axon-matrix/axon/clientapi/storage"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/userapi"
	uapi "github.com/axon-matrix/axon/userapi/api"
)

type nopOutbox struct{}

func (nopOutbox) Stage(context.Context, *sql.Tx, ...eventlog.Message) error { return nil }
func (nopOutbox) Kick()                                                     {}
func (nopOutbox) Run(ctx context.Context) error                             { <-ctx.Done(); return nil }

func newUIA(t *testing.T, now *time.Time) *UIA {
	t.Helper()
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(t, "uia")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	st, err := storage.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	u, err := userapi.NewInternalAPI(db, "ex.org", nopOutbox{}, "axon.account_data", userapi.WithBcryptCost(4))
	if err != nil {
		t.Fatal(err)
	}
	for local, pw := range map[string]string{"alice": "pw", "bob": "bobpw"} {
		if _, err := u.CreateAccount(ctx, &uapi.CreateAccountRequest{Localpart: local, Password: pw}); err != nil {
			t.Fatal(err)
		}
	}
	return &UIA{DB: st, UserAPI: u, ServerName: "ex.org", SessionLifetime: time.Minute, Now: func() time.Time { return *now }}
}

func TestUIA(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	u := newUIA(t, &now)
	ctx := context.Background()
	pw := []Flow{{Stages: []string{StagePassword}}}
	two := []Flow{{Stages: []string{StageDummy, StagePassword}}}

	start := func(op string, flows []Flow) string {
		done, ch, err := u.Check(ctx, &Request{Operation: op, UserID: "@alice:ex.org", Flows: flows})
		if done || err != nil || ch == nil || ch.Session == "" || len(ch.Completed) != 0 {
			t.Fatalf("start: done=%v ch=%+v err=%v", done, ch, err)
		}
		return ch.Session
	}
	pwAuth := func(session, user, password string) *Dict {
		return &Dict{Type: StagePassword, Session: session, Password: password, Identifier: &Identifier{Type: "m.id.user", User: user}}
	}

	cases := []struct {
		name    string
		op      string
		flows   []Flow
		auth    func(session string) *Dict
		done    bool
		errcode string // of the error, or of the challenge when not done
	}{
		{"right password", "op", pw, func(s string) *Dict { return pwAuth(s, "alice", "pw") }, true, ""},
		{"full user id", "op", pw, func(s string) *Dict { return pwAuth(s, "@alice:ex.org", "pw") }, true, ""},
		{"legacy user field", "op", pw, func(s string) *Dict {
			return &Dict{Type: StagePassword, Session: s, User: "alice", Password: "pw"}
		}, true, ""},
		{"wrong password", "op", pw, func(s string) *Dict { return pwAuth(s, "alice", "nope") }, false, "M_FORBIDDEN"},
		// Another user's identifier (and their right password) is a 403, not a retry.
		{"other user", "op", pw, func(s string) *Dict { return pwAuth(s, "bob", "bobpw") }, false, "M_FORBIDDEN"},
		{"other user, full ID", "op", pw, func(s string) *Dict { return pwAuth(s, "@bob:ex.org", "bobpw") }, false, "M_FORBIDDEN"},
		{"missing password", "op", pw, func(s string) *Dict { return pwAuth(s, "alice", "") }, false, "M_MISSING_PARAM"},
		{"stage not offered", "op", pw, func(s string) *Dict { return &Dict{Type: StageDummy, Session: s} }, false, "M_UNRECOGNIZED"},
		{"unknown session", "op", pw, func(string) *Dict { return pwAuth("nope", "alice", "pw") }, false, "M_UNKNOWN"},
		{"first of two stages", "op", two, func(s string) *Dict { return &Dict{Type: StageDummy, Session: s} }, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := start(c.op, c.flows)
			done, ch, err := u.Check(ctx, &Request{Operation: c.op, UserID: "@alice:ex.org", Flows: c.flows, Auth: c.auth(s)})
			code := ""
			if err != nil {
				code = httputil.AsMatrixError(err).ErrCode
			} else if ch != nil {
				code = ch.ErrCode
			}
			if done != c.done || code != c.errcode {
				t.Fatalf("done=%v code=%q (ch=%+v err=%v), want done=%v code=%q", done, code, ch, err, c.done, c.errcode)
			}
		})
	}

	// Two stages: completed stages are remembered across rounds.
	s := start("op", two)
	if _, ch, _ := u.Check(ctx, &Request{Operation: "op", UserID: "@alice:ex.org", Flows: two, Auth: &Dict{Type: StageDummy, Session: s}}); len(ch.Completed) != 1 {
		t.Fatalf("completed = %v", ch.Completed)
	}
	if done, _, err := u.Check(ctx, &Request{Operation: "op", UserID: "@alice:ex.org", Flows: two, Auth: pwAuth(s, "alice", "pw")}); !done || err != nil {
		t.Fatalf("second stage: done=%v err=%v", done, err)
	}

	// A session authorises only its own operation and user.
	s = start("delete_device:A", pw)
	if _, _, err := u.Check(ctx, &Request{Operation: "deactivate", UserID: "@alice:ex.org", Flows: pw, Auth: pwAuth(s, "alice", "pw")}); httputil.AsMatrixError(err).ErrCode != "M_FORBIDDEN" {
		t.Fatalf("session reused for another operation: %v", err)
	}

	// Completing the stage as another user is a 403 (not a 401 challenge to retry), and
	// the session stays unfinished.
	s = start("delete_device:A", pw)
	done, ch, err := u.Check(ctx, &Request{Operation: "delete_device:A", UserID: "@alice:ex.org", Flows: pw, Auth: pwAuth(s, "bob", "bobpw")})
	if me := httputil.AsMatrixError(err); done || ch != nil || me == nil || me.Status != 403 || me.ErrCode != "M_FORBIDDEN" {
		t.Fatalf("other user's password: done=%v ch=%+v err=%v", done, ch, err)
	}
	if done, _, err := u.Check(ctx, &Request{Operation: "delete_device:A", UserID: "@alice:ex.org", Flows: pw, Auth: pwAuth(s, "alice", "pw")}); !done || err != nil {
		t.Fatalf("owner after a refused attempt: done=%v err=%v", done, err)
	}

	// Sessions expire.
	s = start("op", pw)
	now = now.Add(2 * time.Minute)
	if _, _, err := u.Check(ctx, &Request{Operation: "op", UserID: "@alice:ex.org", Flows: pw, Auth: pwAuth(s, "alice", "pw")}); httputil.AsMatrixError(err).ErrCode != "M_UNKNOWN" {
		t.Fatalf("expired session accepted: %v", err)
	}
}
