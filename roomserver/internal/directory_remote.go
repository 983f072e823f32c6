package internal

import (
	"context"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/httputil"
)

// resolveRemoteAlias resolves another server's alias through the federationsender (arrow
// 7: GET /query/directory on the alias's server, remembered briefly there), for the
// clientapi's GET /directory/room/{roomAlias} (arrow 4) and for joins by alias. Without a
// federationsender that offers it the alias is M_NOT_FOUND.
func (a *RoomserverInternalAPI) resolveRemoteAlias(ctx context.Context, alias string) (string, []string, error) {
	dir, ok := a.fedSender.(fsapi.DirectoryAPI)
	if !ok || a.fedSender == nil {
		return "", nil, httputil.NotFound("Room alias %s is on another server, and this server does not federate", alias)
	}
	resp, err := dir.QueryRemoteDirectory(ctx, &fsapi.QueryRemoteDirectoryRequest{Alias: alias})
	if err != nil {
		return "", nil, err
	}
	return resp.RoomID, resp.Servers, nil
}
