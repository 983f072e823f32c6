package internal

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"testing"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/matrix/signing"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// newNamedRoomserver is a roomserver of its own server name on dsn, with opts.
func newNamedRoomserver(t testing.TB, dsn, server string, opts ...Option) *testRS {
	t.Helper()
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sdb, err := storage.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	ob := newTestOutbox(t, db)
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	a := New(sdb, server, "ed25519:test", key, ob, testTopics, opts...)
	return &testRS{RoomserverInternalAPI: a, outbox: ob, db: db}
}

// key returns the roomserver's signing key (the federationsender would sign with it).
func (rs *testRS) key() ed25519.PrivateKey { return rs.events.(*matrixEventLib).key }

// fedEvents decodes the topic 6 records staged so far.
func (rs *testRS) fedEvents(t testing.TB) []api.OutputFederationEvent {
	t.Helper()
	var out []api.OutputFederationEvent
	for _, m := range rs.outbox.messages(t, testTopics.Federation) {
		var e api.OutputFederationEvent
		if err := json.Unmarshal(m.Value, &e); err != nil {
			t.Fatal(err)
		}
		if m.Key != e.RoomID {
			t.Fatalf("topic 6 record keyed %q, room %q", m.Key, e.RoomID)
		}
		out = append(out, e)
	}
	return out
}

// fakeSender is a FederationSenderAPI that joins through another roomserver in the same
// test (arrow 17 without the wire): make_join on the resident, the join built and signed
// with the joining server's key, send_join on the resident.
type fakeSender struct {
	t        testing.TB
	resident *testRS
	joiner   func() *testRS
	// invitee is the roomserver PerformInvite hands invites to (PUT /invite without the
	// wire); nil: PerformInvite fails.
	invitee func() *testRS
	calls   int
}

func (f *fakeSender) PerformInvite(ctx context.Context, req *fsapi.PerformInviteRequest) (*fsapi.PerformInviteResponse, error) {
	f.calls++
	if f.invitee == nil {
		return nil, errors.New("fakeSender: no invitee server in this test")
	}
	resp, err := f.invitee().PerformInboundInvite(ctx, &api.InboundInviteRequest{RoomVersion: req.RoomVersion, Event: req.Event,
		InviteRoomState: req.InviteRoomState})
	if err != nil {
		return nil, err
	}
	return &fsapi.PerformInviteResponse{Event: resp.Event}, nil
}

// PerformLeave is make_leave and send_leave on the resident, signed as the joiner.
func (f *fakeSender) PerformLeave(ctx context.Context, req *fsapi.PerformLeaveRequest) (*fsapi.PerformLeaveResponse, error) {
	f.calls++
	joiner := f.joiner()
	ml, err := f.resident.QueryMakeJoin(ctx, &api.MakeJoinRequest{RoomID: req.RoomID, UserID: req.UserID, Membership: "leave"})
	if err != nil {
		return nil, err
	}
	e := buildFromTemplate(f.t, ml.RoomVersion, ml.Event, nil, joiner.serverName, joiner.key())
	if _, err := f.resident.PerformSendJoin(ctx, &api.SendJoinRequest{Origin: joiner.serverName, RoomID: req.RoomID, Membership: "leave",
		Event: api.FederationEvent{EventID: e.EventID(), JSON: e.JSON()}}); err != nil {
		return nil, err
	}
	return &fsapi.PerformLeaveResponse{RoomVersion: ml.RoomVersion, Event: e.JSON()}, nil
}

// PerformKnock is make_knock and send_knock on the resident, signed as the joiner.
func (f *fakeSender) PerformKnock(ctx context.Context, req *fsapi.PerformKnockRequest) (*fsapi.PerformKnockResponse, error) {
	f.calls++
	joiner := f.joiner()
	var versions []string
	for _, v := range matrix.RoomVersions() {
		versions = append(versions, string(v.ID))
	}
	mk, err := f.resident.QueryMakeJoin(ctx, &api.MakeJoinRequest{RoomID: req.RoomID, UserID: req.UserID, Versions: versions,
		Membership: "knock"})
	if err != nil {
		return nil, err
	}
	e := buildFromTemplate(f.t, mk.RoomVersion, mk.Event, req.Content, joiner.serverName, joiner.key())
	sk, err := f.resident.PerformSendJoin(ctx, &api.SendJoinRequest{Origin: joiner.serverName, RoomID: req.RoomID, Membership: "knock",
		Event: api.FederationEvent{EventID: e.EventID(), JSON: e.JSON()}})
	if err != nil {
		return nil, err
	}
	return &fsapi.PerformKnockResponse{RoomVersion: mk.RoomVersion, Event: e.JSON(), KnockRoomState: sk.KnockRoomState}, nil
}

