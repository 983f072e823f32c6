package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/inthttp/polylith/processtest"
	userapiapi "github.com/axon-matrix/axon/userapi/api"
)

const (
	testServer = "create.example"
	testSecret = "0123456789abcdef-create-account"
)

// writeConfig writes a monolith config for testServer over dataDir, serving on port with
// the given shared secret; rate limits are off so the test's logins are never throttled.
func writeConfig(t *testing.T, dataDir string, port int, serverName, secret string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "axon.yaml")
	yaml := fmt.Sprintf(`global:
  server_name: %q
  data_dir: %q
  rate_limits: {enabled: false}
monolith:
  http_bind: "127.0.0.1:%d"
  metrics_bind: ""
user_api:
  bcrypt_cost: 4
client_api:
  registration_shared_secret: %q
`, serverName, dataDir, port, secret)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCreateAccount runs the tool against a real axon-monolith process: accounts made
// through the shared-secret registration and made directly in the database (while the
// server runs) can log in with their password; -admin makes admins and only then; a wrong
// secret, an existing user and a database of another server name are refused with a
// clear error and exit status 1.
func TestCreateAccount(t *testing.T) {
	bin := processtest.Build(t, "../axon-monolith", "axon-monolith")
	dataDir := t.TempDir()
	port := processtest.FreePort(t)
	cfgPath := writeConfig(t, dataDir, port, testServer, testSecret)
	server := processtest.Start(t, bin, port, "-config", cfgPath)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	cases := []struct {
		name     string
		args     []string
		stdin    string
		code     int
		out      string // in stdout (code 0) or stderr
		login    string // user that can then log in with password
		password string
		admin    bool
	}{
		{"shared secret, admin", []string{"-config", cfgPath, "-user", "Alice", "-admin", "-password-file", writeFile(t, "alice pw\n")}, "",
			0, "created admin @alice:" + testServer, "@alice:" + testServer, "alice pw", true},
		{"shared secret, password on stdin", []string{"-config", cfgPath, "-user", "@bob:" + testServer}, "bob pw\n",
			0, "created user @bob:" + testServer, "@bob:" + testServer, "bob pw", false},
		{"shared secret from a file, URL given", []string{"-url", base, "-shared-secret-file", writeFile(t, testSecret+"\n"), "-user", "erin",
			"-password-file", "-"}, "erin pw\r\n", 0, "created user @erin:" + testServer, "@erin:" + testServer, "erin pw", false},
		{"direct, admin", []string{"-config", cfgPath, "-direct", "-user", "carol", "-admin", "-password-file", "-"}, "carol pw",
			0, "created admin @carol:" + testServer, "@carol:" + testServer, "carol pw", true},
		{"direct, user", []string{"-config", cfgPath, "-direct", "-user", "dave"}, "dave pw\n",
			0, "created user @dave:" + testServer, "@dave:" + testServer, "dave pw", false},
		{"wrong shared secret", []string{"-url", base, "-shared-secret-file", writeFile(t, "not-the-secret"), "-user", "mallory"}, "pw\n",
			1, "refused the shared secret", "", "", false},
		{"existing user, shared secret", []string{"-config", cfgPath, "-user", "alice"}, "pw\n", 1, "exists already", "", "", false},
		{"existing user, direct", []string{"-config", cfgPath, "-direct", "-user", "bob"}, "pw\n", 1, "exists already", "", "", false},
		{"bad localpart", []string{"-config", cfgPath, "-direct", "-user", "a b"}, "pw\n", 1, "not a valid user name", "", "", false},
		{"other server's user ID", []string{"-config", cfgPath, "-user", "@x:elsewhere.example"}, "pw\n", 1, "this server is", "", "", false},
		{"empty password", []string{"-config", cfgPath, "-user", "frank"}, "\n", 1, "password is empty", "", "", false},
		{"direct on another server name's data", []string{"-config", writeConfig(t, dataDir, port, "other.example", testSecret), "-direct",
			"-user", "gina"}, "pw\n", 1, `"` + testServer + `"`, "", "", false},
		{"server not running", []string{"-url", "http://127.0.0.1:1", "-shared-secret-file", writeFile(t, testSecret), "-user", "hank"}, "pw\n",
			1, "cannot reach the server", "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, strings.NewReader(tc.stdin), &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stdout %q, stderr %q", code, tc.code, stdout.String(), stderr.String())
			}
			got := stdout.String()
			if tc.code != 0 {
				got = stderr.String()
			}
			if !strings.Contains(got, tc.out) {
				t.Fatalf("output %q lacks %q", got, tc.out)
			}
			if tc.login == "" {
				return
			}
			login := func(password string) processtest.Response {
				return processtest.Do(t, http.MethodPost, base+"/_matrix/client/v3/login", "", map[string]any{
					"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": tc.login}, "password": password})
			}
			if r := login(tc.password).Must(t, http.StatusOK); r.Str("user_id") != tc.login {
				t.Fatalf("logged in as %q, want %q", r.Str("user_id"), tc.login)
			}
			if r := login(tc.password + "x"); r.Status != http.StatusForbidden {
				t.Fatalf("wrong password: %d %s", r.Status, r.Raw)
			}
		})
	}

	// -admin made admins, and only then: read back through the userapi.
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	users, closeDB, err := openUserAPI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	for _, tc := range cases {
		if tc.login == "" {
			continue
		}
		a, err := users.GetAccount(context.Background(), tc.login)
		if err != nil {
			t.Fatal(err)
		}
		if isAdmin := a.AccountType == userapiapi.AccountTypeAdmin; isAdmin != tc.admin {
			t.Errorf("%s: admin %v, want %v", tc.login, isAdmin, tc.admin)
		}
	}
	server.Stop(t)
}

