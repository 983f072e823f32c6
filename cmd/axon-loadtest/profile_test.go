package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestProfileServer(t *testing.T) {
	var asked string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = r.URL.String()
		if r.URL.Path != "/debug/pprof/profile" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("profile bytes"))
	}))
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "p.pprof")
	<-profileServer(context.Background(), srv.URL+"/", out, 1500*time.Millisecond)
	if asked != "/debug/pprof/profile?seconds=1" {
		t.Fatalf("asked %q", asked)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "profile bytes" {
		t.Fatalf("wrote %q, %v", b, err)
	}
	// A failing listener writes nothing.
	bad := filepath.Join(t.TempDir(), "none.pprof")
	<-profileServer(context.Background(), srv.URL+"/nothing", bad, time.Second)
	if _, err := os.Stat(bad); err == nil {
		t.Fatal("a 404 was written as a profile")
	}
}
