package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"time"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/csapi"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/signing"
)

// fedCaller sends X-Matrix signed requests, as origin with key, straight to a server's
// own TLS port (not through its front), the way any other server could.
type fedCaller struct {
	origin string
	keyID  signing.KeyID
	key    ed25519.PrivateKey
	hc     *http.Client
}

func newFedCaller(origin string, keyID signing.KeyID, key ed25519.PrivateKey) *fedCaller {
	return &fedCaller{origin: origin, keyID: keyID, key: key, hc: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}} //nolint:gosec // loopback test servers
}

// do sends method uri to addr, signed for destination (the X-Matrix destination and the
// signed JSON's), and returns the status and body.
func (f *fedCaller) do(ctx context.Context, addr, destination, method, uri string, body any) (int, []byte, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return 0, nil, err
		}
	}
	x, err := federation.RequestToSign{Method: method, URI: uri, Origin: f.origin, Destination: destination, Content: raw}.Sign(f.keyID, f.key)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, "https://"+addr+uri, bytes.NewReader(raw))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", x.String())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// forgeries sends requests to A's federation port that A must refuse, each next to the
// same request done right, which A must accept (so a refusal is the check's doing, not a
// broken request): a transaction signed as B with a key the test generated (401), one
// signed with B's real key for another destination (401), and, in a correctly signed
// transaction from B, an event of bob's whose content was changed after hashing (A must
// never serve the changed content) and one whose event signature is the test's key
// (refused in the per-PDU results, and never stored).
func (r *run) forgeries(ctx context.Context, a, b *server, alice *csapi.Client, roomID string) error {
	r.begin("forgeries: load B's signing key; generate a test key")
	cfg, err := config.Load(filepath.Join(b.dir, "axon.yaml"))
	if err != nil {
		return err
	}
	bKey, err := cfg.SigningKey()
	if err != nil {
		return err
	}
	_, testKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	asB := newFedCaller(b.name, bKey.ID, bKey.Private)
	forger := newFedCaller(b.name, bKey.ID, testKey)
	emptyTxn := func(id string) (string, map[string]any) {
		return "/_matrix/federation/v1/send/" + id, map[string]any{"origin": b.name, "origin_server_ts": time.Now().UnixMilli(), "pdus": []any{}}
	}

	r.begin("forgeries: an empty transaction signed with B's key is accepted (the control)")
	uri, body := emptyTxn("forgery-control")
	if status, out, err := asB.do(ctx, a.tlsAddr, a.name, http.MethodPut, uri, body); err != nil || status != 200 {
		return fmt.Errorf("the correctly signed request: %d %s (%v)", status, out, err)
	}
	r.begin("forgeries: the same signed with a key the test generated, under B's key ID, is 401 M_UNAUTHORIZED")
	uri, body = emptyTxn("forgery-1")
	if err := wantRefused(forger.do(ctx, a.tlsAddr, a.name, http.MethodPut, uri, body)); err != nil {
		return fmt.Errorf("forged signature: %w", err)
	}
	r.begin("forgeries: signed with B's key for another destination, it is 401 M_UNAUTHORIZED")
	uri, body = emptyTxn("forgery-2")
	if err := wantRefused(asB.do(ctx, a.tlsAddr, "127.0.0.1:1", http.MethodPut, uri, body)); err != nil {
		return fmt.Errorf("wrong destination: %w", err)
	}

	r.begin("forgeries: an event of bob@B built and signed with B's key is accepted (the control)")
	bob := "@bob:" + b.name
	build := func(body string, key ed25519.PrivateKey) (*event.Event, error) {
		return r.buildMessage(ctx, asB, a, alice, roomID, bob, body, bKey.ID, key)
	}
	good, err := build("a hand-built event", bKey.Private)
	if err != nil {
		return err
	}
	if err := r.sendPDUs(ctx, asB, a, "forgery-3", map[string]string{good.EventID(): ""}, good.JSON()); err != nil {
		return err
	}
	if err := r.eventually(r.timeout, "the hand-built event on A", func() (bool, string, error) {
		content, status, err := clientEvent(ctx, alice, roomID, good.EventID())
		return err == nil && content["body"] == "a hand-built event", fmt.Sprintf("HTTP %d, content %v", status, content), nil
	}); err != nil {
		return err
	}

	r.begin("forgeries: an event whose content was changed after hashing: A never serves the changed content")
	tampered, err := build("the original text", bKey.Private)
	if err != nil {
		return err
	}
	var obj map[string]any
	if err := json.Unmarshal(tampered.JSON(), &obj); err != nil {
		return err
	}
	obj["content"] = map[string]any{"msgtype": "m.text", "body": "TAMPERED"}
	changed, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	// The content hash no longer matches; the signature (over the redacted form) still
	// does, so the spec has A keep the event redacted (or refuse it): never with the
	// changed content. The event ID (the redacted form's hash) is the original's.
	if err := r.sendPDUs(ctx, asB, a, "forgery-4", nil, changed); err != nil {
		return err
	}
	content, status, err := clientEvent(ctx, alice, roomID, tampered.EventID())
	if err != nil {
		return err
	}
	if content["body"] == "TAMPERED" || content["body"] == "the original text" {
		return fmt.Errorf("A serves the tampered event %s with content %v (HTTP %d)", tampered.EventID(), content, status)
	}
	r.say("the tampered event: HTTP %d, content %v", status, content)

	r.begin("forgeries: an event signed with the test's key under B's key ID is refused and not stored")
	forged, err := build("a forged event", testKey)
	if err != nil {
		return err
	}
	if err := r.sendPDUs(ctx, asB, a, "forgery-5", map[string]string{forged.EventID(): "refused"}, forged.JSON()); err != nil {
		return err
	}
	if content, status, err := clientEvent(ctx, alice, roomID, forged.EventID()); err != nil || status != 404 {
		return fmt.Errorf("A serves the forged event: HTTP %d, content %v (%v)", status, content, err)
	}
	return nil
}

