package inthttp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/roomserver/api"
)

// TestCallsWithoutTheSecretChangeNothing: the roomserver's internal API is not open to
// whoever can reach its port. Calls without the internal API secret, or with a wrong one,
// are refused with 401 M_UNAUTHORIZED before they reach the roomserver: writes change
// nothing and queries reveal nothing, as the client with the right secret then sees.
func TestCallsWithoutTheSecretChangeNothing(t *testing.T) {
	for dbName, dsn := range testenv.Databases(t) {
		t.Run(dbName, func(t *testing.T) { callsWithoutTheSecretChangeNothing(t, dsn(t)) })
	}
}

func callsWithoutTheSecretChangeNothing(t *testing.T, dsn string) {
	ctx := context.Background()
	root := mux.NewRouter()
	AddRoutes(root.PathPrefix(inthttp.PathPrefix).Subrouter(), direct(t, dsn))
	srv := httptest.NewServer(inthttp.RequireSecret(secret, root))
	t.Cleanup(srv.Close)
	good := NewClient(srv.URL, secret, inthttp.WithHTTPClient(srv.Client()))

	alice, mallory := "@alice:"+server, "@mallory:"+server
	room, err := good.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, Preset: "public_chat", Name: "Guarded"})
	if err != nil {
		t.Fatal(err)
	}
	before, err := good.QueryCurrentState(ctx, room.RoomID, nil)
	if err != nil {
		t.Fatal(err)
	}

	for _, bad := range []struct{ name, secret string }{{"no secret", ""}, {"wrong secret", "not-" + secret}} {
		c := NewClient(srv.URL, bad.secret, inthttp.WithHTTPClient(srv.Client()))
		calls := []struct {
			name string
			call func() error
		}{
			{"CreateRoom", func() error {
				_, err := c.CreateRoom(ctx, &api.CreateRoomRequest{UserID: mallory, RoomAliasName: "sneaky"})
				return err
			}},
			{"SendEvent", func() error {
				_, err := c.SendEvent(ctx, &api.SendEventRequest{RoomID: room.RoomID, Sender: alice, Type: "m.room.name",
					StateKey: new(string), Content: json.RawMessage(`{"name":"Owned"}`)})
				return err
			}},
			{"PerformMembership", func() error {
				_, err := c.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room.RoomID, Sender: mallory})
				return err
			}},
			{"SetRoomAlias", func() error { return c.SetRoomAlias(ctx, "#sneaky:"+server, room.RoomID, alice) }},
			{"SetRoomVisibility", func() error { return c.SetRoomVisibility(ctx, room.RoomID, alice, "public") }},
			{"Forget", func() error { return c.Forget(ctx, room.RoomID, alice) }},
			{"QueryCurrentState", func() error { _, err := c.QueryCurrentState(ctx, room.RoomID, nil); return err }},
			{"QueryRoomsForUser", func() error { _, err := c.QueryRoomsForUser(ctx, alice, []string{"join"}); return err }},
		}
		for _, tc := range calls {
			if s, code := status(tc.call()); s != http.StatusUnauthorized || code != "M_UNAUTHORIZED" {
				t.Errorf("%s, %s: %d %s, want 401 M_UNAUTHORIZED", bad.name, tc.name, s, code)
			}
		}
	}

	// The same refusal on the wire, for a caller that is not an Axon client at all.
	res, err := srv.Client().Post(srv.URL+inthttp.PathPrefix+pathSetAlias, "application/json",
		strings.NewReader(`{"alias":"#wire:`+server+`","room_id":"`+room.RoomID+`","user_id":"`+alice+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("raw POST without secret: %d, want 401", res.StatusCode)
	}

	// Nothing changed.
	after, err := good.QueryCurrentState(ctx, room.RoomID, nil)
	if err != nil || len(after) != len(before) {
		t.Errorf("state changed: %d events before, %d after (%v)", len(before), len(after), err)
	}
	if m, _, err := good.QueryMembership(ctx, room.RoomID, mallory); err != nil || m != "" {
		t.Errorf("mallory's membership %q %v", m, err)
	}
	if rooms, err := good.QueryRoomsForUser(ctx, mallory, []string{"join", "invite", "leave"}); err != nil || len(rooms) != 0 {
		t.Errorf("mallory's rooms %v %v", rooms, err)
	}
	for _, alias := range []string{"#sneaky:" + server, "#wire:" + server} {
		if s, code := status(func() error { _, _, err := good.ResolveRoomAlias(ctx, alias); return err }()); s != 404 || code != "M_NOT_FOUND" {
			t.Errorf("alias %s: %d %s, want 404 M_NOT_FOUND", alias, s, code)
		}
	}
	if v, err := good.GetRoomVisibility(ctx, room.RoomID); err != nil || v != "private" {
		t.Errorf("visibility %q %v", v, err)
	}
	if rooms, err := good.QueryRoomsForUser(ctx, alice, []string{"join"}); err != nil || len(rooms) != 1 {
		t.Errorf("alice's rooms %v %v (Forget must not have run)", rooms, err)
	}
}
