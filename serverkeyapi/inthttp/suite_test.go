package inthttp

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/federation/discovery"
	"github.com/axon-matrix/axon/matrix/signing"
	"github.com/axon-matrix/axon/serverkeyapi"
	"github.com/axon-matrix/axon/serverkeyapi/api"
	"github.com/axon-matrix/axon/serverkeyapi/storage"
)

const secret = "0123456789abcdef-serverkeyapi"

// keyServer is a remote server on loopback, named "127.0.0.1:PORT", serving its own
// serverkeyapi's /_matrix/key/v2/server and notary /_matrix/key/v2/query (as the
// federationapi does); fetches counts the GETs of its own keys.
type keyServer struct {
	name    string
	api     api.ServerKeyAPI
	key     signing.SigningKey
	fetches atomic.Int64
	srv     *httptest.Server
}

func newKeyServer(t *testing.T, dsn string, dial dialFunc, notaries ...serverkeyapi.Notary) *keyServer {
	t.Helper()
	ks := &keyServer{}
	ks.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/_matrix/key/v2/server":
			ks.fetches.Add(1)
			raw, err := ks.api.ServerKeys(r.Context())
			if err != nil {
				httputil.WriteError(w, err)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(raw)
		case r.Method == http.MethodPost && r.URL.Path == "/_matrix/key/v2/query":
			var req api.QueryKeysRequest
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				httputil.WriteError(w, httputil.BadJSON("%v", err))
				return
			}
			resp, err := ks.api.QueryKeys(r.Context(), &req)
			if err != nil {
				httputil.WriteError(w, err)
				return
			}
			httputil.WriteJSON(w, http.StatusOK, resp)
		default:
			httputil.WriteError(w, httputil.Unrecognized(http.StatusNotFound))
		}
	}))
	t.Cleanup(ks.srv.Close)
	ks.name = ks.srv.Listener.Addr().String()
	ks.api, ks.key = newAPI(t, dsn, ks.name, nil, dial, notaries...)
	return ks
}

type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// refusing dials like allow but refuses the given addresses (a server this one cannot
// reach, which a notary can).
func refusing(addrs ...string) dialFunc {
	allow := federation.PublicDialer(true)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		for _, a := range addrs {
			if a == addr {
				return nil, errors.New("unreachable in this test")
			}
		}
		return allow(ctx, network, addr)
	}
}

