package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/inthttp/polylith/processtest"
)

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
		bind string
	}{
		{[]string{"-server", "https://matrix.example.org"}, true, "127.0.0.1:8009"},
		{[]string{"-server", "http://127.0.0.1:8008", "-http-bind", "127.0.0.1:9000", "-db", "postgres://x@y/z"}, true, "127.0.0.1:9000"},
		{[]string{}, false, ""},
		{[]string{"-server", "ftp://example.org"}, false, ""},
		{[]string{"-server", "matrix.example.org"}, false, ""},
		{[]string{"-server", "https://example.org", "extra"}, false, ""},
	} {
		o, err := parseFlags(tc.args, io.Discard)
		if (err == nil) != tc.ok {
			t.Errorf("%v: %v, want ok %v", tc.args, err, tc.ok)
			continue
		}
		if tc.ok && o.httpBind != tc.bind {
			t.Errorf("%v: bind %q, want %q", tc.args, o.httpBind, tc.bind)
		}
	}
	if code := run([]string{"-server", "gopher://x"}, io.Discard); code != 2 {
		t.Fatalf("a bad upstream: exit %d, want 2", code)
	}
}

// TestBinary runs the binary in front of a stand-in upstream: other paths pass through
// unchanged (with the client's headers), POST /sync with a token the upstream refuses gets
// the upstream's 401, and SIGTERM ends it cleanly.
func TestBinary(t *testing.T) {
	bin := processtest.Build(t, ".", "axon-syncv3-proxy")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			fmt.Fprint(w, "ok")
		case "/_matrix/client/v3/account/whoami":
			w.WriteHeader(401)
			fmt.Fprint(w, `{"errcode":"M_UNKNOWN_TOKEN","error":"Unknown token"}`)
		default:
			w.Header().Set("X-Upstream", "yes")
			fmt.Fprintf(w, `{"path":%q,"auth":%q,"method":%q}`, r.URL.RequestURI(), r.Header.Get("Authorization"), r.Method)
		}
	}))
	defer up.Close()
	port := processtest.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	p := processtest.Start(t, bin, port, "-server", up.URL, "-http-bind", fmt.Sprintf("127.0.0.1:%d", port),
		"-db", "file:"+filepath.Join(t.TempDir(), "p.db"))
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/_matrix/client/v3/sync?since=s1", `"path":"/_matrix/client/v3/sync?since=s1"`},
		{"PUT", "/_matrix/client/v3/rooms/%21r:t/send/m.room.message/1", `"method":"PUT"`},
		{"GET", "/_matrix/media/v3/config", `"auth":"Bearer tok"`},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer tok")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("X-Upstream") != "yes" || !strings.Contains(string(b), tc.want) {
			t.Fatalf("%s %s: %d %s", tc.method, tc.path, res.StatusCode, b)
		}
	}
	req, _ := http.NewRequest("POST", base+"/_matrix/client/v3/sync", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer nobody")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 401 || !strings.Contains(string(b), "M_UNKNOWN_TOKEN") {
		t.Fatalf("refused token: %d %s", res.StatusCode, b)
	}
	p.Stop(t)
}
