package syncv3

import (
	"context"
	"reflect"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/internal/httputil"
)

// Config bounds the sessions and the long-poll (config sync_api.v3.*).
type Config struct {
	// IdleTimeout expires a session not used for this long (default 30m).
	IdleTimeout time.Duration
	// MaxSessionsPerDevice: a device's new session evicts its oldest-idle one beyond this
	// (default 10).
	MaxSessionsPerDevice int
	// MaxSessions: a new session evicts the server's oldest-idle one beyond this (0: no
	// bound).
	MaxSessions int
	// MaxTimeout caps `?timeout=` (default 10m).
	MaxTimeout time.Duration
}

// Defaults of Config.
const (
	DefaultIdleTimeout          = 30 * time.Minute
	DefaultMaxSessionsPerDevice = 10
	DefaultMaxTimeout           = 10 * time.Minute
)

// Engine serves sync v3 requests from a Source, keeping the sessions in a Store.
type Engine struct {
	Store  *Store
	Source Source
	Config Config
	// Now is the clock (session idle times); tests may replace it.
	Now      func() time.Time
	draining <-chan struct{}
}

// NewEngine builds an engine; zero fields of cfg get their defaults.
func NewEngine(store *Store, src Source, cfg Config) *Engine {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxSessionsPerDevice <= 0 {
		cfg.MaxSessionsPerDevice = DefaultMaxSessionsPerDevice
	}
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = DefaultMaxTimeout
	}
	return &Engine{Store: store, Source: src, Config: cfg, Now: time.Now}
}

// SetDraining hands the engine the channel closed when shutdown begins: a waiting
// long-poll then answers at once.
func (e *Engine) SetDraining(ch <-chan struct{}) { e.draining = ch }

// touchEvery is how stale a session's stored last use may get while it is in use (a tenth
// of the idle timeout, at most a minute): a session expires between IdleTimeout −
// touchEvery and IdleTimeout after its last request.
func (e *Engine) touchEvery() time.Duration { return min(e.Config.IdleTimeout/10, time.Minute) }

// idleCutoff is the last-use time before which a session is expired.
func (e *Engine) idleCutoff() time.Time { return e.Now().Add(-e.Config.IdleTimeout) }

// Caller is the authenticated device making a request.
type Caller struct {
	UserID, DeviceID string
}

