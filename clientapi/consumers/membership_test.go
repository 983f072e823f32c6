package consumers

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/axon-matrix/axon/clientapi/storage"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

func msg(t *testing.T, roomID, userID, membership string) eventlog.Message {
	b, err := json.Marshal(rsapi.OutputMembership{RoomID: roomID, UserID: userID, Membership: membership, EventID: "$e"})
	if err != nil {
		t.Fatal(err)
	}
	return eventlog.Message{Topic: "axon.membership", Key: userID, Value: b}
}

func TestMembershipConsumer(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			sdb, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer sdb.Close()
			ctx := context.Background()
			db, err := storage.Open(ctx, sdb)
			if err != nil {
				t.Fatal(err)
			}
			c := NewMembershipConsumer(db, "example.org")
			steps := []struct {
				name string
				msg  eventlog.Message
				want []string
			}{
				{"join", msg(t, "!a:example.org", "@u:example.org", "join"), []string{"!a:example.org"}},
				{"replayed join", msg(t, "!a:example.org", "@u:example.org", "join"), []string{"!a:example.org"}},
				{"join v12 room", msg(t, "!hash", "@u:example.org", "join"), []string{"!a:example.org", "!hash"}},
				{"remote user ignored", msg(t, "!b:example.org", "@u:remote.org", "join"), []string{"!a:example.org", "!hash"}},
				{"malformed skipped", eventlog.Message{Value: []byte("{nope")}, []string{"!a:example.org", "!hash"}},
				{"empty skipped", eventlog.Message{Value: []byte("{}")}, []string{"!a:example.org", "!hash"}},
				{"leave", msg(t, "!a:example.org", "@u:example.org", "leave"), []string{"!hash"}},
				{"ban", msg(t, "!hash", "@u:example.org", "ban"), nil},
			}
			for _, s := range steps {
				if err := c.Handle(ctx, s.msg); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				got, err := db.JoinedRooms(ctx, "@u:example.org")
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, s.want) {
					t.Fatalf("%s: joined rooms = %v, want %v", s.name, got, s.want)
				}
			}
			if got, _ := db.JoinedRooms(ctx, "@u:remote.org"); len(got) != 0 {
				t.Fatalf("remote user recorded: %v", got)
			}
		})
	}
}
