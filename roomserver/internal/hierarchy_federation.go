package internal

import (
	"context"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/roomserver/api"
)

// maxFederationChildren bounds the children summarised in one federation /hierarchy answer.
const maxFederationChildren = 500

// QueryFederationHierarchy serves GET /_matrix/federation/v1/hierarchy/{roomId} (arrow 3):
// the room, when this server holds it and the origin may see it (serverMaySee: server ACL,
// open rooms, the origin's members, restricted rooms' allowed rooms), and its children
// held here, split into those the origin may see (summaries with their own children) and
// the others (inaccessible_children). Children this server does not hold are left out.
// The room the federationapi checked the ACL of is the space; each child's ACL counts for
// that child.
func (a *RoomserverInternalAPI) QueryFederationHierarchy(ctx context.Context, req *api.FederationHierarchyRequest) (*api.FederationHierarchyResponse, error) {
	s := a.db.Reader()
	notFound := httputil.NotFound("Room %s is not known here, or not visible to %s", req.RoomID, req.Origin)
	room, err := a.localSpaceRoom(ctx, s, req.RoomID)
	if err != nil {
		return nil, err
	}
	if room == nil {
		return nil, notFound
	}
	if ok, err := a.serverMaySee(ctx, s, room, req.Origin); err != nil || !ok {
		if err == nil {
			err = notFound
		}
		return nil, err
	}
	sum, kids := room.childrenFor(req.SuggestedOnly)
	resp := &api.FederationHierarchyResponse{Room: sum, Children: []api.HierarchyRoom{}, InaccessibleChildren: []string{}}
	for i, kid := range kids {
		if i == maxFederationChildren {
			break
		}
		child, err := a.localSpaceRoom(ctx, s, kid.roomID)
		if err != nil {
			return nil, err
		}
		if child == nil {
			continue
		}
		ok, err := a.serverMaySee(ctx, s, child, req.Origin)
		if err != nil {
			return nil, err
		}
		if !ok {
			resp.InaccessibleChildren = append(resp.InaccessibleChildren, kid.roomID)
			continue
		}
		cs, _ := child.childrenFor(req.SuggestedOnly)
		resp.Children = append(resp.Children, cs)
	}
	return resp, nil
}
