package main

import (
	"net"
	"net/http"
	"net/http/pprof"

	"github.com/axon-matrix/axon/internal/setup"
)

// servePprof serves the Go runtime profiles (net/http/pprof) on addr, a listener of their
// own so they never reach the public port. Off unless -pprof-bind names an address; bind it
// to loopback: profiles show internals and a CPU profile costs the server while it runs.
func servePprof(base *setup.Base, addr string) (net.Addr, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return base.Serve(addr, mux)
}
