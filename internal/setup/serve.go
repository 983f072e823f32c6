package setup

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"
)

// AddShutdownHook registers fn to run at shutdown, after in-flight requests have finished
// and Context is canceled. Hooks run one at a time in reverse order of registration (a
// consumer registered after the database it writes to stops before that database closes),
// each bounded by HookTimeout. A hook's error is logged and returned from Shutdown; the
// other hooks still run.
func (b *Base) AddShutdownHook(name string, fn func(ctx context.Context) error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hooks = append(b.hooks, hook{name, fn})
}

// ServePublic listens on addr and serves PublicHandler in the background. It returns the
// bound address (useful with ":0").
func (b *Base) ServePublic(addr string) (net.Addr, error) {
	return b.Serve(addr, b.PublicHandler())
}

// ServeInternal listens on addr and serves InternalHandler in the background.
func (b *Base) ServeInternal(addr string) (net.Addr, error) {
	return b.Serve(addr, b.InternalHandler())
}

// Serve listens on addr and serves h in the background until Shutdown. The listen happens
// before Serve returns, so a taken port is an error here and not later.
func (b *Base) Serve(addr string, h http.Handler) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("setup: listen on %s: %w", addr, err)
	}
	return b.serveListener(ln, h)
}

// ServeTLS is Serve over TLS with the PEM certificate and key in certFile and keyFile,
// which are read before it returns (a missing or bad file is an error here).
func (b *Base) ServeTLS(addr, certFile, keyFile string, h http.Handler) (net.Addr, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("setup: TLS certificate for %s: %w", addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("setup: listen on %s: %w", addr, err)
	}
	return b.serveListener(tls.NewListener(ln, &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}), h)
}

// serveListener serves h on ln in the background until Shutdown.
func (b *Base) serveListener(ln net.Listener, h http.Handler) (net.Addr, error) {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No WriteTimeout: sync long-polls and media downloads run long.
	}
	b.mu.Lock()
	if b.shutdown { // checked under the same lock Shutdown takes, so no server escapes it
		b.mu.Unlock()
		ln.Close()
		return nil, errors.New("setup: Serve after Shutdown")
	}
	b.servers = append(b.servers, srv)
	b.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.Logger.WithError(err).WithField("addr", ln.Addr().String()).Error("HTTP server failed")
			b.serveErrs <- fmt.Errorf("setup: serving %s: %w", ln.Addr(), err)
		}
	}()
	b.Logger.WithField("addr", ln.Addr().String()).Info("listening")
	return ln.Addr(), nil
}

// Shutdown stops the process gracefully: it stops accepting connections, lets in-flight
// requests finish for up to DrainTimeout (then closes what is left), cancels Context, and
// runs the shutdown hooks in reverse order. Calling it again returns the first result.
func (b *Base) Shutdown(ctx context.Context) error {
	b.shutdownOne.Do(func() { b.shutdownErr = b.doShutdown(ctx) })
	return b.shutdownErr
}

func (b *Base) doShutdown(ctx context.Context) error {
	b.mu.Lock()
	b.shutdown = true
	servers := append([]*http.Server(nil), b.servers...)
	hooks := append([]hook(nil), b.hooks...)
	b.mu.Unlock()
	close(b.draining)
	b.Logger.Info("shutting down: draining in-flight requests")

	drainCtx, cancel := context.WithTimeout(ctx, b.DrainTimeout)
	errs := make(chan error, len(servers))
	for _, srv := range servers {
		go func() {
			err := srv.Shutdown(drainCtx)
			if err != nil {
				_ = srv.Close() // drain timed out: cut what is left
			}
			errs <- err
		}()
	}
	var result []error
	for range servers {
		if err := <-errs; err != nil {
			b.Logger.WithError(err).Warn("in-flight requests did not finish in time; connections closed")
			result = append(result, fmt.Errorf("setup: draining: %w", err))
		}
	}
	cancel()
	b.cancel()

	for i := len(hooks) - 1; i >= 0; i-- {
		h := hooks[i]
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.HookTimeout)
		err := runHook(hctx, h.fn)
		cancel()
		if err != nil {
			b.Logger.WithError(err).WithField("hook", h.name).Error("shutdown hook failed")
			result = append(result, fmt.Errorf("setup: shutdown hook %s: %w", h.name, err))
		}
	}
	b.Logger.Info("shut down")
	return errors.Join(result...)
}

// runHook runs fn but gives up when ctx ends, so a stuck hook cannot hang the process.
func runHook(ctx context.Context, fn func(context.Context) error) (err error) {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("panic: %v", p)
			}
		}()
		done <- fn(ctx)
	}()
	select {
	case err = <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RunUntilSignal blocks until SIGINT or SIGTERM, until a server fails, or until something
// else calls Shutdown; then it shuts down gracefully and returns Shutdown's result (and the
// server's failure). A second signal during shutdown exits the process at once with
// status 1.
func (b *Base) RunUntilSignal() error {
	defer signal.Stop(b.sigs)
	return b.runUntil(b.sigs, func() { os.Exit(1) })
}

func (b *Base) runUntil(sigs <-chan os.Signal, forceExit func()) error {
	var serveErr error
	select {
	case s := <-sigs:
		b.Logger.WithField("signal", s.String()).Info("signal received")
	case serveErr = <-b.serveErrs:
	case <-b.draining: // Shutdown called elsewhere; the call below waits for it
	}
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			b.Logger.WithField("signal", s.String()).Warn("second signal: exiting now")
			forceExit()
		case <-done:
		}
	}()
	err := b.Shutdown(context.Background())
	close(done)
	return errors.Join(serveErr, err)
}