// newAPI opens a serverkeyapi for name on dsn signing with key (a new one when nil), whose
// outbound requests use dial over plain HTTP.
func newAPI(t *testing.T, dsn, name string, key *signing.SigningKey, dial dialFunc, notaries ...serverkeyapi.Notary) (api.ServerKeyAPI, signing.SigningKey) {
	t.Helper()
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if key == nil {
		k, err := signing.GenerateKey(fmt.Sprintf("k%d", time.Now().UnixNano()%1e6), nil)
		if err != nil {
			t.Fatal(err)
		}
		key = &k
	}
	client := federation.NewClient(name, *key, discovery.New(nil, nil, discovery.Options{WellKnownScheme: "http"}),
		federation.ClientOptions{Transport: federation.TransportOptions{Scheme: "http", DialContext: dial}, Timeout: 5 * time.Second})
	a, err := serverkeyapi.NewInternalAPI(context.Background(), db, serverkeyapi.Config{ServerName: name, Key: *key,
		ValidityPeriod: time.Hour, Client: client, Notaries: notaries, MinFetchInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return a, *key
}

// serve puts a behind AddRoutes on an httptest server and returns a Client of it.
func serve(t *testing.T, a api.ServerKeyAPI) api.ServerKeyAPI {
	t.Helper()
	root := mux.NewRouter()
	AddRoutes(root.PathPrefix(inthttp.PathPrefix).Subrouter(), a)
	srv := httptest.NewServer(inthttp.RequireSecret(secret, root))
	t.Cleanup(srv.Close)
	return NewClient(srv.URL, secret, inthttp.WithHTTPClient(srv.Client()))
}

// each runs fn over SQLite and Postgres, on the direct implementation and over inthttp.
func each(t *testing.T, fn func(t *testing.T, dsn func(*testing.T) string, wrap func(api.ServerKeyAPI) api.ServerKeyAPI)) {
	for dbName, dsn := range testenv.Databases(t) {
		for _, mode := range []string{"direct", "inthttp"} {
			t.Run(dbName+"/"+mode, func(t *testing.T) {
				wrap := func(a api.ServerKeyAPI) api.ServerKeyAPI { return a }
				if mode == "inthttp" {
					wrap = func(a api.ServerKeyAPI) api.ServerKeyAPI { return serve(t, a) }
				}
				fn(t, dsn, wrap)
			})
		}
	}
}

func parseKeys(t *testing.T, raw []byte) *federation.ServerKeys {
	t.Helper()
	k, err := federation.ParseServerKeys(raw)
	if err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	if err := k.VerifySelfSigned(); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	return k
}

// TestServerKeysAndRotation: the response is self-signed with the current key, valid for
// the configured period; after a key change the replaced key is in old_verify_keys, with
// the configured old keys.
func TestServerKeysAndRotation(t *testing.T) {
	each(t, func(t *testing.T, dsn func(*testing.T) string, wrap func(api.ServerKeyAPI) api.ServerKeyAPI) {
		ctx := context.Background()
		d := dsn(t)
		first, k1 := newAPI(t, d, "s.example", nil, federation.PublicDialer(false))
		before := time.Now().UnixMilli()
		raw, err := wrap(first).ServerKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := parseKeys(t, raw)
		if got.ServerName != "s.example" || len(got.VerifyKeys) != 1 || !bytes.Equal(k1.Public(), got.VerifyKeys[k1.ID].Key) ||
			len(got.OldVerifyKeys) != 0 || got.ValidUntilTS < before+3600_000-1000 || got.ValidUntilTS > time.Now().UnixMilli()+3600_000 {
			t.Fatalf("first keys: %s", raw)
		}
		// Restart with a new key and one configured old key on the same database.
		k2, _ := signing.GenerateKey("second", nil)
		k0, _ := signing.GenerateKey("zero", nil)
		db, err := sqlutil.Open(sqlutil.Options{ConnectionString: d})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		second, err := serverkeyapi.NewInternalAPI(ctx, db, serverkeyapi.Config{ServerName: "s.example", Key: k2,
			ValidityPeriod: time.Hour, Client: federation.NewClient("s.example", k2, discovery.New(nil, nil, discovery.Options{}), federation.ClientOptions{}),
			OldKeys: []storage.OwnKey{{KeyID: string(k0.ID), PublicKey: k0.Public(), ExpiredTS: 5}}})
		if err != nil {
			t.Fatal(err)
		}
		raw, err = wrap(second).ServerKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = parseKeys(t, raw)
		old1, old0 := got.OldVerifyKeys[k1.ID], got.OldVerifyKeys[k0.ID]
		if _, ok := got.VerifyKeys[k2.ID]; !ok || len(got.VerifyKeys) != 1 || len(got.OldVerifyKeys) != 2 ||
			!bytes.Equal(k1.Public(), old1.Key) || old1.ExpiredTS < before || !bytes.Equal(k0.Public(), old0.Key) || old0.ExpiredTS != 5 {
			t.Fatalf("after rotation: %s", raw)
		}
		// This server's own keys are answered without the network, old ones marked.
		fk, err := wrap(second).FetchKeys(ctx, &api.FetchKeysRequest{Keys: []api.KeyRequest{
			{ServerName: "s.example", KeyID: string(k2.ID)}, {ServerName: "s.example", KeyID: string(k1.ID)}}})
		if err != nil || len(fk.Keys) != 2 {
			t.Fatalf("own FetchKeys: %+v %v", fk, err)
		}
		for _, k := range fk.Keys {
			if k.Expired != (k.KeyID == string(k1.ID)) {
				t.Fatalf("own keys: %+v", fk.Keys)
			}
		}
	})
}

// TestFetchAndVerify fetches a remote server's keys directly, verifies JSON signed by it,
// serves them from the cache (and after a restart, from the database), and refuses a
// loopback destination unless private destinations are allowed.
func TestFetchAndVerify(t *testing.T) {
	each(t, func(t *testing.T, dsn func(*testing.T) string, wrap func(api.ServerKeyAPI) api.ServerKeyAPI) {
		ctx := context.Background()
		remote := newKeyServer(t, dsn(t), federation.PublicDialer(true))
		d := dsn(t)
		local, _ := newAPI(t, d, "local.example", nil, federation.PublicDialer(true))
		a := wrap(local)
		req := &api.FetchKeysRequest{Keys: []api.KeyRequest{{ServerName: remote.name, KeyID: string(remote.key.ID), MinimumValidUntilTS: time.Now().UnixMilli()}}}
		got, err := a.FetchKeys(ctx, req)
		if err != nil || len(got.Keys) != 1 || got.Keys[0].Key != signing.EncodeBase64(remote.key.Public()) || got.Keys[0].Expired {
			t.Fatalf("FetchKeys = %+v, %v", got, err)
		}
		signed, err := signing.SignJSON(remote.name, remote.key.ID, remote.key.Private, []byte(`{"hello":"world"}`))
		if err != nil {
			t.Fatal(err)
		}
		tampered := strings.Replace(string(signed), "world", "there", 1)
		other, _ := signing.GenerateKey("other", nil)
		forged, _ := signing.SignJSON(remote.name, other.ID, other.Private, []byte(`{"a":1}`))
		vr, err := a.VerifyJSON(ctx, &api.VerifyJSONRequest{Objects: []api.SignedObject{
			{ServerName: remote.name, Object: signed},
			{ServerName: remote.name, Object: json.RawMessage(tampered)},
			{ServerName: remote.name, Object: forged},
			{ServerName: "local.example", Object: signed},                                               // not signed by that server
			{ServerName: remote.name, Object: signed, AtTS: time.Now().Add(48 * time.Hour).UnixMilli()}, // key not valid then
			{ServerName: "bad name!", Object: signed},
			{ServerName: remote.name, Object: json.RawMessage(`not json`)},
		}})
		if err != nil {
			t.Fatal(err)
		}
		wantOK := []bool{true, false, false, false, false, false, false}
		if len(vr.Results) != len(wantOK) {
			t.Fatalf("results %q", vr.Results)
		}
		for i, ok := range wantOK {
			if (vr.Results[i] == "") != ok {
				t.Errorf("object %d: result %q, want ok=%v", i, vr.Results[i], ok)
			}
		}
		// Cached: no new fetch, also after a restart on the same database with the
		// remote down.
		n := remote.fetches.Load()
		if _, err := a.FetchKeys(ctx, req); err != nil || remote.fetches.Load() != n {
			t.Fatalf("second FetchKeys fetched again (%d → %d), %v", n, remote.fetches.Load(), err)
		}
		remote.srv.Close()
		restarted, _ := newAPI(t, d, "local.example", nil, federation.PublicDialer(true))
		got, err = wrap(restarted).FetchKeys(ctx, req)
		if err != nil || len(got.Keys) != 1 {
			t.Fatalf("after restart: %+v, %v", got, err)
		}
		// Bad requests.
		for _, k := range []api.KeyRequest{{ServerName: "a b", KeyID: "ed25519:a"}, {ServerName: "x.example", KeyID: "rsa:1"}} {
			_, err := a.FetchKeys(ctx, &api.FetchKeysRequest{Keys: []api.KeyRequest{k}})
			var me *httputil.MatrixError
			if !errors.As(err, &me) || me.ErrCode != "M_INVALID_PARAM" || me.Status != 400 {
				t.Errorf("FetchKeys(%+v): %v, want 400 M_INVALID_PARAM", k, err)
			}
		}
	})
}

// TestPrivateDestinationRefused: with the default guard, a server name on loopback is
// never contacted.
func TestPrivateDestinationRefused(t *testing.T) {
	each(t, func(t *testing.T, dsn func(*testing.T) string, wrap func(api.ServerKeyAPI) api.ServerKeyAPI) {
		ctx := context.Background()
		remote := newKeyServer(t, dsn(t), federation.PublicDialer(true))
		local, _ := newAPI(t, dsn(t), "local.example", nil, federation.PublicDialer(false))
		got, err := wrap(local).FetchKeys(ctx, &api.FetchKeysRequest{Keys: []api.KeyRequest{{ServerName: remote.name, KeyID: string(remote.key.ID)}}})
		if err != nil || len(got.Keys) != 0 || remote.fetches.Load() != 0 {
			t.Fatalf("FetchKeys = %+v, %v; %d fetches", got, err, remote.fetches.Load())
		}
		q, err := wrap(local).QueryKeys(ctx, &api.QueryKeysRequest{ServerKeys: map[string]map[string]api.KeyCriteria{remote.name: {}}})
		if err != nil || len(q.ServerKeys) != 0 || remote.fetches.Load() != 0 {
			t.Fatalf("QueryKeys = %+v, %v; %d fetches", q, err, remote.fetches.Load())
		}
	})
}

// TestNotary: the server under test cannot reach "target" but a configured notary can:
// its keys come through the notary (both signatures checked). The server under test is a
// notary itself: its answers carry the target's signature and its own, for its own name
// too, and a request for a later validity refreshes from the target.
func TestNotary(t *testing.T) {
	each(t, func(t *testing.T, dsn func(*testing.T) string, wrap func(api.ServerKeyAPI) api.ServerKeyAPI) {
		ctx := context.Background()
		target := newKeyServer(t, dsn(t), federation.PublicDialer(true))
		notary := newKeyServer(t, dsn(t), federation.PublicDialer(true))
		local, lkey := newAPI(t, dsn(t), "local.example", nil, refusing(target.name),
			serverkeyapi.Notary{ServerName: notary.name, Keys: pinKeys(notary.key)})
		a := wrap(local)
		got, err := a.FetchKeys(ctx, &api.FetchKeysRequest{Keys: []api.KeyRequest{{ServerName: target.name, KeyID: string(target.key.ID)}}})
		if err != nil || len(got.Keys) != 1 || got.Keys[0].Key != signing.EncodeBase64(target.key.Public()) {
			t.Fatalf("through the notary: %+v, %v", got, err)
		}
		if target.fetches.Load() != 1 { // by the notary, not by us
			t.Fatalf("target fetched %d times", target.fetches.Load())
		}
		// A notary whose pinned key is wrong is not believed.
		wrong, _ := signing.GenerateKey("wrong", nil)
		distrust, _ := newAPI(t, dsn(t), "local2.example", nil, refusing(target.name),
			serverkeyapi.Notary{ServerName: notary.name, Keys: pinKeys(wrong)})
		got, err = wrap(distrust).FetchKeys(ctx, &api.FetchKeysRequest{Keys: []api.KeyRequest{{ServerName: target.name, KeyID: string(target.key.ID)}}})
		if err != nil || len(got.Keys) != 0 {
			t.Fatalf("notary with a wrong pinned key: %+v, %v", got, err)
		}

		// As a notary: we can reach the notary server "notary" directly.
		q, err := a.QueryKeys(ctx, &api.QueryKeysRequest{ServerKeys: map[string]map[string]api.KeyCriteria{
			notary.name:     {},
			"local.example": {},
		}})
		if err != nil || len(q.ServerKeys) != 2 {
			t.Fatalf("QueryKeys = %+v, %v", q, err)
		}
		for _, raw := range q.ServerKeys {
			k := parseKeys(t, raw)
			if err := k.VerifySignedBy("local.example", pinKeys(lkey)); err != nil {
				t.Fatalf("not countersigned: %v\n%s", err, raw)
			}
		}
		// A later minimum validity than stored refreshes from the server; the answer is
		// still what the server signed.
		n := notary.fetches.Load()
		q, err = a.QueryKeys(ctx, &api.QueryKeysRequest{ServerKeys: map[string]map[string]api.KeyCriteria{
			notary.name: {string(notary.key.ID): {MinimumValidUntilTS: time.Now().Add(2 * time.Hour).UnixMilli()}}}})
		if err != nil || len(q.ServerKeys) != 1 || notary.fetches.Load() != n+1 {
			t.Fatalf("refresh: %+v, %v, fetches %d → %d", q, err, n, notary.fetches.Load())
		}
		// Unknown key IDs of a reachable server: nothing to pass on. Bad names: 400.
		q, err = a.QueryKeys(ctx, &api.QueryKeysRequest{ServerKeys: map[string]map[string]api.KeyCriteria{notary.name: {"ed25519:nope": {}}}})
		if err != nil || len(q.ServerKeys) != 0 {
			t.Fatalf("unknown key: %+v, %v", q, err)
		}
		for _, bad := range []map[string]map[string]api.KeyCriteria{{"a b": {}}, {notary.name: {"rsa:x": {}}}, {notary.name: {"ed25519:a": {MinimumValidUntilTS: -1}}}} {
			_, err := a.QueryKeys(ctx, &api.QueryKeysRequest{ServerKeys: bad})
			var me *httputil.MatrixError
			if !errors.As(err, &me) || me.ErrCode != "M_INVALID_PARAM" {
				t.Errorf("QueryKeys(%v): %v, want M_INVALID_PARAM", bad, err)
			}
		}
	})
}

func pinKeys(k signing.SigningKey) map[signing.KeyID]ed25519.PublicKey {
	return map[signing.KeyID]ed25519.PublicKey{k.ID: k.Public()}
}
