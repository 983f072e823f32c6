package internal

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"

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
	for _, ev := range plan.Events {
		if ev.Type == "m.room.member" && *ev.StateKey != req.UserID {
			if err := a.checkLocalInvitee(*ev.StateKey); err != nil {
				return nil, err
			}
		}
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
	defer unlock()
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

// checkLocalInvitee refuses invites to users on other servers: an invite to a remote user
// needs the invitee's server to sign it (federation /invite), which is not built yet.
func (a *RoomserverInternalAPI) checkLocalInvitee(userID string) error {
	server, _ := matrix.ServerNameOf(userID)
	if server != a.serverName {
		return httputil.Forbidden("Inviting %s needs federation, which this server does not support yet", userID)
	}
	return nil
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
