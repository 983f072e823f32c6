// Command axon-healthcheck is the HEALTHCHECK of Axon's container images (docker/): the
// images are built FROM scratch, with no shell and no curl, so this small static binary
// fetches a URL and exits 0 when it answers 200, 1 otherwise.
//
//	axon-healthcheck [-timeout 3s] [URL]
//
// The URL defaults to http://127.0.0.1:8008/health, the monolith's. Every Axon binary
// serves /health (the polylith binaries on their internal or public listener, the
// monolith and client-api-proxy on theirs).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

// DefaultURL is the monolith's health endpoint inside its container.
const DefaultURL = "http://127.0.0.1:8008/health"

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run is main with its exit status: 0 healthy, 1 unhealthy, 2 bad arguments.
func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("axon-healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	target := DefaultURL
	switch fs.NArg() {
	case 0:
	case 1:
		target = fs.Arg(0)
	default:
		fmt.Fprintln(stderr, "axon-healthcheck: at most one URL")
		return 2
	}
	if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "axon-healthcheck: %q is not an http(s) URL\n", target)
		return 2
	}
	if *timeout <= 0 {
		fmt.Fprintln(stderr, "axon-healthcheck: -timeout must be positive")
		return 2
	}
	if err := check(target, *timeout); err != nil {
		fmt.Fprintf(stderr, "axon-healthcheck: %v\n", err)
		return 1
	}
	return 0
}

// check GETs target and wants 200 within timeout. Redirects are not followed: a health
// endpoint that redirects is not healthy.
func check(target string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d", target, resp.StatusCode)
	}
	return nil
}
