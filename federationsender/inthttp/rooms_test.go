package inthttp

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/httputil"
)

// roomsSender adds arrow 7's room lookups to fakeSender.
type roomsSender struct{ fakeSender }

func (*roomsSender) QueryRemotePublicRooms(_ context.Context, req *api.QueryRemotePublicRoomsRequest) (*api.QueryRemotePublicRoomsResponse, error) {
	if req.Server != "remote" {
		return nil, &httputil.MatrixError{Status: 502, ErrCode: "M_UNKNOWN", Err: "unreachable"}
	}
	return &api.QueryRemotePublicRoomsResponse{Chunk: []json.RawMessage{json.RawMessage(`{"room_id":"!r:remote"}`)},
		NextBatch: req.Since + "n", Total: int64(req.Limit)}, nil
}

func (*roomsSender) QueryRemoteHierarchy(_ context.Context, req *api.QueryRemoteHierarchyRequest) (*api.QueryRemoteHierarchyResponse, error) {
	if len(req.Servers) == 0 {
		return nil, httputil.NotFound("no server")
	}
	return &api.QueryRemoteHierarchyResponse{Origin: req.Servers[0], Room: json.RawMessage(`{"room_id":"` + req.RoomID + `"}`),
		InaccessibleChildren: []string{"!x:remote"}}, nil
}

// TestRoomsRoutes: arrow 7's room lookups cross the hop; errors keep status and errcode.
func TestRoomsRoutes(t *testing.T) {
	ctx := context.Background()
	c, _ := serve(t, &roomsSender{}, nil)
	pr, err := c.QueryRemotePublicRooms(ctx, &api.QueryRemotePublicRoomsRequest{Server: "remote", Limit: 3, Since: "s"})
	if err != nil || len(pr.Chunk) != 1 || pr.NextBatch != "sn" || pr.Total != 3 {
		t.Fatalf("publicRooms: %+v %v", pr, err)
	}
	var me *httputil.MatrixError
	if _, err := c.QueryRemotePublicRooms(ctx, &api.QueryRemotePublicRoomsRequest{Server: "down"}); !errors.As(err, &me) || me.Status != 502 || me.ErrCode != "M_UNKNOWN" {
		t.Fatalf("unreachable: %v", err)
	}
	h, err := c.QueryRemoteHierarchy(ctx, &api.QueryRemoteHierarchyRequest{RoomID: "!s:remote", Servers: []string{"remote"}})
	if err != nil || h.Origin != "remote" || string(h.Room) != `{"room_id":"!s:remote"}` || len(h.InaccessibleChildren) != 1 {
		t.Fatalf("hierarchy: %+v %v", h, err)
	}
	if _, err := c.QueryRemoteHierarchy(ctx, &api.QueryRemoteHierarchyRequest{RoomID: "!s:remote"}); !errors.As(err, &me) || me.ErrCode != "M_NOT_FOUND" {
		t.Fatalf("no server: %v", err)
	}
	plain, _ := serve(t, &fakeSender{}, nil)
	if _, err := plain.QueryRemoteHierarchy(ctx, &api.QueryRemoteHierarchyRequest{RoomID: "!s:remote"}); err == nil {
		t.Fatal("arrow 7's hierarchy served by a sender that does not implement it")
	}
}
