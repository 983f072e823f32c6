package federation

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/cjson"
	"github.com/axon-matrix/axon/matrix/federation/discovery"
	"github.com/axon-matrix/axon/matrix/signing"
)

// fakeDNS answers SRV lookups from a map "_service._tcp.name" → records.
type fakeDNS map[string][]*net.SRV

func (d fakeDNS) LookupSRV(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	if r, ok := d["_"+service+"._"+proto+"."+name]; ok {
		return "", r, nil
	}
	return "", nil, &net.DNSError{Err: "no such host", IsNotFound: true}
}

// noWellKnown is an HTTP client for discovery whose requests all fail.
var noWellKnown = &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
	return nil, errors.New("no network in tests")
})}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// loopbackDialer maps host names to loopback addresses; unknown names fail.
func loopbackDialer(hosts map[string]string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		to, ok := hosts[addr]
		if !ok {
			return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("unknown test host " + addr)}
		}
		return (&net.Dialer{}).DialContext(ctx, network, to)
	}
}

// recorded is one request the fake remote received, after X-Matrix verification.
type recorded struct {
	Method, URI, Host, Origin string
	Body                      []byte
	TLSServerName             string
}

// fakeRemote is a federation server on loopback that checks every request's X-Matrix
// signature against the origin's key and answers from a handler.
type fakeRemote struct {
	mu      sync.Mutex
	name    string // the server name requests must be addressed to
	reqs    []recorded
	handler func(w http.ResponseWriter, r recorded)
	srv     *httptest.Server
}

func newFakeRemote(t *testing.T, name string, originKey signing.SigningKey, useTLS bool) *fakeRemote {
	f := &fakeRemote{name: name}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lookup := func(_ context.Context, server string, id signing.KeyID) (ed25519.PublicKey, error) {
			if server == "origin.example" && id == originKey.ID {
				return originKey.Public(), nil
			}
			return nil, errors.New("unknown key")
		}
		f.mu.Lock()
		name := f.name
		f.mu.Unlock()
		origin, body, err := VerifyHTTPRequest(r, name, 1<<20, lookup)
		if err != nil {
			w.WriteHeader(401)
			json.NewEncoder(w).Encode(map[string]string{"errcode": "M_UNAUTHORIZED", "error": err.Error()})
			return
		}
		rec := recorded{Method: r.Method, URI: r.RequestURI, Host: r.Host, Origin: origin, Body: body}
		if r.TLS != nil {
			rec.TLSServerName = r.TLS.ServerName
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, rec)
		handler := f.handler
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		handler(w, rec)
	})
	if useTLS {
		f.srv = httptest.NewTLSServer(h)
	} else {
		f.srv = httptest.NewServer(h)
	}
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRemote) setHandler(h func(w http.ResponseWriter, r recorded)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handler = h
}

func (f *fakeRemote) last(t *testing.T) recorded {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("the remote received no request")
	}
	return f.reqs[len(f.reqs)-1]
}

func (f *fakeRemote) port() string {
	_, p, _ := net.SplitHostPort(f.srv.Listener.Addr().String())
	return p
}

// newTestClient returns a client as origin.example and a plain-HTTP remote reachable as
// "remote.example" through an SRV record whose first target refuses connections.
func newTestClient(t *testing.T) (*Client, *fakeRemote) {
	key := testKey(t, "origin")
	remote := newFakeRemote(t, "remote.example", key, false)
	dns := fakeDNS{"_matrix-fed._tcp.remote.example": {
		{Target: "down.remote.example.", Port: 1, Priority: 1},
		{Target: "up.remote.example.", Port: 8448, Priority: 2},
	}}
	resolver := discovery.New(dns, noWellKnown, discovery.Options{})
	c := NewClient("origin.example", key, resolver, ClientOptions{Transport: TransportOptions{
		Scheme:      "http",
		DialContext: loopbackDialer(map[string]string{"up.remote.example:8448": remote.srv.Listener.Addr().String()}),
	}})
	return c, remote
}