// TestFlags: bad invocations exit 2 before anything is asked or sent.
func TestFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no user", []string{"-config", "x.yaml"}, "-user is required"},
		{"direct without config", []string{"-direct", "-user", "a"}, "-direct needs -config"},
		{"direct with url", []string{"-direct", "-config", "x.yaml", "-url", "http://x", "-user", "a"}, "do not apply"},
		{"no way to reach a server", []string{"-user", "a", "-url", "http://x"}, "give -config"},
		{"stray argument", []string{"-user", "a", "-config", "x.yaml", "extra"}, "unexpected arguments"},
		{"unknown flag", []string{"-nope"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, strings.NewReader(""), &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), tt.want)
			}
		})
	}
}

// TestReadPassword: from a file's first line, from standard input ("-", or when it is not
// a terminal), never empty or too long.
func TestReadPassword(t *testing.T) {
	long := strings.Repeat("x", maxPasswordLength+1)
	tests := []struct {
		name, file, stdin, want, wantErr string
	}{
		{"file", writeFile(t, "s3cret\nignored\n"), "", "s3cret", ""},
		{"file without newline", writeFile(t, "s3cret"), "", "s3cret", ""},
		{"file with CRLF", writeFile(t, "s3cret\r\n"), "", "s3cret", ""},
		{"spaces kept", writeFile(t, " two words \n"), "", " two words ", ""},
		{"stdin by -", "-", "piped\n", "piped", ""},
		{"stdin not a terminal", "", "piped\n", "piped", ""},
		{"empty file", writeFile(t, ""), "", "", "no password"},
		{"empty line", "-", "\n", "", "empty"},
		{"too long", "-", long + "\n", "", "longer than"},
		{"missing file", filepath.Join(t.TempDir(), "none"), "", "", "-password-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readPassword(tt.file, strings.NewReader(tt.stdin), &bytes.Buffer{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestLocalURL: where the tool looks for the monolith when the config names no public URL.
func TestLocalURL(t *testing.T) {
	for bind, want := range map[string]string{
		"127.0.0.1:8008": "http://127.0.0.1:8008",
		":8008":          "http://localhost:8008",
		"0.0.0.0:9000":   "http://localhost:9000",
		"[::]:8008":      "http://localhost:8008",
		"[::1]:8008":     "http://[::1]:8008",
		"example.org:80": "http://example.org:80",
	} {
		if got := localURL(bind); got != want {
			t.Errorf("localURL(%q) = %q, want %q", bind, got, want)
		}
	}
}
