package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			w.WriteHeader(http.StatusOK)
		case "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/redirect":
			http.Redirect(w, r, "/health", http.StatusFound)
		case "/slow":
			time.Sleep(500 * time.Millisecond)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"healthy", []string{srv.URL + "/health"}, 0},
		{"503", []string{srv.URL + "/down"}, 1},
		{"404", []string{srv.URL + "/nothing"}, 1},
		{"redirect is not followed", []string{srv.URL + "/redirect"}, 1},
		{"timeout", []string{"-timeout", "100ms", srv.URL + "/slow"}, 1},
		{"nothing listening", []string{closedURL + "/health"}, 1},
		{"not a URL", []string{"localhost:8008"}, 2},
		{"two URLs", []string{srv.URL, srv.URL}, 2},
		{"bad timeout", []string{"-timeout", "0s", srv.URL}, 2},
		{"bad flag", []string{"-nope"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(tc.args, io.Discard); got != tc.want {
				t.Errorf("run(%q) = %d, want %d", tc.args, got, tc.want)
			}
		})
	}
}
