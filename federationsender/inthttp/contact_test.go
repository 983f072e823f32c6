package inthttp

import (
	"context"
	"errors"
	"testing"

	"github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/httputil"
)

// contactSender adds arrows 7 and 8 to fakeSender.
type contactSender struct {
	fakeSender
	contacted []string
}

func (c *contactSender) QueryRemoteDirectory(_ context.Context, req *api.QueryRemoteDirectoryRequest) (*api.QueryRemoteDirectoryResponse, error) {
	if req.Alias != "#a:remote" {
		return nil, httputil.NotFound("no alias %s", req.Alias)
	}
	return &api.QueryRemoteDirectoryResponse{RoomID: "!r:remote", Servers: []string{"remote"}}, nil
}

func (c *contactSender) ServerContacted(_ context.Context, req *api.ServerContactedRequest) error {
	c.contacted = append(c.contacted, req.Server)
	return nil
}

// TestContactRoutes: arrows 7 and 8 cross the hop; errors keep their errcode.
func TestContactRoutes(t *testing.T) {
	ctx := context.Background()
	f := &contactSender{}
	c, _ := serve(t, f, nil)
	resp, err := c.QueryRemoteDirectory(ctx, &api.QueryRemoteDirectoryRequest{Alias: "#a:remote"})
	if err != nil || resp.RoomID != "!r:remote" || len(resp.Servers) != 1 {
		t.Fatalf("directory: %+v %v", resp, err)
	}
	var me *httputil.MatrixError
	if _, err := c.QueryRemoteDirectory(ctx, &api.QueryRemoteDirectoryRequest{Alias: "#b:remote"}); !errors.As(err, &me) || me.ErrCode != "M_NOT_FOUND" {
		t.Fatalf("unknown alias: %v", err)
	}
	if err := c.ServerContacted(ctx, &api.ServerContactedRequest{Server: "remote"}); err != nil || len(f.contacted) != 1 || f.contacted[0] != "remote" {
		t.Fatalf("contacted: %v %v", f.contacted, err)
	}
	// A sender without them: the paths are not served.
	plain, _ := serve(t, &fakeSender{}, nil)
	if err := plain.ServerContacted(ctx, &api.ServerContactedRequest{Server: "remote"}); err == nil {
		t.Fatal("arrow 8 served by a sender that does not implement it")
	}
}