// wantRefused checks a 401 M_UNAUTHORIZED answer.
func wantRefused(status int, body []byte, err error) error {
	if err != nil {
		return err
	}
	var e struct {
		ErrCode string `json:"errcode"`
	}
	_ = json.Unmarshal(body, &e)
	if status != 401 || e.ErrCode != "M_UNAUTHORIZED" {
		return fmt.Errorf("want 401 M_UNAUTHORIZED, got %d %s", status, body)
	}
	return nil
}

// buildMessage builds an m.room.message of sender in roomID on top of the newest event A
// has (found as alice, its depth read over federation), with the auth events of A's
// current state, signed with key under keyID.
func (r *run) buildMessage(ctx context.Context, f *fedCaller, a *server, alice *csapi.Client, roomID, sender, body string, keyID signing.KeyID, key ed25519.PrivateKey) (*event.Event, error) {
	var page struct {
		Chunk []struct {
			EventID string `json:"event_id"`
		} `json:"chunk"`
	}
	if err := alice.Do(ctx, http.MethodGet, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/messages?dir=b&limit=1", nil, &page); err != nil {
		return nil, err
	}
	if len(page.Chunk) != 1 {
		return nil, fmt.Errorf("/messages gave %d events", len(page.Chunk))
	}
	prev := page.Chunk[0].EventID
	status, out, err := f.do(ctx, a.tlsAddr, a.name, http.MethodGet, "/_matrix/federation/v1/event/"+url.PathEscape(prev), nil)
	if err != nil {
		return nil, err
	}
	var txn struct {
		PDUs []struct {
			Depth int64 `json:"depth"`
		} `json:"pdus"`
	}
	if err := json.Unmarshal(out, &txn); err != nil || status != 200 || len(txn.PDUs) != 1 {
		return nil, fmt.Errorf("GET /event/%s: %d %.300s (%v)", prev, status, out, err)
	}
	st, err := getState(ctx, alice, roomID)
	if err != nil {
		return nil, err
	}
	version, _ := st.content("m.room.create", "")["room_version"].(string)
	if version == "" {
		version = "1"
	}
	var auth []string
	for _, k := range []string{"m.room.create\x00", "m.room.power_levels\x00", "m.room.member\x00" + sender} {
		if id := st.ids[k]; id != "" {
			auth = append(auth, id)
		}
	}
	if v, err := matrix.GetRoomVersion(matrix.RoomVersionID(version)); err == nil && v.RoomIDFromCreateEvent {
		auth = auth[1:] // v12: the create event is implied by the room ID
	}
	b := &event.Builder{Type: "m.room.message", Sender: sender, RoomID: roomID, Content: map[string]any{"msgtype": "m.text", "body": body},
		PrevEvents: []string{prev}, AuthEvents: auth, Depth: txn.PDUs[0].Depth + 1}
	return b.Build(matrix.RoomVersionID(version), f.origin, keyID, key)
}

// sendPDUs sends pdus in one transaction from f to A and checks the per-PDU results
// (want: event ID → "" for accepted, "refused" for an error; nil to check nothing).
func (r *run) sendPDUs(ctx context.Context, f *fedCaller, a *server, txnID string, want map[string]string, pdus ...[]byte) error {
	raws := make([]json.RawMessage, len(pdus))
	for i, p := range pdus {
		raws[i] = p
	}
	status, out, err := f.do(ctx, a.tlsAddr, a.name, http.MethodPut, "/_matrix/federation/v1/send/"+txnID,
		federation.Transaction{Origin: f.origin, OriginServerTS: time.Now().UnixMilli(), PDUs: raws})
	if err != nil {
		return err
	}
	if status != 200 {
		return fmt.Errorf("PUT /send: %d %s", status, out)
	}
	var res federation.SendTransactionResponse
	if err := json.Unmarshal(out, &res); err != nil {
		return err
	}
	for id, w := range want {
		got, ok := res.PDUs[id]
		switch {
		case !ok:
			return fmt.Errorf("PUT /send: no result for %s in %s", id, out)
		case w == "" && got.Error != "":
			return fmt.Errorf("PUT /send: %s refused: %s", id, got.Error)
		case w != "" && got.Error == "":
			return fmt.Errorf("PUT /send: %s accepted", id)
		}
	}
	return nil
}

// clientEvent is GET /rooms/{roomID}/event/{eventID} as c: the content, or the status of
// an error answer.
func clientEvent(ctx context.Context, c *csapi.Client, roomID, eventID string) (map[string]any, int, error) {
	var ev struct {
		Content map[string]any `json:"content"`
	}
	err := c.Do(ctx, http.MethodGet, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/event/"+url.PathEscape(eventID), nil, &ev)
	if e := (*csapi.Error)(nil); errors.As(err, &e) {
		return nil, e.Status, nil
	}
	if err != nil {
		return nil, 0, err
	}
	return ev.Content, 200, nil
}