// Sync serves one POST /sync: since is the `?since=` token ("" starts a session), timeout
// the `?timeout=` long-poll. It returns ErrUnknownSession for a token it cannot honour.
func (e *Engine) Sync(ctx context.Context, c Caller, since string, timeout time.Duration, body *Request) (*Response, error) {
	if body == nil {
		body = &Request{}
	}
	timeout = min(timeout, e.Config.MaxTimeout)
	var (
		sess  *Session
		from  Token
		fresh bool
		prev  Request
	)
	if since == "" {
		fresh = true
		sess = &Session{ID: newSessionID(), UserID: c.UserID, DeviceID: c.DeviceID, LastUsed: e.Now()}
		from = Token{Session: sess.ID}
	} else {
		tok, ok := ParseToken(since)
		if !ok {
			return nil, ErrUnknownSession()
		}
		s, err := e.Store.Get(ctx, tok.Session)
		if err != nil {
			return nil, err
		}
		if s == nil || s.UserID != c.UserID || s.DeviceID != c.DeviceID || s.LastUsed.Before(e.idleCutoff()) ||
			tok.ToDevice > s.ToDeviceSent || tok.Pos.after(e.Source.Position()) {
			return nil, ErrUnknownSession()
		}
		sess, from, prev = s, tok, s.Params
	}
	if err := validate(body); err != nil {
		return nil, err
	}
	sess.Params = mergeParams(sess.Params, body)
	oldAck := sess.ToDeviceAck
	if sess.Params.ToDevice != nil {
		// The client came back with `since`: it has every message up to from.ToDevice.
		ack := from.ToDevice
		if sess.ToDeviceAck != nil {
			ack = max(ack, *sess.ToDeviceAck)
		}
		sess.ToDeviceAck = &ack
	}
	// A session is written back only when something in it changed or its stored last use
	// is older than touchEvery: one write per long-poll would serialise every syncing
	// client on the database's writer (SQLite runs one write at a time).
	changed := !reflect.DeepEqual(prev, sess.Params) || (oldAck == nil) != (sess.ToDeviceAck == nil) ||
		(oldAck != nil && *oldAck != *sess.ToDeviceAck)
	if fresh || changed || e.Now().Sub(sess.LastUsed) >= e.touchEvery() {
		sess.LastUsed = e.Now()
		if fresh {
			if err := e.Store.Create(ctx, sess, e.idleCutoff(), e.Config.MaxSessionsPerDevice, e.Config.MaxSessions); err != nil {
				return nil, err
			}
		} else if ok, err := e.Store.Save(ctx, sess); err != nil {
			return nil, err
		} else if !ok {
			return nil, ErrUnknownSession() // evicted meanwhile
		}
	}
	if err := e.deleteAcknowledged(ctx, sess); err != nil {
		return nil, err
	}
	// Read your own writes, as GET /sync (the Source waits for the user's writes).
	if err := e.Source.CatchUp(ctx, c.UserID, c.DeviceID); err != nil {
		return nil, err
	}
	b := &build{e: e, sess: sess, from: from, fresh: fresh, prev: prev, body: body}
	resp, err := b.longPoll(ctx, timeout)
	if err != nil {
		return nil, err
	}
	if b.sent > sess.ToDeviceSent {
		sess.ToDeviceSent = b.sent
		if _, err := e.Store.Save(ctx, sess); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// deleteAcknowledged deletes the device's to-device messages that every live session
// asking for them has acknowledged (an expired session no longer counts).
func (e *Engine) deleteAcknowledged(ctx context.Context, sess *Session) error {
	if sess.ToDeviceAck == nil {
		return nil
	}
	lowest, ok := e.Source.ToDevicePending(sess.UserID, sess.DeviceID)
	if !ok || lowest > *sess.ToDeviceAck {
		return nil
	}
	upTo, ok, err := e.ToDeviceHold(ctx, sess.UserID, sess.DeviceID)
	if err != nil || !ok || upTo < lowest {
		return err
	}
	return e.Source.DeleteToDevice(ctx, sess.UserID, sess.DeviceID, upTo)
}

// ToDeviceHold is how far the device's to-device messages may be deleted as far as its
// live sync v3 sessions are concerned: the lowest acknowledgement among them (ok false:
// no live session asks for to-device messages, nothing is held). The spec's GET /sync
// deletes no further than this.
func (e *Engine) ToDeviceHold(ctx context.Context, userID, deviceID string) (int64, bool, error) {
	return e.Store.MinToDeviceAck(ctx, userID, deviceID, e.idleCutoff())
}

// RunExpiry deletes expired sessions every interval (a quarter of the idle timeout, at
// most a minute) until ctx ends.
func (e *Engine) RunExpiry(ctx context.Context) {
	every := min(e.Config.IdleTimeout/4, time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := e.Store.DeleteExpired(ctx, e.idleCutoff()); err != nil && ctx.Err() == nil {
				logrus.WithError(err).Warn("syncv3: deleting expired sessions")
			} else if n > 0 {
				logrus.WithField("sessions", n).Debug("syncv3: expired sessions deleted")
			}
		}
	}
}

// validate checks what a request asks for beyond its JSON shape.
func validate(r *Request) error {
	if r.ToDevice != nil && r.ToDevice.Limit < 0 {
		return httputil.InvalidParam("to_device.limit must not be negative")
	}
	if r.RoomMembers != nil && r.RoomMembers.P != nil && r.RoomMembers.P.Limit < 0 {
		return httputil.InvalidParam("room_members.p.limit must not be negative")
	}
	if r.RoomList != nil && r.RoomList.P != nil && r.RoomList.P.Limit < 0 {
		return httputil.InvalidParam("room_list.p.limit must not be negative")
	}
	if r.Room != nil {
		if r.Room.TimelineLimit < 0 || (r.Room.P != nil && r.Room.P.Limit < 0) {
			return httputil.InvalidParam("room.timeline_limit and room.p.limit must not be negative")
		}
		for _, rs := range r.Room.RequiredState {
			if len(rs) != 2 {
				return httputil.InvalidParam("room.required_state entries must be [type, state_key]")
			}
		}
	}
	return nil
}
