package auth

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth/authtest"
)

const (
	alice = "@alice:a.org"
	bob   = "@bob:b.org"
	carol = "@carol:c.org"
	dave  = "@dave:d.org"
)

var sk = authtest.SK

// versions returns the room versions from..to inclusive.
func versions(from, to int) []*matrix.RoomVersion {
	var out []*matrix.RoomVersion
	for i := from; i <= to; i++ {
		out = append(out, matrix.MustRoomVersion(matrix.RoomVersionID(fmt.Sprint(i))))
	}
	return out
}

// plContent builds power_levels content; in v12 the creator alice is left out of users.
func plContent(v *matrix.RoomVersion, users map[string]int, extra string) string {
	var parts []string
	for u, l := range users {
		if v.PrivilegedCreators && u == alice {
			continue
		}
		parts = append(parts, fmt.Sprintf("%q:%d", u, l))
	}
	s := `{"users":{` + strings.Join(parts, ",") + `}`
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

// newRoom is alice's room: create, alice joins, power levels (alice 100 plus users),
// join rules.
func newRoom(v *matrix.RoomVersion, joinRule string, users map[string]int, plExtra string) *authtest.Room {
	r := authtest.NewRoom(v, alice, "")
	r.Join(alice)
	u := map[string]int{alice: 100}
	for k, l := range users {
		u[k] = l
	}
	r.Add(TypePowerLevels, sk(""), alice, plContent(v, u, plExtra))
	r.Add(TypeJoinRules, sk(""), alice, fmt.Sprintf(`{"join_rule":%q}`, joinRule))
	return r
}

// check runs Allowed for e against the room's current state.
func check(t *testing.T, r *authtest.Room, e matrix.PDU) error {
	t.Helper()
	p, err := NewAuthEvents(r.AuthStateEvents())
	if err != nil {
		t.Fatalf("NewAuthEvents: %v", err)
	}
	return Allowed(e, p)
}

// expect fails the test unless err matches want: "" means allowed, otherwise the
// NotAllowed rule must start with want.
func expect(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("want allowed, got %v", err)
		}
		return
	}
	var na *NotAllowed
	if !errors.As(err, &na) {
		t.Fatalf("want rejection by rule %q, got %v", want, err)
	}
	if !strings.HasPrefix(na.Rule, want) {
		t.Fatalf("want rejection by rule %q, got %v", want, err)
	}
}
