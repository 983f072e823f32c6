package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/setup"
	"github.com/axon-matrix/axon/matrix/federation"
)

// TestMonolithTLS: with -https-bind, -tls-cert and -tls-key the monolith serves the key
// and federation routes (and the client API) over TLS beside its plain listener, and says
// so at start; -https-bind without a certificate is refused before anything starts.
func TestMonolithTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := setup.WriteSelfSignedCert(cert, key, time.Hour, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := start(&options{dataDir: filepath.Join(dir, "bad"), httpBind: "127.0.0.1:0", metricsBind: "127.0.0.1:0",
		httpsBind: "127.0.0.1:0"}); err == nil || !strings.Contains(err.Error(), "tls_cert") {
		t.Fatalf("-https-bind without a certificate: %v", err)
	}
	var logs strings.Builder
	m, _ := startTest(t, &options{dataDir: filepath.Join(dir, "data"), httpBind: "127.0.0.1:0", httpsBind: "127.0.0.1:0",
		tlsCert: cert, tlsKey: key, logOutput: &logs})
	defer stop(t, m)
	if m.httpsAddr == nil {
		t.Fatal("no TLS listener")
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	get := func(path string) []byte {
		t.Helper()
		resp, err := hc.Get("https://" + m.httpsAddr.String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s over TLS: %d %s", path, resp.StatusCode, raw)
		}
		return raw
	}
	k, err := federation.ParseServerKeys(get("/_matrix/key/v2/server"))
	if err != nil || k.VerifySelfSigned() != nil {
		t.Fatalf("keys over TLS: %v", err)
	}
	if !strings.Contains(string(get("/_matrix/federation/v1/version")), "Axon") {
		t.Fatal("version over TLS")
	}
	get("/_matrix/client/versions")
	if !strings.Contains(logs.String(), "https://"+m.httpsAddr.String()) {
		t.Fatalf("the start-up lines do not name the TLS listener:\n%s", logs.String())
	}
}