func canonical(t *testing.T, s []byte) string {
	t.Helper()
	if len(s) == 0 {
		return ""
	}
	c, err := cjson.Canonical(s, false)
	if err != nil {
		t.Fatalf("not JSON: %s", s)
	}
	return string(c)
}

func TestClientEndpoints(t *testing.T) {
	c, remote := newTestClient(t)
	ctx := context.Background()
	ev := json.RawMessage(`{"type":"m.room.member"}`)
	tests := []struct {
		name     string
		call     func() (any, error)
		method   string
		uri      string
		body     string // canonical JSON, "" for none
		response string
		want     any
	}{
		{"send", func() (any, error) {
			return c.SendTransaction(ctx, "remote.example", "txn/1", Transaction{Origin: "origin.example", OriginServerTS: 5,
				EDUs: []EDU{{Type: "m.typing", Content: json.RawMessage(`{"typing":true}`)}}})
		}, "PUT", "/_matrix/federation/v1/send/txn%2F1", `{"edus":[{"content":{"typing":true},"edu_type":"m.typing"}],"origin":"origin.example","origin_server_ts":5,"pdus":[]}`,
			`{"pdus":{"$a":{},"$b":{"error":"no"}}}`,
			SendTransactionResponse{PDUs: map[string]PDUResult{"$a": {}, "$b": {Error: "no"}}}},
		{"make_join", func() (any, error) {
			return c.MakeJoin(ctx, "remote.example", "!r:remote.example", "@u:origin.example", []matrix.RoomVersionID{"10", "11"})
		}, "GET", "/_matrix/federation/v1/make_join/%21r:remote.example/@u:origin.example?ver=10&ver=11", "",
			`{"room_version":"11","event":{"type":"m.room.member"}}`,
			MakeMembershipResponse{RoomVersion: "11", Event: ev}},
		{"send_join", func() (any, error) {
			return c.SendJoin(ctx, "remote.example", "!r:remote.example", "$e", ev, true)
		}, "PUT", "/_matrix/federation/v2/send_join/%21r:remote.example/$e?omit_members=true", `{"type":"m.room.member"}`,
			`{"origin":"remote.example","auth_chain":[],"state":[{"type":"m.room.create"}],"members_omitted":true,"servers_in_room":["remote.example"]}`,
			SendJoinResponse{Origin: "remote.example", AuthChain: []json.RawMessage{}, State: []json.RawMessage{json.RawMessage(`{"type":"m.room.create"}`)},
				MembersOmitted: true, ServersInRoom: []string{"remote.example"}}},
		{"make_leave", func() (any, error) {
			return c.MakeLeave(ctx, "remote.example", "!r:remote.example", "@u:origin.example")
		},
			"GET", "/_matrix/federation/v1/make_leave/%21r:remote.example/@u:origin.example", "",
			`{"event":{"type":"m.room.member"}}`, MakeMembershipResponse{Event: ev}},
		{"send_leave", func() (any, error) { return nil, c.SendLeave(ctx, "remote.example", "!r:remote.example", "$e", ev) },
			"PUT", "/_matrix/federation/v2/send_leave/%21r:remote.example/$e", `{"type":"m.room.member"}`, `{}`, nil},
		{"invite", func() (any, error) {
			return c.Invite(ctx, "remote.example", "!r:remote.example", "$e", InviteRequest{RoomVersion: "11", Event: ev})
		}, "PUT", "/_matrix/federation/v2/invite/%21r:remote.example/$e", `{"event":{"type":"m.room.member"},"room_version":"11"}`,
			`{"event":{"type":"m.room.member"}}`, InviteResponse{Event: ev}},
		{"backfill", func() (any, error) {
			return c.Backfill(ctx, "remote.example", "!r:remote.example", []string{"$a", "$b"}, 20)
		},
			"GET", "/_matrix/federation/v1/backfill/%21r:remote.example?limit=20&v=%24a&v=%24b", "",
			`{"origin":"remote.example","origin_server_ts":7,"pdus":[{"type":"x"}]}`,
			Transaction{Origin: "remote.example", OriginServerTS: 7, PDUs: []json.RawMessage{json.RawMessage(`{"type":"x"}`)}}},
		{"get_missing_events", func() (any, error) {
			return c.GetMissingEvents(ctx, "remote.example", "!r:remote.example", MissingEventsRequest{LatestEvents: []string{"$l"}, Limit: 5})
		}, "POST", "/_matrix/federation/v1/get_missing_events/%21r:remote.example", `{"earliest_events":[],"latest_events":["$l"],"limit":5}`,
			`{"events":[]}`, MissingEventsResponse{Events: []json.RawMessage{}}},
		{"state", func() (any, error) { return c.State(ctx, "remote.example", "!r:remote.example", "$e") },
			"GET", "/_matrix/federation/v1/state/%21r:remote.example?event_id=%24e", "",
			`{"auth_chain":[],"pdus":[]}`, StateResponse{AuthChain: []json.RawMessage{}, PDUs: []json.RawMessage{}}},
		{"state_ids", func() (any, error) { return c.StateIDs(ctx, "remote.example", "!r:remote.example", "$e") },
			"GET", "/_matrix/federation/v1/state_ids/%21r:remote.example?event_id=%24e", "",
			`{"auth_chain_ids":["$a"],"pdu_ids":["$p"]}`, StateIDsResponse{AuthChainIDs: []string{"$a"}, PDUIDs: []string{"$p"}}},
		{"event", func() (any, error) { return c.GetEvent(ctx, "remote.example", "$e/x") },
			"GET", "/_matrix/federation/v1/event/$e%2Fx", "",
			`{"origin":"remote.example","origin_server_ts":1,"pdus":[]}`, Transaction{Origin: "remote.example", OriginServerTS: 1, PDUs: []json.RawMessage{}}},
		{"event_auth", func() (any, error) { return c.EventAuth(ctx, "remote.example", "!r:remote.example", "$e") },
			"GET", "/_matrix/federation/v1/event_auth/%21r:remote.example/$e", "",
			`{"auth_chain":[]}`, EventAuthResponse{AuthChain: []json.RawMessage{}}},
		{"query directory", func() (any, error) { return c.QueryDirectory(ctx, "remote.example", "#a:remote.example") },
			"GET", "/_matrix/federation/v1/query/directory?room_alias=%23a%3Aremote.example", "",
			`{"room_id":"!r:remote.example","servers":["remote.example"]}`, DirectoryResponse{RoomID: "!r:remote.example", Servers: []string{"remote.example"}}},
		{"query profile", func() (any, error) { return c.QueryProfile(ctx, "remote.example", "@u:remote.example", "displayname") },
			"GET", "/_matrix/federation/v1/query/profile?field=displayname&user_id=%40u%3Aremote.example", "",
			`{"displayname":"U"}`, ProfileResponse{DisplayName: "U"}},
		{"user devices", func() (any, error) { return c.UserDevices(ctx, "remote.example", "@u:remote.example") },
			"GET", "/_matrix/federation/v1/user/devices/@u:remote.example", "",
			`{"user_id":"@u:remote.example","stream_id":3,"devices":[{"device_id":"D","keys":{}}]}`,
			UserDevicesResponse{UserID: "@u:remote.example", StreamID: 3, Devices: []UserDevice{{DeviceID: "D", Keys: json.RawMessage(`{}`)}}}},
		{"keys query", func() (any, error) {
			return c.QueryKeys(ctx, "remote.example", QueryKeysRequest{DeviceKeys: map[string][]string{"@u:remote.example": {}}})
		}, "POST", "/_matrix/federation/v1/user/keys/query", `{"device_keys":{"@u:remote.example":[]}}`,
			`{"device_keys":{"@u:remote.example":{"D":{"a":1}}}}`,
			QueryKeysResponse{DeviceKeys: map[string]map[string]json.RawMessage{"@u:remote.example": {"D": json.RawMessage(`{"a":1}`)}}}},
		{"keys claim", func() (any, error) {
			return c.ClaimKeys(ctx, "remote.example", ClaimKeysRequest{OneTimeKeys: map[string]map[string]string{"@u:remote.example": {"D": "signed_curve25519"}}})
		}, "POST", "/_matrix/federation/v1/user/keys/claim", `{"one_time_keys":{"@u:remote.example":{"D":"signed_curve25519"}}}`,
			`{"one_time_keys":{"@u:remote.example":{"D":{"signed_curve25519:A":{"key":"k"}}}}}`,
			ClaimKeysResponse{OneTimeKeys: map[string]map[string]map[string]json.RawMessage{"@u:remote.example": {"D": {"signed_curve25519:A": json.RawMessage(`{"key":"k"}`)}}}}},
		{"make_knock", func() (any, error) {
			return c.MakeKnock(ctx, "remote.example", "!r:remote.example", "@u:origin.example", []matrix.RoomVersionID{"7"})
		}, "GET", "/_matrix/federation/v1/make_knock/%21r:remote.example/@u:origin.example?ver=7", "",
			`{"room_version":"7","event":{"type":"m.room.member"}}`, MakeMembershipResponse{RoomVersion: "7", Event: ev}},
		{"send_knock", func() (any, error) { return c.SendKnock(ctx, "remote.example", "!r:remote.example", "$e", ev) },
			"PUT", "/_matrix/federation/v1/send_knock/%21r:remote.example/$e", `{"type":"m.room.member"}`,
			`{"knock_room_state":[]}`, SendKnockResponse{KnockRoomState: []json.RawMessage{}}},
		{"version", func() (any, error) { return c.Version(ctx, "remote.example") },
			"GET", "/_matrix/federation/v1/version", "", `{"server":{"name":"X","version":"1"}}`, nil},
		{"publicRooms GET", func() (any, error) {
			return c.PublicRooms(ctx, "remote.example", PublicRoomsRequest{Limit: 2, Since: "s", IncludeAllNetworks: true})
		}, "GET", "/_matrix/federation/v1/publicRooms?include_all_networks=true&limit=2&since=s", "",
			`{"chunk":[{"room_id":"!r:remote.example","num_joined_members":3,"guest_can_join":false,"world_readable":true}],"next_batch":"n"}`,
			PublicRoomsResponse{Chunk: []PublicRoom{{RoomID: "!r:remote.example", NumJoinedMembers: 3, WorldReadable: true}}, NextBatch: "n"}},
		{"publicRooms POST", func() (any, error) {
			return c.PublicRooms(ctx, "remote.example", PublicRoomsRequest{Limit: 2, Filter: &PublicRoomsFilter{GenericSearchTerm: "foo"}})
		}, "POST", "/_matrix/federation/v1/publicRooms", `{"filter":{"generic_search_term":"foo"},"limit":2}`,
			`{"chunk":[]}`, PublicRoomsResponse{Chunk: []PublicRoom{}}},
		{"hierarchy", func() (any, error) { return c.Hierarchy(ctx, "remote.example", "!s:remote.example", false) },
			"GET", "/_matrix/federation/v1/hierarchy/%21s:remote.example", "",
			`{"room":{"room_id":"!s:remote.example"},"children":[],"inaccessible_children":["!x:remote.example"]}`,
			HierarchyResponse{Room: json.RawMessage(`{"room_id":"!s:remote.example"}`), Children: []json.RawMessage{},
				InaccessibleChildren: []string{"!x:remote.example"}}},
		{"hierarchy suggested_only", func() (any, error) { return c.Hierarchy(ctx, "remote.example", "!s:remote.example", true) },
			"GET", "/_matrix/federation/v1/hierarchy/%21s:remote.example?suggested_only=true", "",
			`{"room":{},"children":[],"inaccessible_children":[]}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			remote.mu.Lock()
			remote.handler = func(w http.ResponseWriter, _ recorded) { io.WriteString(w, tt.response) }
			remote.mu.Unlock()
			got, err := tt.call()
			if err != nil {
				t.Fatal(err)
			}
			r := remote.last(t)
			if r.Method != tt.method || r.URI != tt.uri {
				t.Errorf("request %s %s, want %s %s", r.Method, r.URI, tt.method, tt.uri)
			}
			if r.Host != "remote.example" || r.Origin != "origin.example" {
				t.Errorf("Host %q origin %q", r.Host, r.Origin)
			}
			if b := canonical(t, r.Body); b != tt.body {
				t.Errorf("body %s, want %s", b, tt.body)
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	c, remote := newTestClient(t)
	tests := []struct {
		name       string
		status     int
		body       string
		ctype      string
		wantStatus int
		wantCode   string
	}{
		{"matrix error", 403, `{"errcode":"M_FORBIDDEN","error":"nope"}`, "application/json", 403, "M_FORBIDDEN"},
		{"incompatible version", 400, `{"errcode":"M_INCOMPATIBLE_ROOM_VERSION","error":"x","room_version":"3"}`, "application/json", 400, "M_INCOMPATIBLE_ROOM_VERSION"},
		{"plain text error", 502, `bad gateway`, "text/plain", 502, ""},
		{"bad JSON on 200", 200, `{"room_id":`, "application/json", 0, ""},
		{"HTML on 200", 200, `<html>`, "text/html", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			remote.mu.Lock()
			remote.handler = func(w http.ResponseWriter, _ recorded) {
				w.Header().Set("Content-Type", tt.ctype)
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}
			remote.mu.Unlock()
			_, err := c.QueryDirectory(context.Background(), "remote.example", "#a:remote.example")
			if err == nil {
				t.Fatal("no error")
			}
			var he *HTTPError
			if tt.wantStatus == 0 {
				if errors.As(err, &he) {
					t.Fatalf("got HTTPError %v for a 200", he)
				}
				return
			}
			if !errors.As(err, &he) || he.StatusCode != tt.wantStatus || he.ErrCode != tt.wantCode {
				t.Fatalf("err = %#v", err)
			}
			if tt.wantCode == "M_INCOMPATIBLE_ROOM_VERSION" && !strings.Contains(string(he.Body), `"room_version":"3"`) {
				t.Fatalf("body not kept: %s", he.Body)
			}
		})
	}
}

func TestClientTimeoutAndUnreachable(t *testing.T) {
	c, remote := newTestClient(t)
	release := make(chan struct{})
	defer close(release)
	remote.setHandler(func(w http.ResponseWriter, _ recorded) { <-release })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := c.QueryProfile(ctx, "remote.example", "@u:remote.example", ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("context deadline not honoured")
	}
	if _, err := c.QueryProfile(context.Background(), "nowhere.example", "@u:nowhere.example", ""); err == nil || !strings.Contains(err.Error(), "no address") {
		t.Fatalf("unreachable server: %v", err)
	}
}

func TestClientTLSAndSNI(t *testing.T) {
	key := testKey(t, "origin")
	// httptest's certificate is valid for example.com and 127.0.0.1.
	remote := newFakeRemote(t, "", key, true)
	name := "example.com:" + remote.port()
	remote.mu.Lock()
	remote.name = name
	remote.mu.Unlock()
	remote.setHandler(func(w http.ResponseWriter, _ recorded) { io.WriteString(w, `{"displayname":"T"}`) })
	roots := remote.srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	resolver := discovery.New(fakeDNS{}, noWellKnown, discovery.Options{})
	c := NewClient("origin.example", key, resolver, ClientOptions{Transport: TransportOptions{
		TLSConfig:   &tls.Config{RootCAs: roots},
		DialContext: loopbackDialer(map[string]string{name: remote.srv.Listener.Addr().String()}),
	}})
	got, err := c.QueryProfile(context.Background(), name, "@u:example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	r := remote.last(t)
	if got.DisplayName != "T" || r.TLSServerName != "example.com" || r.Host != name {
		t.Fatalf("got %+v, SNI %q, Host %q", got, r.TLSServerName, r.Host)
	}
	// A certificate that does not cover the name is refused.
	bad := "other.example:" + remote.port()
	c = NewClient("origin.example", key, resolver, ClientOptions{Transport: TransportOptions{
		TLSConfig:   &tls.Config{RootCAs: roots},
		DialContext: loopbackDialer(map[string]string{bad: remote.srv.Listener.Addr().String()}),
	}})
	if _, err := c.QueryProfile(context.Background(), bad, "@u:other.example", ""); err == nil {
		t.Fatal("certificate for the wrong name accepted")
	}
}
