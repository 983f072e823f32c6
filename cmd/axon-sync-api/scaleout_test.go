package main

import (
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/inthttp/polylith/processtest"
	"github.com/axon-matrix/axon/internal/testenv"
)

// TestTokensMoveBetweenInstances is issue #4 point 5 end to end: the whole polylith as
// processes — axon-user-api, axon-roomserver, axon-client-api and two axon-sync-api
// instances from one config file (instance "a" on sync_api.public_listen, instance "b" on
// -public-bind). A client sends through axon-client-api (arrow 4), syncs on instance A,
// and takes A's next_batch to instance B after more sends: B answers exactly the new
// events, and the same the other way round. Both instances consume topics 1 and 2 under
// their own consumer groups into their own tables (schemas syncapi_a / syncapi_b, or files
// syncapi-a.db / syncapi-b.db), and the tokens carry the roomserver's positions, so any
// instance serves any token. Run on Postgres + the real Kafka broker (the polylith's
// deployment) and on SQLite + the embedded event log.
func TestTokensMoveBetweenInstances(t *testing.T) {
	backends := []struct {
		name   string
		global func(t *testing.T) string
		check  func(t *testing.T, dir, dsn string)
	}{
		{"postgres+kafka", func(t *testing.T) string {
			dsn := testenv.PostgresDSN(t)
			brokers := testenv.KafkaBrokers(t)
			return fmt.Sprintf("  database:\n    connection_string: %q\n  event_log:\n    backend: kafka\n    kafka:\n"+
				"      brokers: [%s]\n      partitions: 2\n      topic_prefix: \"h1scale%d.\"\n",
				dsn, strings.Join(brokers, ", "), time.Now().UnixNano())
		}, checkSchemas},
		{"sqlite+embedded", func(*testing.T) string { return "" }, checkFiles},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			global := be.global(t)
			runScaleOut(t, global, be.check)
		})
	}
}

func runScaleOut(t *testing.T, global string, check func(t *testing.T, dir, dsn string)) {
	bin := processtest.Build(t, ".", "axon-sync-api")
	userBin := processtest.Build(t, "../axon-user-api", "axon-user-api")
	rsBin := processtest.Build(t, "../axon-roomserver", "axon-roomserver")
	clientBin := processtest.Build(t, "../axon-client-api", "axon-client-api")
	dir := t.TempDir()
	pl := processtest.WritePolylith(t, dir, testServer, testSecret, global)
	cfg := []string{"-config", pl.ConfigPath}
	portB := processtest.FreePort(t)

	procs := []*processtest.Proc{
		processtest.Start(t, userBin, pl.UserAPI, cfg...),
		processtest.Start(t, rsBin, pl.RoomServer, cfg...),
		processtest.Start(t, clientBin, pl.ClientAPI, cfg...),
		processtest.Start(t, bin, pl.SyncAPI, append(cfg, "-instance", "a")...),
		processtest.Start(t, bin, portB, append(cfg, "-instance", "b", "-public-bind", fmt.Sprintf("127.0.0.1:%d", portB))...),
	}
	if dsnOf(global) != "" {
		// On Postgres a second process for a running instance refuses to start.
		r := processtest.Run(t, bin, append(cfg, "-instance", "a", "-public-bind", "127.0.0.1:0")...)
		if r.ExitCode != 1 || !strings.Contains(r.Output, "already running") {
			t.Fatalf("a second instance a: exit %d\n%s", r.ExitCode, r.Output)
		}
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", pl.ClientAPI)
	syncA := fmt.Sprintf("http://127.0.0.1:%d", pl.SyncAPI)
	syncB := fmt.Sprintf("http://127.0.0.1:%d", portB)

	_, tok := processtest.Register(t, client, "alice")
	room := processtest.Do(t, http.MethodPost, client+"/_matrix/client/v3/createRoom", tok,
		map[string]any{"preset": "private_chat"}).Must(t, http.StatusOK).Str("room_id")
	txn := 0
	send := func() string {
		txn++
		return processtest.Do(t, http.MethodPut, fmt.Sprintf("%s/_matrix/client/v3/rooms/%s/send/m.room.message/t%d", client, url.PathEscape(room), txn),
			tok, map[string]any{"msgtype": "m.text", "body": fmt.Sprint("message ", txn)}).Must(t, http.StatusOK).Str("event_id")
	}
	m1, m2 := send(), send()

	// Instance A: from an initial sync until it has shown m2.
	seen, tokenA := collect(t, syncA, tok, "", room, m2)
	if !slices.Contains(seen, m1) {
		t.Fatalf("instance A's timeline %v lacks %s", seen, m1)
	}

	// Instance B, given A's token after two more sends: exactly those two.
	m3, m4 := send(), send()
	seen, tokenB := collect(t, syncB, tok, tokenA, room, m4)
	if want := []string{m3, m4}; !slices.Equal(seen, want) {
		t.Fatalf("instance B from A's token %s: %v, want exactly %v", tokenA, seen, want)
	}

	// And back: A serves B's token.
	m5 := send()
	if seen, _ = collect(t, syncA, tok, tokenB, room, m5); !slices.Equal(seen, []string{m5}) {
		t.Fatalf("instance A from B's token %s: %v, want exactly [%s]", tokenB, seen, m5)
	}

	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop(t)
	}
	check(t, dir, dsnOf(global))
}

