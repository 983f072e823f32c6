package routing

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/signing"
	skapi "github.com/axon-matrix/axon/serverkeyapi/api"
)

const us = "us.example"

// fakeKeys is a serverkeyapi that knows a fixed set of remote keys and records queries.
type fakeKeys struct {
	own     signing.SigningKey
	remote  map[string]skapi.PublicKey // "server|keyID"
	queries []*skapi.QueryKeysRequest
}

func (f *fakeKeys) ServerKeys(context.Context) (json.RawMessage, error) {
	body, _ := json.Marshal(map[string]any{"server_name": us, "valid_until_ts": time.Now().Add(time.Hour).UnixMilli(),
		"verify_keys": map[string]any{string(f.own.ID): map[string]string{"key": signing.EncodeBase64(f.own.Public())}}})
	return signing.SignJSON(us, f.own.ID, f.own.Private, body)
}

func (f *fakeKeys) QueryKeys(_ context.Context, req *skapi.QueryKeysRequest) (*skapi.QueryKeysResponse, error) {
	if _, bad := req.ServerKeys["refused.example"]; bad {
		return nil, httputil.InvalidParam("refused")
	}
	f.queries = append(f.queries, req)
	return &skapi.QueryKeysResponse{ServerKeys: []json.RawMessage{json.RawMessage(`{"server_name":"x"}`)}}, nil
}

func (f *fakeKeys) FetchKeys(_ context.Context, req *skapi.FetchKeysRequest) (*skapi.FetchKeysResponse, error) {
	out := &skapi.FetchKeysResponse{}
	for _, k := range req.Keys {
		if pk, ok := f.remote[k.ServerName+"|"+k.KeyID]; ok {
			out.Keys = append(out.Keys, pk)
		}
	}
	return out, nil
}

func (f *fakeKeys) VerifyJSON(context.Context, *skapi.VerifyJSONRequest) (*skapi.VerifyJSONResponse, error) {
	return nil, httputil.Unknown("not used")
}

type testEnv struct {
	srv    *httptest.Server
	keys   *fakeKeys
	remote signing.SigningKey // current key of remote.example
	old    signing.SigningKey // replaced key of remote.example
}

// newEnv serves Setup's routes and, as a stand-in for the endpoints to come, an
// authenticated echo at /_matrix/federation/v1/test/{x} that answers the origin and body.
func newEnv(t *testing.T) *testEnv {
	own, _ := signing.GenerateKey("own", nil)
	remote, _ := signing.GenerateKey("cur", nil)
	old, _ := signing.GenerateKey("old", nil)
	e := &testEnv{keys: &fakeKeys{own: own, remote: map[string]skapi.PublicKey{
		"remote.example|" + string(remote.ID): {ServerName: "remote.example", KeyID: string(remote.ID),
			Key: signing.EncodeBase64(remote.Public()), ValidUntilTS: time.Now().Add(time.Hour).UnixMilli()},
		"remote.example|" + string(old.ID): {ServerName: "remote.example", KeyID: string(old.ID),
			Key: signing.EncodeBase64(old.Public()), ValidUntilTS: time.Now().Add(time.Hour).UnixMilli(), Expired: true},
	}}, remote: remote, old: old}
	root := mux.NewRouter()
	root.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httputil.WriteError(w, httputil.Unrecognized(http.StatusNotFound))
	})
	root.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httputil.WriteError(w, httputil.Unrecognized(http.StatusMethodNotAllowed))
	})
	cfg := Config{ServerName: us, MaxBodyBytes: 1024}
	root.Handle("/_matrix/federation/v1/test/{x}", Authenticate(cfg, e.keys, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		httputil.WriteJSON(w, http.StatusOK, map[string]any{"origin": Origin(r.Context()), "body": string(body)})
	}))).Methods(http.MethodGet, http.MethodPut)
	Setup(root, root, cfg, e.keys)
	e.srv = httptest.NewServer(root)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *testEnv) do(t *testing.T, method, path string, body []byte, auth ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	for _, a := range auth {
		req.Header.Add("Authorization", a)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestKeyEndpoints(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/_matrix/key/v2/server", "/_matrix/key/v2/server/ed25519:own"} {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		k, err := federation.ParseServerKeys(raw)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || err != nil || k.VerifySelfSigned() != nil || k.ServerName != us {
			t.Fatalf("%s: %d %s %v", path, resp.StatusCode, raw, err)
		}
	}
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
		want                     *skapi.QueryKeysRequest
	}{
		{"get query", "GET", "/_matrix/key/v2/query/remote.example?minimum_valid_until_ts=1234", "", 200, "",
			&skapi.QueryKeysRequest{ServerKeys: map[string]map[string]skapi.KeyCriteria{"remote.example": {}}, MinimumValidUntilTS: 1234}},
		{"get query, no criteria", "GET", "/_matrix/key/v2/query/remote.example:8448", "", 200, "",
			&skapi.QueryKeysRequest{ServerKeys: map[string]map[string]skapi.KeyCriteria{"remote.example:8448": {}}}},
		{"post query", "POST", "/_matrix/key/v2/query", `{"server_keys":{"a.example":{"ed25519:x":{"minimum_valid_until_ts":5}},"b.example":{}}}`, 200, "",
			&skapi.QueryKeysRequest{ServerKeys: map[string]map[string]skapi.KeyCriteria{"a.example": {"ed25519:x": {MinimumValidUntilTS: 5}}, "b.example": {}}}},
		{"post null criteria", "POST", "/_matrix/key/v2/query", `{"server_keys":{"b.example":null}}`, 200, "",
			&skapi.QueryKeysRequest{ServerKeys: map[string]map[string]skapi.KeyCriteria{"b.example": {}}}},
		{"bad server name", "GET", "/_matrix/key/v2/query/bad%20name", "", 400, "M_INVALID_PARAM", nil},
		{"bad minimum", "GET", "/_matrix/key/v2/query/remote.example?minimum_valid_until_ts=soon", "", 400, "M_INVALID_PARAM", nil},
		{"not json", "POST", "/_matrix/key/v2/query", `{`, 400, "M_NOT_JSON", nil},
		{"missing server_keys", "POST", "/_matrix/key/v2/query", `{}`, 400, "M_MISSING_PARAM", nil},
		{"wrong method", "POST", "/_matrix/key/v2/server", "", 405, "M_UNRECOGNIZED", nil},
		{"error of the serverkeyapi", "POST", "/_matrix/key/v2/query", `{"server_keys":{"refused.example":{}}}`, 400, "M_INVALID_PARAM", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := len(e.keys.queries)
			status, body := e.do(t, tc.method, tc.path, []byte(tc.body))
			if status != tc.status || (tc.code != "" && body["errcode"] != tc.code) {
				t.Fatalf("%d %v, want %d %s", status, body, tc.status, tc.code)
			}
			if tc.want != nil {
				if len(e.keys.queries) != n+1 {
					t.Fatal("no query reached the serverkeyapi")
				}
				got, _ := json.Marshal(e.keys.queries[n])
				want, _ := json.Marshal(tc.want)
				if string(got) != string(want) {
					t.Fatalf("query %s, want %s", got, want)
				}
				if _, ok := body["server_keys"].([]any); !ok {
					t.Fatalf("answer %v", body)
				}
			}
		})
	}
}

