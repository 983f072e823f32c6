package internal

import (
	"context"
	"slices"
	"testing"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/testenv"
)

// dirSender is a federationsender that only resolves aliases (arrow 7).
type dirSender struct {
	fsapi.FederationSenderAPI
	asked []string
}

func (d *dirSender) QueryRemoteDirectory(_ context.Context, req *fsapi.QueryRemoteDirectoryRequest) (*fsapi.QueryRemoteDirectoryResponse, error) {
	d.asked = append(d.asked, req.Alias)
	return &fsapi.QueryRemoteDirectoryResponse{RoomID: "!room:b.test", Servers: []string{"b.test", "c.test"}}, nil
}

// TestResolveRemoteAlias: another server's alias goes to the federationsender (arrow 7);
// without one it is M_NOT_FOUND.
func TestResolveRemoteAlias(t *testing.T) {
	dsn := testenv.SQLitePath(t, "rs")
	d := &dirSender{}
	rs := newNamedRoomserver(t, dsn, "a.test", WithFederationSender(d))
	room, servers, err := rs.ResolveRoomAlias(context.Background(), "#lobby:b.test")
	if err != nil || room != "!room:b.test" || !slices.Equal(servers, []string{"b.test", "c.test"}) || !slices.Equal(d.asked, []string{"#lobby:b.test"}) {
		t.Fatalf("remote alias: %s %v %v (asked %v)", room, servers, err, d.asked)
	}
	plain := newNamedRoomserver(t, testenv.SQLitePath(t, "rs2"), "a.test")
	if _, _, err := plain.ResolveRoomAlias(context.Background(), "#lobby:b.test"); errCode(err) != "M_NOT_FOUND" {
		t.Fatalf("without a federationsender: %v", err)
	}
}
