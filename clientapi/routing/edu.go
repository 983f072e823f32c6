package routing

import (
	"context"
	"errors"
	"net/http"

	"github.com/axon-matrix/axon/internal/httputil"
)

// The EDU endpoints: arrow 6 (clientapi → eduserver) for typing (typing.go), receipts and
// read markers (receipts.go) and send-to-device (sendtodevice.go). Without an eduserver
// they are left out (404 M_UNRECOGNIZED). Presence: presence.go.

// addEDURoutes registers the EDU endpoints when the clientapi has an eduserver.
func (rt *Routes) addEDURoutes(routers Routers) {
	if rt.eduAPI == nil {
		return
	}
	const post, put = http.MethodPost, http.MethodPut
	r := routers.Client
	rt.client(r, put, "/rooms/{roomId}/typing/{userId}", guestOK, rt.setTyping)
	rt.client(r, post, "/rooms/{roomId}/receipt/{receiptType}/{eventId}", guestOK, rt.postReceipt)
	rt.client(r, post, "/rooms/{roomId}/read_markers", guestOK, rt.postReadMarkers)
	rt.client(r, put, "/sendToDevice/{eventType}/{txnId}", guestOK, rt.sendToDevice)
	rt.client(r, put, "/presence/{userId}/status", guestOK, rt.putPresence)
	rt.client(r, http.MethodGet, "/presence/{userId}/status", guestOK, rt.getPresence)
}

// requireJoined answers M_FORBIDDEN unless userID is joined to roomID (arrow 4, the
// roomserver's current membership).
func (rt *Routes) requireJoined(ctx context.Context, roomID, userID string) error {
	m, _, err := rt.rsAPI.QueryMembership(ctx, roomID, userID)
	var me *httputil.MatrixError
	if errors.As(err, &me) && me.ErrCode == "M_NOT_FOUND" {
		return httputil.Forbidden("You are not joined to room %s", roomID)
	}
	if err != nil {
		return err
	}
	if m != "join" {
		return httputil.Forbidden("You are not joined to room %s", roomID)
	}
	return nil
}
