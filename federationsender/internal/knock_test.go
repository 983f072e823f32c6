package internal

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix/event"
)

// knockingResident makes r answer make_knock (its make_join template as a knock) and
// send_knock (recording the knock, answering stripped state), or refuse make_knock with
// refuse.
func knockingResident(r *resident, refuse int) *json.RawMessage {
	var got json.RawMessage
	r.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		p := req.URL.Path
		switch {
		case strings.HasPrefix(p, "/_matrix/federation/v1/make_knock/"):
			if refuse != 0 {
				w.WriteHeader(refuse)
				w.Write([]byte(`{"errcode":"M_FORBIDDEN","error":"the join rule is public"}`))
				return
			}
			req.URL.Path = strings.Replace(p, "make_knock", "make_join", 1)
			rec := httptest.NewRecorder()
			r.serve(rec, req)
			var body map[string]map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["event"] == nil {
				w.WriteHeader(rec.Code)
				w.Write(rec.Body.Bytes())
				return
			}
			body["event"]["content"] = map[string]string{"membership": "knock"}
			json.NewEncoder(w).Encode(body)
		case strings.HasPrefix(p, "/_matrix/federation/v1/send_knock/"):
			json.NewDecoder(req.Body).Decode(&got)
			json.NewEncoder(w).Encode(map[string]any{"knock_room_state": []map[string]any{
				{"type": "m.room.join_rules", "state_key": "", "sender": "@alice:" + r.name, "content": map[string]string{"join_rule": "knock"}}}})
		default:
			r.serve(w, req)
		}
	})
	return &got
}

// TestPerformKnock knocks on a room of a fake resident: the knock is ours (from the
// template, signed, with the caller's reason, membership knock) and the resident's
// stripped state comes back; a refusal is M_FORBIDDEN, no server M_NOT_FOUND.
func TestPerformKnock(t *testing.T) {
	ctx := context.Background()
	r := newResident(t, "10")
	got := knockingResident(r, 0)
	a, _ := testAPI(t, r)
	user := "@bob:" + testOrigin
	resp, err := a.PerformKnock(ctx, &api.PerformKnockRequest{RoomID: r.roomID, UserID: user, ServerNames: []string{testOrigin, r.name},
		Content: json.RawMessage(`{"reason":"let me in","membership":"join"}`)})
	if err != nil {
		t.Fatal(err)
	}
	knock, err := event.NewEventFromUntrustedJSON(resp.Event, "10")
	if err != nil {
		t.Fatal(err)
	}
	var content struct{ Membership, Reason string }
	json.Unmarshal(knock.Content(), &content)
	if resp.RoomVersion != "10" || knock.Sender() != user || !knock.StateKeyEquals(user) || content.Membership != "knock" ||
		content.Reason != "let me in" || knock.PrevEventIDs()[0] != r.last.EventID() {
		t.Fatalf("knock: %s", resp.Event)
	}
	if sent, _ := event.NewEventFromUntrustedJSON(*got, "10"); sent == nil || sent.EventID() != knock.EventID() {
		t.Fatalf("the resident got %s", *got)
	}
	if len(resp.KnockRoomState) != 1 || !strings.Contains(string(resp.KnockRoomState[0]), `"knock"`) {
		t.Fatalf("knock_room_state: %s", resp.KnockRoomState)
	}

	refusing := newResident(t, "10")
	knockingResident(refusing, http.StatusForbidden)
	a2, _ := testAPI(t, refusing)
	var me *httputil.MatrixError
	if _, err := a2.PerformKnock(ctx, &api.PerformKnockRequest{RoomID: refusing.roomID, UserID: user, ServerNames: []string{refusing.name}}); !asMatrix(err, &me) || me.ErrCode != "M_FORBIDDEN" {
		t.Fatalf("refused knock: %v", err)
	}
	if _, err := a.PerformKnock(ctx, &api.PerformKnockRequest{RoomID: r.roomID, UserID: user, ServerNames: []string{testOrigin}}); !asMatrix(err, &me) || me.ErrCode != "M_NOT_FOUND" {
		t.Fatalf("no server: %v", err)
	}
	if _, err := a.PerformKnock(ctx, &api.PerformKnockRequest{RoomID: r.roomID, UserID: "@bob:elsewhere", ServerNames: []string{r.name}}); !asMatrix(err, &me) || me.ErrCode != "M_INVALID_PARAM" {
		t.Fatalf("another server's user: %v", err)
	}
}

func asMatrix(err error, me **httputil.MatrixError) bool {
	*me = httputil.AsMatrixError(err)
	return err != nil && *me != nil
}
