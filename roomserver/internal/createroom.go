package internal

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// CreateRoom creates a room for a local user (arrow 4): every event of the spec's createRoom
// order is built, authorised and stored in ONE transaction, so a request that fails half-way
// (an initial_state event the auth rules refuse, a taken alias) leaves no room behind.
func (a *RoomserverInternalAPI) CreateRoom(ctx context.Context, req *api.CreateRoomRequest) (*api.CreateRoomResponse, error) {
	plan, err := planCreateRoom(req, a.serverName)
	if err != nil {
		return nil, err
	}
	// Invites of other servers' users are not part of the room's first transaction: each
	// needs the invitee's server to countersign it (arrow 17, invite v2), so they are sent
	// once the room exists, as POST /invite would (inviteRemote).
	remoteInvites, err := a.splitRemoteInvites(plan, req.UserID)
	if err != nil {
		return nil, err
	}
	if plan.Alias != "" {
		if roomID, _, err := a.db.Reader().Alias(ctx, plan.Alias); err != nil {
			return nil, err
		} else if roomID != "" {
			return nil, httputil.RoomInUse("Room alias %s is already taken", plan.Alias)
		}
	}

	// 1. The create event. Before v12 the room ID is ours to choose; from v12 it derives
	// from the create event.
	p := &proto{Sender: req.UserID, Type: "m.room.create", StateKey: strPtr(""), Content: plan.Create,
		Depth: 1, OriginServerTS: a.now().UnixMilli()}
	if !plan.Version.RoomIDFromCreateEvent {
		p.RoomID = "!" + randomString(18) + ":" + a.serverName
	}
	create, err := a.events.Build(plan.Version, p)
	if err != nil {
		return nil, err
	}
	if len(create.JSON()) > maxEventSize {
		return nil, httputil.TooLarge("The create event is larger than %d bytes", maxEventSize)
	}
	if err := auth.Allowed(create, &auth.AuthEvents{}); err != nil {
		return nil, invalidRoomState(forbidden(err))
	}
	roomID := create.RoomID()

	start := time.Now()
	defer func() { writeDuration.WithLabelValues("create_room").Observe(time.Since(start).Seconds()) }()
	unlock := a.locks.lock(roomID)
	locked := true
	defer func() {
		if locked {
			unlock()
		}
	}()
	var writer *roomWriter
	err = a.db.WithTx(ctx, func(s *storage.Store, tx *sql.Tx) error {
		if err := s.InsertRoom(ctx, roomID, string(plan.Version.ID), req.UserID, a.now().UnixMilli()); err != nil {
			return err
		}
		if plan.Alias != "" {
			ok, err := s.InsertAlias(ctx, plan.Alias, roomID, req.UserID)
			if err != nil {
				return err
			}
			if !ok {
				return httputil.RoomInUse("Room alias %s is already taken", plan.Alias)
			}
		}
		if plan.Visibility == "public" {
			if err := s.SetVisibility(ctx, roomID, "public"); err != nil {
				return err
			}
		}
		room, err := s.GetRoom(ctx, roomID)
		if err != nil {
			return err
		}
		if room == nil {
			return fmt.Errorf("roomserver: room %s missing after insert", roomID)
		}
		head := newRoomHead(*room)
		head.setJoined(nil) // a new room has no members yet: topic 6 needs no query
		w, err := a.newWriter(s, tx, head)
		if err != nil {
			return err
		}
		writer = w
		if err := w.store(ctx, create, "shared", sendOpts{}); err != nil {
			return err
		}
		// 2–8: join, power levels, alias, preset, initial_state, name, topic, invites.
		for _, t := range plan.Events {
			if _, err := w.send(ctx, t, req.UserID, sendOpts{}); err != nil {
				return invalidRoomState(err)
			}
		}
		return w.flush(ctx)
	})
	if err != nil {
		return nil, err
	}
	writer.committed()
	a.outbox.Kick()
	// The invites take the room's lock themselves (writeRoom).
	unlock()
	locked = false
	a.sendRemoteInvites(ctx, roomID, req.UserID, remoteInvites)
	return &api.CreateRoomResponse{RoomID: roomID, RoomAlias: plan.Alias}, nil
}

// invalidRoomState turns an auth refusal during createRoom into the spec's 400
// M_INVALID_ROOM_STATE (the initial state the request implies is not allowed).
func invalidRoomState(err error) error {
	var me *httputil.MatrixError
	if errors.As(err, &me) && me.ErrCode == "M_FORBIDDEN" {
		return &httputil.MatrixError{Status: 400, ErrCode: "M_INVALID_ROOM_STATE", Err: me.Err}
	}
	return err
}

// splitRemoteInvites takes the invites of other servers' users out of the plan and returns
// them (their m.room.member content). Without federation such an invite is refused before
// anything is created.
func (a *RoomserverInternalAPI) splitRemoteInvites(plan *roomPlan, creator string) ([]eventTemplate, error) {
	var remote []eventTemplate
	kept := plan.Events[:0]
	for _, ev := range plan.Events {
		if ev.Type == "m.room.member" && ev.StateKey != nil && *ev.StateKey != creator {
			if server, _ := matrix.ServerNameOf(*ev.StateKey); server != a.serverName {
				if a.fedSender == nil {
					return nil, httputil.Forbidden("Inviting %s needs federation, which is not configured", *ev.StateKey)
				}
				remote = append(remote, ev)
				continue
			}
		}
		kept = append(kept, ev)
	}
	plan.Events = kept
	return remote, nil
}

// sendRemoteInvites invites other servers' users into the room just created, one by one
// through PerformMembership (countersigned by their servers, arrow 17). The room exists
// whatever they answer, so a refused or unreachable invitee is logged, not an error of
// createRoom (the creator can invite again), as Synapse and Dendrite do.
func (a *RoomserverInternalAPI) sendRemoteInvites(ctx context.Context, roomID, sender string, invites []eventTemplate) {
	for _, ev := range invites {
		var extra map[string]json.RawMessage
		_ = json.Unmarshal(ev.Content, &extra)
		delete(extra, "membership")
		content, _ := json.Marshal(extra)
		if _, err := a.PerformMembership(ctx, &api.MembershipRequest{Action: "invite", RoomID: roomID, Sender: sender,
			Target: *ev.StateKey, Content: content}); err != nil {
			logrus.WithError(err).WithFields(logrus.Fields{"room_id": roomID, "invitee": *ev.StateKey}).
				Warn("roomserver: createRoom could not invite a user of another server")
		}
	}
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// randomString returns n random letters.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}