func TestVersionAndUnknown(t *testing.T) {
	e := newEnv(t)
	status, body := e.do(t, "GET", "/_matrix/federation/v1/version", nil)
	server, _ := body["server"].(map[string]any)
	if status != 200 || server["name"] != "Axon" || server["version"] == "" {
		t.Fatalf("version: %d %v", status, body)
	}
	for _, path := range []string{"/_matrix/federation/v1/send/1", "/_matrix/federation/v2/invite/!r:x/$e", "/_matrix/key/v3/server"} {
		if status, body := e.do(t, "PUT", path, []byte(`{}`)); status != 404 || body["errcode"] != "M_UNRECOGNIZED" {
			t.Errorf("%s: %d %v", path, status, body)
		}
	}
}

// TestAuthenticate signs requests the way a remote server does and breaks one part at a
// time.
func TestAuthenticate(t *testing.T) {
	e := newEnv(t)
	sign := func(key signing.SigningKey, method, uri, origin, dest string, body []byte) string {
		x, err := federation.RequestToSign{Method: method, URI: uri, Origin: origin, Destination: dest, Content: body}.Sign(key.ID, key.Private)
		if err != nil {
			t.Fatal(err)
		}
		return x.String()
	}
	other, _ := signing.GenerateKey("cur", nil) // same key ID as remote's current key, other key
	const uri = "/_matrix/federation/v1/test/a?b=c"
	body := []byte(`{"hello":"world"}`)
	good := sign(e.remote, "PUT", uri, "remote.example", us, body)
	big := []byte(`{"x":"` + strings.Repeat("a", 2000) + `"}`)
	tests := []struct {
		name   string
		method string
		body   []byte
		auth   []string
		status int
		code   string
	}{
		{"valid", "PUT", body, []string{good}, 200, ""},
		{"valid GET without body", "GET", nil, []string{sign(e.remote, "GET", uri, "remote.example", us, nil)}, 200, ""},
		{"valid without destination (pre-1.3 senders)", "PUT", body,
			[]string{strings.Replace(good, `destination="us.example",`, "", 1)}, 200, ""},
		{"no header", "PUT", body, nil, 401, "M_UNAUTHORIZED"},
		{"wrong destination", "PUT", body, []string{sign(e.remote, "PUT", uri, "remote.example", "other.example", body)}, 401, "M_UNAUTHORIZED"},
		{"forged signature", "PUT", body, []string{sign(other, "PUT", uri, "remote.example", us, body)}, 401, "M_UNAUTHORIZED"},
		{"tampered body", "PUT", []byte(`{"hello":"there"}`), []string{good}, 401, "M_UNAUTHORIZED"},
		{"other method", "GET", body, []string{good}, 401, "M_UNAUTHORIZED"},
		{"replaced key", "PUT", body, []string{sign(e.old, "PUT", uri, "remote.example", us, body)}, 401, "M_UNAUTHORIZED"},
		{"unknown origin", "PUT", body, []string{sign(e.remote, "PUT", uri, "stranger.example", us, body)}, 401, "M_UNAUTHORIZED"},
		{"malformed origin", "PUT", body, []string{sign(e.remote, "PUT", uri, "bad origin!", us, body)}, 401, "M_UNAUTHORIZED"},
		{"two origins", "PUT", body, []string{good, sign(e.remote, "PUT", uri, "stranger.example", us, body)}, 401, "M_UNAUTHORIZED"},
		{"garbage header", "PUT", body, []string{"X-Matrix nonsense"}, 401, "M_UNAUTHORIZED"},
		{"body not JSON", "PUT", []byte(`{nope`), []string{good}, 400, "M_NOT_JSON"},
		{"body too large", "PUT", big, []string{sign(e.remote, "PUT", uri, "remote.example", us, big)}, 413, "M_TOO_LARGE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, out := e.do(t, tc.method, uri, tc.body, tc.auth...)
			if status != tc.status || (tc.code != "" && out["errcode"] != tc.code) {
				t.Fatalf("%d %v, want %d %s", status, out, tc.status, tc.code)
			}
			if tc.status == 200 && (out["origin"] != "remote.example" || out["body"] != string(tc.body)) {
				t.Fatalf("handler saw %v", out)
			}
		})
	}
}
