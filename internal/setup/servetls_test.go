package setup

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and its key.
func writeSelfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := WriteSelfSignedCert(certFile, keyFile, time.Hour, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestServeTLS: the handler is served over TLS with the given certificate; a missing
// certificate file is an error at once.
func TestServeTLS(t *testing.T) {
	b := newTestBase(t, nil)
	defer b.Shutdown(context.Background())
	certFile, keyFile := writeSelfSigned(t)
	if _, err := b.ServeTLS("127.0.0.1:0", filepath.Join(t.TempDir(), "missing.crt"), keyFile, http.NotFoundHandler()); err == nil {
		t.Fatal("ServeTLS with a missing certificate: no error")
	}
	addr, err := b.ServeTLS("127.0.0.1:0", certFile, keyFile, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			t.Error("request without TLS")
		}
		io.WriteString(w, "ok")
	}))
	if err != nil {
		t.Fatal(err)
	}
	pemCert, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pemCert)
	// Verified against the certificate itself: it names 127.0.0.1.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := hc.Get("https://" + addr.String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Fatalf("body %q", body)
	}
	// Plain HTTP on the TLS port is not served.
	if resp, err := http.Get("http://" + addr.String() + "/"); err == nil {
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP answered 200 on the TLS listener")
		}
		resp.Body.Close()
	}
}
