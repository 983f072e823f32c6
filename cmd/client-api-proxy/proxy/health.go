package proxy

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// CheckNow runs one round of health checks: a GET of the health path on every upstream at
// once, each bounded by the health check timeout. 200 marks the upstream healthy; anything
// else, or no answer, marks it down. It returns when every check has finished.
func (p *Proxy) CheckNow(ctx context.Context) {
	var wg sync.WaitGroup
	for _, k := range Kinds {
		for _, u := range p.pools[k].list() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := p.check(ctx, u)
				if ctx.Err() != nil {
					return // shutting down: keep the last state
				}
				if u.setHealthy(err == nil) {
					l := p.log.WithFields(logrus.Fields{"kind": u.kind, "upstream": u.name})
					if err == nil {
						l.Info("upstream up")
					} else {
						l.WithError(err).Warn("upstream down: health check failed")
					}
				}
			}()
		}
	}
	wg.Wait()
}

func (p *Proxy) check(ctx context.Context, u *upstream) error {
	ref := *u.url
	ref.Path = p.opts.HealthCheckPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ref.String(), nil)
	if err != nil {
		return err
	}
	resp, err := p.checker.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // keep the connection reusable
	if resp.StatusCode != http.StatusOK {
		return &statusError{resp.StatusCode}
	}
	return nil
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "health check answered " + http.StatusText(e.code) }

// Run checks every upstream at once and then every health check interval until ctx ends;
// with DNS discovery on, it also looks the upstream names up every resolve interval.
func (p *Proxy) Run(ctx context.Context) {
	p.Resolve(ctx)
	p.CheckNow(ctx)
	if p.opts.ResolveInterval > 0 {
		done := make(chan struct{})
		defer func() { <-done }()
		go func() { defer close(done); p.runResolve(ctx) }()
	}
	t := time.NewTicker(p.opts.HealthCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.CheckNow(ctx)
		}
	}
}
