package routing

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog/embedded"
	"github.com/axon-matrix/axon/internal/eventlog/outbox"
	"github.com/axon-matrix/axon/internal/setup"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/mediaapi/storage"
	"github.com/axon-matrix/axon/userapi"
	uapi "github.com/axon-matrix/axon/userapi/api"
	uinthttptest "github.com/axon-matrix/axon/userapi/inthttp/inthttptest"
)

const testServer = "media.test"

// harness runs the mediaapi behind the real process base (its routers and M_UNRECOGNIZED
// fallback) with the real userapi (arrow U) on one database, handed over directly (the
// monolith) or as its inthttp client (the polylith).
type harness struct {
	t       testing.TB
	handler http.Handler
	userAPI uapi.UserAPI
	base    string // media_api.base_path
	h       *Handlers
	b       *setup.Base // its routers take more routes until the first request
}

// forEach runs fn on SQLite and Postgres, each with the userapi direct and over inthttp.
func forEach(t *testing.T, fn func(t *testing.T, newHarness func(t *testing.T, mutate ...func(*Config)) *harness)) {
	t.Helper()
	for dbName, dsn := range testenv.Databases(t) {
		for _, impl := range []string{"direct", "inthttp"} {
			t.Run(dbName+"/"+impl, func(t *testing.T) {
				fn(t, func(t *testing.T, mutate ...func(*Config)) *harness {
					t.Helper()
					return newHarness(t, impl, dsn(t), mutate...)
				})
			})
		}
	}
}

func newHarness(t testing.TB, impl, dsn string, mutate ...func(*Config)) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sdb, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sdb.Close() })
	log, err := embedded.New(ctx, sdb, embedded.Config{PollInterval: 20 * time.Millisecond, RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	uOut, err := outbox.NewOutbox(sdb, "userapi", log.Producer())
	if err != nil {
		t.Fatal(err)
	}
	var userAPI uapi.UserAPI
	userAPI, err = userapi.NewInternalAPI(sdb, testServer, uOut, "axon.account_data", userapi.WithBcryptCost(4))
	if err != nil {
		t.Fatal(err)
	}
	if impl == "inthttp" {
		userAPI = uinthttptest.Serve(t, userAPI)
	}
	mdb, err := storage.Open(ctx, sdb)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(t.TempDir(), "media")
	files, err := storage.NewFiles(base)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{ServerName: testServer, MaxUploadSize: 1 << 20, MaxPendingUploads: 2, UnusedExpiry: time.Hour}
	for _, m := range mutate {
		m(&cfg)
	}
	pcfg := config.Defaults(t.TempDir())
	pcfg.Global.Logging.Level = "error"
	b, err := setup.NewBase(pcfg, "mediaapi")
	if err != nil {
		t.Fatal(err)
	}
	h := New(cfg, mdb, files, userAPI)
	t.Cleanup(h.background.Wait) // before the database closes (cleanups run last first)
	h.Setup(setup.FullPathRouter(b.PublicClientAPIMux), setup.FullPathRouter(b.PublicMediaAPIMux))
	return &harness{t: t, handler: b.PublicHandler(), userAPI: userAPI, base: base, h: h, b: b}
}

// user creates an account of type typ and logs it in; it returns the user ID and token.
func (h *harness) user(localpart string, typ uapi.AccountType) (string, string) {
	h.t.Helper()
	ctx := context.Background()
	a, err := h.userAPI.CreateAccount(ctx, &uapi.CreateAccountRequest{Localpart: localpart, AccountType: typ})
	if err != nil {
		h.t.Fatal(err)
	}
	d, err := h.userAPI.CreateDevice(ctx, &uapi.CreateDeviceRequest{UserID: a.UserID})
	if err != nil {
		h.t.Fatal(err)
	}
	return a.UserID, d.AccessToken
}

// resp is a response, with its JSON body decoded when it has one.
type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r resp) errcode() string { s, _ := r.body["errcode"].(string); return s }

// req sends method path with body (nil: none) and the given headers ("Authorization" is
// set from token when token is not empty).
func (h *harness) req(method, path, token string, body io.Reader, headers map[string]string) resp {
	h.t.Helper()
	r := httptest.NewRequest(method, path, body)
	if body == nil {
		r.ContentLength = 0
	}
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return h.serve(r)
}

// serve sends r to the handler.
func (h *harness) serve(r *http.Request) resp {
	h.t.Helper()
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, r)
	out := resp{status: rec.Code, header: rec.Header(), raw: rec.Body.Bytes()}
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(out.raw, &out.body)
	}
	return out
}

// must fails the test unless r has status (and errcode, when given).
func (h *harness) must(r resp, status int, errcode ...string) resp {
	h.t.Helper()
	if r.status != status || (len(errcode) > 0 && r.errcode() != errcode[0]) {
		h.t.Fatalf("got %d %s, want %d %v", r.status, r.raw, status, errcode)
	}
	return r
}

// upload POSTs content and returns "serverName/mediaId" of its mxc:// URI.
func (h *harness) upload(token, contentType, fileName string, content []byte) string {
	h.t.Helper()
	path := "/_matrix/media/v3/upload"
	if fileName != "" {
		path += "?filename=" + url.QueryEscape(fileName)
	}
	r := h.must(h.req(http.MethodPost, path, token, strings.NewReader(string(content)),
		map[string]string{"Content-Type": contentType}), http.StatusOK)
	uri, _ := r.body["content_uri"].(string)
	rest, ok := strings.CutPrefix(uri, "mxc://"+testServer+"/")
	if !ok || !validMediaID(rest) {
		h.t.Fatalf("content_uri %q", uri)
	}
	return testServer + "/" + rest
}

// storedFiles counts the files under the store's sha256/ and tmp/ directories.
func (h *harness) storedFiles() (stored, tmp int) {
	h.t.Helper()
	_ = filepath.WalkDir(filepath.Join(h.base, "sha256"), func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			stored++
		}
		return nil
	})
	ents, err := os.ReadDir(filepath.Join(h.base, "tmp"))
	if err != nil {
		h.t.Fatal(err)
	}
	return stored, len(ents)
}
