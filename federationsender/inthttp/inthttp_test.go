package inthttp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/inthttp"
)

const secret = "federationsender-inthttp-test-secret"

// fakeSender answers PerformJoin from fn and counts calls.
type fakeSender struct {
	calls atomic.Int32
	fn    func(req *api.PerformJoinRequest) (*api.PerformJoinResponse, error)
}

func (f *fakeSender) PerformJoin(_ context.Context, req *api.PerformJoinRequest) (*api.PerformJoinResponse, error) {
	f.calls.Add(1)
	return f.fn(req)
}

// PerformInvite and PerformLeave echo their request's event / room ID, so a test can
// see it crossed intact.
func (f *fakeSender) PerformInvite(_ context.Context, req *api.PerformInviteRequest) (*api.PerformInviteResponse, error) {
	f.calls.Add(1)
	if req.RoomVersion == "" {
		return nil, httputil.InvalidParam("no room version")
	}
	return &api.PerformInviteResponse{Event: req.Event}, nil
}

func (f *fakeSender) PerformLeave(_ context.Context, req *api.PerformLeaveRequest) (*api.PerformLeaveResponse, error) {
	f.calls.Add(1)
	if len(req.ServerNames) == 0 {
		return nil, httputil.NotFound("no server")
	}
	return &api.PerformLeaveResponse{RoomVersion: "11", Event: json.RawMessage(`{"room_id":"` + req.RoomID + `"}`)}, nil
}

func (f *fakeSender) PerformKnock(_ context.Context, req *api.PerformKnockRequest) (*api.PerformKnockResponse, error) {
	f.calls.Add(1)
	if len(req.ServerNames) == 0 {
		return nil, httputil.NotFound("no server")
	}
	return &api.PerformKnockResponse{RoomVersion: "11", Event: json.RawMessage(`{"room_id":"` + req.RoomID + `"}`),
		KnockRoomState: []json.RawMessage{req.Content}}, nil
}

// TestPerformInviteAndLeave: both (and knocks) cross the hop intact, errors keep their errcode.
func TestPerformInviteAndLeave(t *testing.T) {
	ctx := context.Background()
	c, _ := serve(t, &fakeSender{}, nil)
	inv, err := c.PerformInvite(ctx, &api.PerformInviteRequest{RoomVersion: "10", Event: json.RawMessage(`{"type":"m.room.member"}`),
		InviteRoomState: []json.RawMessage{json.RawMessage(`{}`)}})
	if err != nil || string(inv.Event) != `{"type":"m.room.member"}` {
		t.Fatalf("invite: %+v %v", inv, err)
	}
	var me *httputil.MatrixError
	if _, err := c.PerformInvite(ctx, &api.PerformInviteRequest{Event: json.RawMessage(`{}`)}); !errors.As(err, &me) || me.ErrCode != "M_INVALID_PARAM" {
		t.Fatalf("invite without version: %v", err)
	}
	lv, err := c.PerformLeave(ctx, &api.PerformLeaveRequest{RoomID: "!r:remote", UserID: "@u:here", ServerNames: []string{"remote"}})
	if err != nil || lv.RoomVersion != "11" || string(lv.Event) != `{"room_id":"!r:remote"}` {
		t.Fatalf("leave: %+v %v", lv, err)
	}
	if _, err := c.PerformLeave(ctx, &api.PerformLeaveRequest{RoomID: "!r:remote"}); !errors.As(err, &me) || me.Status != 404 {
		t.Fatalf("leave without servers: %v", err)
	}
	kn, err := c.PerformKnock(ctx, &api.PerformKnockRequest{RoomID: "!r:remote", UserID: "@u:here", ServerNames: []string{"remote"},
		Content: json.RawMessage(`{"reason":"hi"}`)})
	if err != nil || kn.RoomVersion != "11" || string(kn.Event) != `{"room_id":"!r:remote"}` || len(kn.KnockRoomState) != 1 ||
		string(kn.KnockRoomState[0]) != `{"reason":"hi"}` {
		t.Fatalf("knock: %+v %v", kn, err)
	}
	if _, err := c.PerformKnock(ctx, &api.PerformKnockRequest{RoomID: "!r:remote"}); !errors.As(err, &me) || me.Status != 404 {
		t.Fatalf("knock without servers: %v", err)
	}
}

func serve(t *testing.T, a api.FederationSenderAPI, wrap func(http.Handler) http.Handler) (*Client, string) {
	root := mux.NewRouter()
	AddRoutes(root.PathPrefix(inthttp.PathPrefix).Subrouter(), a)
	var h http.Handler = inthttp.RequireSecret(secret, root)
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return NewClient(srv.URL, secret, inthttp.WithHTTPClient(srv.Client()), inthttp.WithRetries(3, time.Millisecond)), srv.URL
}

// TestPerformJoin: the request and answer cross the hop intact, errors keep their errcode
// and status, and a transport failure is never retried (the remote may have the join).
func TestPerformJoin(t *testing.T) {
	ctx := context.Background()
	f := &fakeSender{fn: func(req *api.PerformJoinRequest) (*api.PerformJoinResponse, error) {
		if req.RoomID == "!forbidden:remote" {
			return nil, httputil.Forbidden("not invited")
		}
		return &api.PerformJoinResponse{RoomVersion: "10", Origin: req.ServerNames[0], JoinEvent: json.RawMessage(`{"type":"m.room.member"}`),
			StateEvents: []json.RawMessage{json.RawMessage(`{"a":1}`)}, AuthChain: []json.RawMessage{json.RawMessage(`{"b":2}`)}}, nil
	}}
	c, url := serve(t, f, nil)
	resp, err := c.PerformJoin(ctx, &api.PerformJoinRequest{RoomID: "!r:remote", UserID: "@u:here", ServerNames: []string{"remote"},
		Content: json.RawMessage(`{"displayname":"U"}`)})
	if err != nil || resp.Origin != "remote" || resp.RoomVersion != "10" || string(resp.JoinEvent) != `{"type":"m.room.member"}` ||
		len(resp.StateEvents) != 1 || len(resp.AuthChain) != 1 {
		t.Fatalf("%+v %v", resp, err)
	}
	var me *httputil.MatrixError
	if _, err := c.PerformJoin(ctx, &api.PerformJoinRequest{RoomID: "!forbidden:remote"}); !errors.As(err, &me) || me.Status != 403 || me.ErrCode != "M_FORBIDDEN" {
		t.Fatalf("forbidden: %v", err)
	}
	if _, err := NewClient(url, "wrong-secret").PerformJoin(ctx, &api.PerformJoinRequest{}); !errors.As(err, &me) || me.Status != 401 {
		t.Fatalf("wrong secret: %v", err)
	}

	// The connection drops after the call reached the server: one call, no retry.
	g := &fakeSender{fn: f.fn}
	drop, _ := serve(t, g, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(httptest.NewRecorder(), r)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		})
	})
	if _, err := drop.PerformJoin(ctx, &api.PerformJoinRequest{RoomID: "!r:remote", ServerNames: []string{"remote"}}); err == nil {
		t.Fatal("no error after a dropped connection")
	}
	if n := g.calls.Load(); n != 1 {
		t.Fatalf("PerformJoin reached the server %d times, want 1 (never retried)", n)
	}
}
