package internal

import (
	"context"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/syncapi/storage"
)

// Forgotten rooms (POST /forget): the roomserver tells the syncapi on topic 2 (an
// OutputForget record at its own position, stored by the consumer in syncapi_forgotten).
// A user forgot a room at position P when their last forget there is at P ≤ P and newer
// than their membership event in force at P: a later membership event (joining again,
// an invite) brings the room back without any write. A forgotten room is left out of
// /sync's rooms.leave (initial, incremental, include_leave, full_state alike, as Synapse),
// and the room reads (/messages, /context, /members; /event answers 404 as for any event
// the user may not see) refuse the user with 403 unless the room is world readable.

// forgottenRooms is the user's forgotten rooms at a /sync position, read from the database
// on first need: only a /sync that would show a left room pays the read.
type forgottenRooms struct {
	s      *Syncer
	userID string
	upTo   int64
	loaded bool
	at     map[string]int64 // room → the user's newest forget there at or before upTo
}

// has reports whether the user had forgotten m's room (m: their membership at upTo).
func (f *forgottenRooms) has(ctx context.Context, m storage.Membership) (bool, error) {
	if !f.loaded {
		at, err := f.s.db.ForgottenRooms(ctx, f.userID, f.upTo)
		if err != nil {
			return false, err
		}
		f.at, f.loaded = at, true
	}
	return f.at[m.RoomID] > m.Pos, nil
}

// checkNotForgotten refuses a room read (M_FORBIDDEN) by a user who left the room and then
// forgot it; vis holds the user's memberships up to upTo.
func (s *Syncer) checkNotForgotten(ctx context.Context, roomID string, vis *roomVisibility, upTo int64) error {
	if len(vis.memberships) == 0 {
		return nil
	}
	p, err := s.db.ForgetPos(ctx, roomID, vis.userID, upTo)
	if err != nil {
		return err
	}
	if p > vis.memberships[len(vis.memberships)-1].Pos {
		return httputil.Forbidden("User %s has forgotten room %s", vis.userID, roomID)
	}
	return nil
}