// collect syncs on the instance at base from since (long-polling) and gathers room's
// timeline event IDs until last is among them; it returns them and the next_batch of the
// sync that delivered last. A timeline marked limited is a failure: nothing may be skipped.
func collect(t *testing.T, base, token, since, room, last string) ([]string, string) {
	t.Helper()
	var ids []string
	deadline := time.Now().Add(60 * time.Second)
	for !slices.Contains(ids, last) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never delivered %s; got %v", base, last, ids)
		}
		q := url.Values{"timeout": {"5000"}}
		if since != "" {
			q.Set("since", since)
		}
		r := processtest.Do(t, http.MethodGet, base+"/_matrix/client/v3/sync?"+q.Encode(), token, nil).Must(t, http.StatusOK)
		since = r.Str("next_batch")
		if since == "" {
			t.Fatalf("no next_batch: %s", r.Raw)
		}
		rooms, _ := r.Body["rooms"].(map[string]any)
		join, _ := rooms["join"].(map[string]any)
		jr, ok := join[room].(map[string]any)
		if !ok {
			continue
		}
		tl, _ := jr["timeline"].(map[string]any)
		if lim, _ := tl["limited"].(bool); lim && len(ids) > 0 {
			t.Fatalf("limited timeline in an incremental sync: %s", r.Raw)
		}
		evs, _ := tl["events"].([]any)
		for _, e := range evs {
			if id, _ := e.(map[string]any)["event_id"].(string); id != "" {
				ids = append(ids, id)
			}
		}
	}
	return ids, since
}

// dsnOf is the global database connection string in the YAML fragment, or "".
func dsnOf(global string) string {
	const key = "connection_string: "
	i := strings.Index(global, key)
	if i < 0 {
		return ""
	}
	line := global[i+len(key):]
	line = line[:strings.IndexByte(line, '\n')]
	return strings.Trim(line, `"`)
}

// checkSchemas: on Postgres each instance's tables are in its own schema, none in public.
func checkSchemas(t *testing.T, _, dsn string) {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for schema, want := range map[string]bool{"syncapi_a": true, "syncapi_b": true, "public": false} {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema=$1 AND table_name='syncapi_events'`,
			schema).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if (n == 1) != want {
			t.Errorf("schema %s has syncapi_events: %v, want %v", schema, n == 1, want)
		}
	}
}

// checkFiles: on SQLite each instance has its own file, and the shared name is unused.
func checkFiles(t *testing.T, dir, _ string) {
	checkFilesFor(t, dir, map[string]bool{"syncapi-a.db": true, "syncapi-b.db": true, "syncapi.db": false})
}
