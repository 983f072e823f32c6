package setup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/internal/config"
)

// RequestIDHeader carries a request's ID in and out. A caller's ID is kept (so one ID
// follows a request across the polylith's internal calls); a missing or malformed one is
// replaced by a generated ID.
const RequestIDHeader = "X-Request-ID"

type requestIDKey struct{}
type loggerKey struct{}

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func newLogger(cfg config.Logging) (*logrus.Logger, error) {
	l := logrus.New()
	l.SetOutput(os.Stderr)
	level, err := logrus.ParseLevel(strings.ToLower(cfg.Level))
	if err != nil {
		return nil, fmt.Errorf("setup: global.logging.level: %w", err)
	}
	l.SetLevel(level)
	switch cfg.Format {
	case "json":
		l.SetFormatter(&logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano})
	case "text", "":
		l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: time.RFC3339Nano})
	default:
		return nil, fmt.Errorf("setup: global.logging.format: must be \"text\" or \"json\", got %q", cfg.Format)
	}
	return l, nil
}

func applyLogging(dst, src *logrus.Logger) {
	dst.SetLevel(src.GetLevel())
	dst.SetFormatter(src.Formatter)
	dst.SetOutput(src.Out)
}

// RequestID returns the ID of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// LoggerFrom returns the request's logger (with component and request_id fields) when ctx
// belongs to a request served by a Base, or logrus' standard logger otherwise.
func LoggerFrom(ctx context.Context) *logrus.Entry {
	if l, ok := ctx.Value(loggerKey{}).(*logrus.Entry); ok {
		return l
	}
	return logrus.NewEntry(logrus.StandardLogger())
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// withRequestID gives every request an ID (the caller's X-Request-ID if well-formed),
// echoes it in the response and puts it and a logger carrying it in the context.
func (b *Base) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !requestIDRE.MatchString(id) {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		ctx = context.WithValue(ctx, loggerKey{}, b.Logger.WithField("request_id", id))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(p)
	s.bytes += int64(n)
	return n, err
}

// Flush lets streaming handlers flush through the wrapper.
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		if s.status == 0 {
			s.status = http.StatusOK
		}
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// ReadFrom passes io.Copy on to the real writer's ReadFrom, so a file served with
// http.ServeContent (the mediaapi's downloads) goes out with sendfile(2) rather than
// through user-space buffers.
func (s *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := io.Copy(s.ResponseWriter, r)
	s.bytes += n
	return n, err
}

type routeInfoKey struct{}

// routeInfo is filled in by the router (recordRoute) for the metrics middleware.
type routeInfo struct{ route string }

// withLogAndMetrics logs each request (never its query string, which may hold an access
// token) and records its duration in the request histogram.
func (b *Base) withLogAndMetrics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &routeInfo{route: "unmatched"}
		sw := &statusWriter{ResponseWriter: w}
		b.metrics.inFlight.Inc()
		defer b.metrics.inFlight.Dec()
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), routeInfoKey{}, info)))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		elapsed := time.Since(start)
		b.metrics.observe(info.route, r.Method, sw.status, elapsed)
		entry := LoggerFrom(r.Context()).WithFields(logrus.Fields{
			"method":      r.Method,
			"path":        r.URL.EscapedPath(),
			"status":      sw.status,
			"bytes":       sw.bytes,
			"duration_ms": float64(elapsed.Microseconds()) / 1000,
			"remote":      r.RemoteAddr,
		})
		switch {
		case info.route == "/metrics" || info.route == "/health":
			entry.Debug("request")
		case sw.status >= 500:
			entry.Warn("request")
		default:
			entry.Info("request")
		}
	})
}
