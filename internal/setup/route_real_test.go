package setup_test

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRealRoutes pins how the monolith's real public client routes (realRoutes) answer:
// the status, the unescaped path variables the handler gets, and the route label the
// metrics record. Paths are matched on their escaped form, so a %2F stays inside its
// variable; a known path with the wrong method is 405 M_UNRECOGNIZED, also for the
// syncapi's routes behind FullPathRouter; unknown paths are 404 M_UNRECOGNIZED; OPTIONS
// under /_matrix is the CORS preflight.
func TestRealRoutes(t *testing.T) {
	base := realRoutes(t)
	const room = "!AbC:example.org"
	tests := []struct {
		method, path string
		status       int
		vars         string // the handler's mux.Vars (varsString) on 200, else the body holds it
		label        string
	}{
		// clientapi
		{"PUT", "/_matrix/client/v3/rooms/" + room + "/send/m.room.message/t1", 200,
			"eventType=m.room.message;roomId=" + room + ";txnId=t1;", "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}"},
		{"PUT", "/_matrix/client/r0/rooms/" + room + "/send/m.room.message/t1", 200,
			"eventType=m.room.message;roomId=" + room + ";txnId=t1;", "/_matrix/client/r0/rooms/{roomId}/send/{eventType}/{txnId}"},
		{"PUT", "/_matrix/client/v3/rooms/%21AbC%3Aexample.org/send/m.room.message/a%2Fb%25c", 200,
			"eventType=m.room.message;roomId=" + room + ";txnId=a/b%c;", "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}"},
		{"GET", "/_matrix/client/v3/rooms/" + room + "/send/m.room.message/t1", 405, "M_UNRECOGNIZED",
			"/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}"},
		{"PATCH", "/_matrix/client/v3/rooms/" + room + "/send/m.room.message/t1", 405, "M_UNRECOGNIZED",
			"/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}"},
		{"PUT", "/_matrix/client/v3/rooms/" + room + "/send/m.room.message", 404, "M_UNRECOGNIZED", "unmatched"},
		{"PUT", "/_matrix/client/v3/rooms/" + room + "/send/m.room.message/t1/", 404, "M_UNRECOGNIZED", "unmatched"},
		{"PUT", "/_matrix/client/v3/rooms/a%2Fb/send/m.room.message/t1", 200,
			"eventType=m.room.message;roomId=a/b;txnId=t1;", "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}"},
		{"GET", "/_matrix/client/v3/rooms/" + room + "/state/m.room.member/@a:x/extra", 200,
			"eventType=m.room.member;roomId=" + room + ";stateKey=@a:x/extra;", "/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey:.*}"},
		{"GET", "/_matrix/client/v3/rooms/" + room + "/state/m.room.name/", 200,
			"eventType=m.room.name;roomId=" + room + ";stateKey=;", "/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey:.*}"},
		{"GET", "/_matrix/client/v3/rooms/" + room + "/state/m.room.name", 200,
			"eventType=m.room.name;roomId=" + room + ";", "/_matrix/client/v3/rooms/{roomId}/state/{eventType}"},
		{"GET", "/_matrix/client/v3/rooms/" + room + "/state", 200, "roomId=" + room + ";", "/_matrix/client/v3/rooms/{roomId}/state"},
		{"POST", "/_matrix/client/v3/rooms/" + room + "/state", 405, "M_UNRECOGNIZED", "/_matrix/client/v3/rooms/{roomId}/state"},
		{"GET", "/_matrix/client/v3/directory/room/%23a%2Fb:x", 200, "roomAlias=#a/b:x;", "/_matrix/client/v3/directory/room/{roomAlias}"},
		{"DELETE", "/_matrix/client/r0/directory/room/%23a:x", 200, "roomAlias=#a:x;", "/_matrix/client/r0/directory/room/{roomAlias}"},
		{"POST", "/_matrix/client/r0/directory/room/%23a:x", 405, "M_UNRECOGNIZED", "/_matrix/client/r0/directory/room/{roomAlias}"},
		{"GET", "/_matrix/client/v3/pushrules/", 200, "", "/_matrix/client/v3/pushrules/"},
		{"GET", "/_matrix/client/v3/pushrules", 200, "", "/_matrix/client/v3/pushrules"},
		{"GET", "/_matrix/client/v3/pushrules/global/", 200, "scope=global;", "/_matrix/client/v3/pushrules/{scope}/"},
		{"PUT", "/_matrix/client/v3/pushrules/global/override/.m.rule%2Fx/actions", 200,
			"kind=override;ruleId=.m.rule/x;scope=global;", "/_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}/actions"},
		{"GET", "/_matrix/client/versions", 200, "", "/_matrix/client/versions"},
		{"GET", "/_matrix/client/v3/versions", 404, "M_UNRECOGNIZED", "unmatched"},
		{"POST", "/_matrix/client/versions", 405, "M_UNRECOGNIZED", "/_matrix/client/versions"},
		{"GET", "/_matrix/client/v3/user/@a:x/rooms/" + room + "/account_data/m.tag", 200,
			"roomId=" + room + ";type=m.tag;userId=@a:x;", "/_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}"},
		{"GET", "/_matrix/client/v4/login", 404, "M_UNRECOGNIZED", "unmatched"},
		{"GET", "/_matrix/client/v3//login", 404, "M_UNRECOGNIZED", "unmatched"},
		{"GET", "/_matrix/client/v3/login/", 404, "M_UNRECOGNIZED", "unmatched"},
		{"GET", "/.well-known/matrix/client", 200, "", "/.well-known/matrix/client"},
		{"POST", "/.well-known/matrix/client", 405, "M_UNRECOGNIZED", "/.well-known/matrix/client"},
		{"GET", "/_synapse/admin/v1/register", 200, "", "/_synapse/admin/v1/register"},
		{"PUT", "/_synapse/admin/v1/register", 405, "M_UNRECOGNIZED", "/_synapse/admin/v1/register"},
		// syncapi, behind FullPathRouter
		{"GET", "/_matrix/client/v3/sync", 200, "", "/_matrix/client/v3/sync"},
		{"GET", "/_matrix/client/r0/sync?since=s1", 200, "", "/_matrix/client/r0/sync"},
		{"POST", "/_matrix/client/v3/sync", 405, "M_UNRECOGNIZED", "/_matrix/client"},
		{"HEAD", "/_matrix/client/v3/sync", 405, "", "/_matrix/client"},
		{"GET", "/_matrix/client/v3/sync/", 404, "M_UNRECOGNIZED", "unmatched"},
		{"GET", "/_matrix/client/v3/rooms/" + room + "/event/$a%2Fb", 200,
			"eventId=$a/b;roomId=" + room + ";", "/_matrix/client/v3/rooms/{roomId}/event/{eventId}"},
		{"GET", "/_matrix/client/v3/rooms/!r%3Ax/context/$a%25b", 200,
			"eventId=$a%b;roomId=!r:x;", "/_matrix/client/v3/rooms/{roomId}/context/{eventId}"},
		{"DELETE", "/_matrix/client/v3/rooms/" + room + "/messages", 405, "M_UNRECOGNIZED", "/_matrix/client"},
		{"GET", "/_matrix/client/v3/rooms/" + room + "/messages/x", 404, "M_UNRECOGNIZED", "unmatched"},
		// the base's own routes and CORS
		{"GET", "/health", 200, "", "/health"},
		{"OPTIONS", "/_matrix/client/v3/rooms/" + room + "/send/m.room.message/t1", 200, "{}", "cors-preflight"},
		{"OPTIONS", "/_matrix/client/v3/nope", 200, "{}", "cors-preflight"},
		{"GET", "/nope", 404, "M_UNRECOGNIZED", "unmatched"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			label := base.ServeLabelled(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.status {
				t.Fatalf("status %d (%s), want %d", rec.Code, rec.Body, tc.status)
			}
			if got := rec.Header().Get("X-Route-Vars"); tc.status == 200 && tc.vars != "{}" && got != tc.vars {
				t.Errorf("vars %q, want %q", got, tc.vars)
			}
			if tc.status != 200 || tc.vars == "{}" {
				if !strings.Contains(rec.Body.String(), tc.vars) {
					t.Errorf("body %s, want it to hold %s", rec.Body, tc.vars)
				}
			}
			if label != tc.label {
				t.Errorf("route label %q, want %q", label, tc.label)
			}
		})
	}
}
