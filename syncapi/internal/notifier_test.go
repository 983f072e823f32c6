package internal

import (
	"testing"

	"github.com/axon-matrix/axon/syncapi/storage"
	"github.com/axon-matrix/axon/syncapi/types"
)

func woken(l *Listener) bool {
	select {
	case <-l.C:
		return true
	default:
		return false
	}
}

func TestNotifierWakesOnlyConcernedListeners(t *testing.T) {
	n := NewNotifier(types.StreamToken{Room: 5, AccountData: 2})
	alice := n.Listen("@alice:t")
	alice.SetRooms([]string{"!a"})
	bob := n.Listen("@bob:t")
	bob.SetRooms([]string{"!b"})
	carol := n.Listen("@carol:t")
	defer alice.Close()
	defer bob.Close()
	defer carol.Close()

	moved := n.WaitFor()
	tests := []struct {
		name                      string
		fire                      func()
		wantAlice, wantBob, wantC bool
	}{
		{"message in !a", func() { n.OnRoomEvents(6, []storage.Event{{RoomID: "!a", Type: "m.room.message"}}) }, true, false, false},
		{"invite of carol into !b", func() {
			n.OnRoomEvents(7, []storage.Event{{RoomID: "!b", Type: "m.room.member", StateKey: strp("@carol:t")}})
		}, false, true, true},
		{"event in an unknown room", func() { n.OnRoomEvents(8, []storage.Event{{RoomID: "!z"}}) }, false, false, false},
		{"bob's account data", func() { n.OnAccountData(3, []string{"@bob:t"}) }, false, true, false},
	}
	for _, tc := range tests {
		tc.fire()
		if woken(alice) != tc.wantAlice || woken(bob) != tc.wantBob || woken(carol) != tc.wantC {
			t.Fatalf("%s: wrong listeners woken", tc.name)
		}
	}
	select {
	case <-moved:
	default:
		t.Fatal("position watchers not told")
	}
	if p := n.Position(); p.Room != 8 || p.AccountData != 3 {
		t.Fatalf("position %+v", p)
	}
	// Positions never go back (notifications of two consumers may arrive out of order).
	n.OnRoomEvents(4, nil)
	if n.Position().Room != 8 {
		t.Fatal("position moved back")
	}
	// A closed listener is not woken and is forgotten.
	alice.Close()
	n.OnRoomEvents(9, []storage.Event{{RoomID: "!a"}})
	if woken(alice) || len(n.byRoom["!a"]) != 0 || len(n.byUser["@alice:t"]) != 0 {
		t.Fatal("closed listener still registered")
	}
}
