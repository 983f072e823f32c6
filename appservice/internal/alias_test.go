package internal

import (
	"context"
	"testing"

	"github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/appservice/storage"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
)

// TestAliasNamespaceSelectsEvents: once a room's m.room.canonical_alias names an alias
// (alias or alt_aliases) in a service's alias namespace, the room's events are queued for
// it, from that event on, also after a restart (the aliases are stored); when the alias
// goes, so does the interest.
func TestAliasNamespaceSelectsEvents(t *testing.T) {
	ctx := context.Background()
	reg, err := api.ParseRegistration("irc.yaml", []byte(`id: irc
url: "http://127.0.0.1:1"
as_token: a
hs_token: h
sender_localpart: ircbot
namespaces: {aliases: [{exclusive: true, regex: "#irc_.*"}]}
`), testServer)
	if err != nil {
		t.Fatal(err)
	}
	regs, err := api.NewRegistrations([]*api.Registration{reg})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(t, "appservice")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sdb, err := storage.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	newConsumer := func() *Consumer {
		c := NewConsumer(sdb, NewQueues(sdb, NewBridge(), regs, DefaultBackoff), regs)
		if err := c.Load(ctx); err != nil {
			t.Fatal(err)
		}
		return c
	}
	empty := ""
	const room = "!r:hs.test"
	c := newConsumer()
	for _, run := range [][]eventlog.Message{
		{message(t, "$before", room, "@alice:hs.test"),
			record(t, "$canon", room, "@alice:hs.test", "m.room.canonical_alias", &empty, `{"alias":"#lobby:hs.test","alt_aliases":["#irc_go:hs.test"]}`),
			message(t, "$after", room, "@alice:hs.test")},
		{message(t, "$other-room", "!o:hs.test", "@alice:hs.test")},
	} {
		if err := c.Handle(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	c = newConsumer() // a restart: the aliases come from the table
	for _, run := range [][]eventlog.Message{
		{message(t, "$restarted", room, "@alice:hs.test")},
		{record(t, "$uncanon", room, "@alice:hs.test", "m.room.canonical_alias", &empty, `{"alias":"#lobby:hs.test"}`),
			message(t, "$gone", room, "@alice:hs.test")},
	} {
		if err := c.Handle(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := sdb.Peek(ctx, "irc", 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.EventID)
	}
	want := []string{"$canon", "$after", "$restarted"}
	if len(got) != len(want) {
		t.Fatalf("queued %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("queued %v, want %v", got, want)
		}
	}
}
