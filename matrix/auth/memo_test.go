package auth

import (
	"fmt"
	"sync"
	"testing"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth/authtest"
)

// memoPDU is an authtest event that keeps values like matrix/event's Event does, and
// counts how often a value had to be computed.
type memoPDU struct {
	*authtest.Event
	mu       sync.Mutex
	key, val any
	computes int
}

func (m *memoPDU) Memo(key any, compute func() any) any {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.key == key && m.key != nil {
		return m.val
	}
	m.computes++
	m.key, m.val = key, compute()
	return m.val
}

var _ matrix.Memoizer = (*memoPDU)(nil)

// TestMemoizedAuthMatchesPlain: the auth rules decide the same with and without the
// values kept on the auth events, parse each auth event's content once however many
// events they authorise, and never leak one check's creators into another.
func TestMemoizedAuthMatchesPlain(t *testing.T) {
	for _, v := range versions(1, 12) {
		t.Run("v"+string(v.ID), func(t *testing.T) {
			r := newRoom(v, JoinRulePublic, map[string]int{bob: 50}, `"ban":60`)
			r.Join(bob)
			events := []*authtest.Event{
				r.Build(TypeMember, sk(carol), carol, `{"membership":"join"}`),
				r.Build(TypeMember, sk(carol), bob, `{"membership":"ban"}`),
				r.Build(TypeMember, sk(carol), alice, `{"membership":"ban"}`),
				r.Build("m.room.message", nil, bob, `{"body":"hi"}`),
				r.Build("m.room.message", nil, dave, `{"body":"hi"}`),
				r.Build(TypePowerLevels, sk(""), bob, plContent(v, map[string]int{alice: 100, bob: 100}, "")),
				r.Build(TypePowerLevels, sk(""), alice, plContent(v, map[string]int{alice: 100, bob: 60}, "")),
				r.Build(TypeJoinRules, sk(""), bob, `{"join_rule":"invite"}`),
			}
			plain, err := NewAuthEvents(r.AuthStateEvents())
			if err != nil {
				t.Fatal(err)
			}
			var wrapped []*memoPDU
			var state []matrix.PDU
			for _, e := range r.AuthStateEvents() {
				ae := e.(*authtest.Event)
				if ae.EventType == TypeMember {
					state = append(state, ae)
					continue
				}
				w := &memoPDU{Event: ae}
				wrapped = append(wrapped, w)
				state = append(state, w)
			}
			memoized, err := NewAuthEvents(state)
			if err != nil {
				t.Fatal(err)
			}
			allowed := 0
			for round := 0; round < 3; round++ {
				for i, e := range events {
					want, got := fmt.Sprint(Allowed(e, plain)), fmt.Sprint(Allowed(e, memoized))
					if got != want {
						t.Fatalf("event %d round %d: memoized %s, plain %s", i, round, got, want)
					}
					if round == 0 && want == "<nil>" {
						allowed++
					}
				}
			}
			if allowed == 0 || allowed == len(events) {
				t.Fatalf("%d of %d events allowed: the cases do not exercise both outcomes", allowed, len(events))
			}
			for _, w := range wrapped {
				if w.computes != 1 {
					t.Errorf("%s content parsed %d times, want once", w.EventType, w.computes)
				}
			}
		})
	}
}

// TestNewPowerLevelsMemoized: the kept parse is the content's only; the creators come
// from the create event given each time, and a bad content's error is kept too.
func TestNewPowerLevelsMemoized(t *testing.T) {
	v := matrix.MustRoomVersion("12")
	r := authtest.NewRoom(v, alice, "")
	pl := &memoPDU{Event: r.Build(TypePowerLevels, sk(""), alice, `{"users":{"@bob:b.org":50}}`)}
	other := authtest.NewRoom(v, bob, `"additional_creators":["@carol:c.org"]`).Create
	for round := 0; round < 2; round++ {
		a, err := NewPowerLevels(r.Create, pl)
		if err != nil {
			t.Fatal(err)
		}
		b, err := NewPowerLevels(other, pl)
		if err != nil {
			t.Fatal(err)
		}
		if a.UserPowerLevel(alice) != CreatorPowerLevel || a.UserPowerLevel(bob) != 50 || a.UserPowerLevel(carol) != 0 {
			t.Fatalf("with alice's create: alice %d bob %d carol %d", a.UserPowerLevel(alice), a.UserPowerLevel(bob), a.UserPowerLevel(carol))
		}
		if b.UserPowerLevel(alice) != 0 || b.UserPowerLevel(bob) != CreatorPowerLevel || b.UserPowerLevel(carol) != CreatorPowerLevel {
			t.Fatalf("with bob's create: alice %d bob %d carol %d", b.UserPowerLevel(alice), b.UserPowerLevel(bob), b.UserPowerLevel(carol))
		}
	}
	if pl.computes != 1 {
		t.Fatalf("content parsed %d times", pl.computes)
	}

	bad := &memoPDU{Event: r.Build(TypePowerLevels, sk(""), alice, `{"users":{"not a user":50}}`)}
	for round := 0; round < 2; round++ {
		if _, err := NewPowerLevels(r.Create, bad); err == nil {
			t.Fatalf("round %d: invalid users key accepted", round)
		}
	}
	if bad.computes != 1 {
		t.Fatalf("bad content parsed %d times", bad.computes)
	}
	if got := Creators(other); len(got) != 2 || got[0] != bob || got[1] != carol {
		t.Fatalf("Creators = %v", got)
	}
}