func (f *fakeSender) PerformJoin(ctx context.Context, req *fsapi.PerformJoinRequest) (*fsapi.PerformJoinResponse, error) {
	f.calls++
	joiner := f.joiner()
	var versions []string
	for _, v := range matrix.RoomVersions() {
		versions = append(versions, string(v.ID))
	}
	mj, err := f.resident.QueryMakeJoin(ctx, &api.MakeJoinRequest{RoomID: req.RoomID, UserID: req.UserID, Versions: versions})
	if err != nil {
		return nil, err
	}
	e := buildFromTemplate(f.t, mj.RoomVersion, mj.Event, req.Content, joiner.serverName, joiner.key())
	sj, err := f.resident.PerformSendJoin(ctx, &api.SendJoinRequest{Origin: joiner.serverName, RoomID: req.RoomID,
		Event: api.FederationEvent{EventID: e.EventID(), JSON: e.JSON()}})
	if err != nil {
		return nil, err
	}
	return &fsapi.PerformJoinResponse{RoomVersion: mj.RoomVersion, Origin: f.resident.serverName, JoinEvent: sj.Event,
		StateEvents: sj.StateEvents, AuthChain: sj.AuthChain}, nil
}

// buildFromTemplate signs a make_join template as server would.
func buildFromTemplate(t testing.TB, version string, tmpl, extra json.RawMessage, server string, key ed25519.PrivateKey) *event.Event {
	t.Helper()
	var top struct {
		Type           string            `json:"type"`
		RoomID         string            `json:"room_id"`
		Sender         string            `json:"sender"`
		StateKey       *string           `json:"state_key"`
		Content        map[string]any    `json:"content"`
		PrevEvents     []json.RawMessage `json:"prev_events"`
		AuthEvents     []json.RawMessage `json:"auth_events"`
		Depth          int64             `json:"depth"`
		OriginServerTS int64             `json:"origin_server_ts"`
	}
	if err := json.Unmarshal(tmpl, &top); err != nil {
		t.Fatal(err)
	}
	if len(extra) > 0 {
		var c map[string]any
		if err := json.Unmarshal(extra, &c); err != nil {
			t.Fatal(err)
		}
		for k, v := range c {
			if k != "membership" {
				top.Content[k] = v
			}
		}
	}
	hashes := map[string]string{}
	refs := func(raw []json.RawMessage) []string {
		var ids []string
		for _, r := range raw {
			var id string
			if json.Unmarshal(r, &id) == nil {
				ids = append(ids, id)
				continue
			}
			var pair []json.RawMessage
			if err := json.Unmarshal(r, &pair); err != nil || len(pair) != 2 {
				t.Fatalf("bad reference %s", r)
			}
			var h struct {
				SHA256 string `json:"sha256"`
			}
			_ = json.Unmarshal(pair[0], &id)
			_ = json.Unmarshal(pair[1], &h)
			ids = append(ids, id)
			hashes[id] = h.SHA256
		}
		return ids
	}
	b := event.Builder{Type: top.Type, RoomID: top.RoomID, Sender: top.Sender, StateKey: top.StateKey, Content: top.Content,
		PrevEvents: refs(top.PrevEvents), AuthEvents: refs(top.AuthEvents), Depth: top.Depth, OriginServerTS: top.OriginServerTS,
		ReferenceHashes: hashes}
	e, err := b.Build(matrix.RoomVersionID(version), server, signing.KeyID("ed25519:test"), key)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// relay delivers the topic 6 records of from addressed to to (arrow 3 without the wire),
// starting after the first *seen records, and returns the results.
func relay(t testing.TB, from, to *testRS, seen *int) []api.FederationEventResult {
	t.Helper()
	evs := from.fedEvents(t)
	var out []api.FederationEventResult
	for _, e := range evs[*seen:] {
		for _, d := range e.Destinations {
			if d != to.serverName {
				continue
			}
			res, err := to.InputFederationEvents(context.Background(), &api.InputFederationEventsRequest{Origin: from.serverName,
				RoomID: e.RoomID, Events: []api.FederationEvent{{EventID: e.EventID, JSON: e.Event}}})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, res.Results...)
		}
	}
	*seen = len(evs)
	return out
}

// remoteEvent builds an event as server (a fake remote server with key).
func remoteEvent(t testing.TB, version, server string, key ed25519.PrivateKey, b event.Builder) *event.Event {
	t.Helper()
	e, err := b.Build(matrix.RoomVersionID(version), server, "ed25519:test", key)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
