package setup

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestStatusWriterReadFrom: io.Copy through the logging wrapper reaches the real writer's
// ReadFrom (sendfile for files), and the wrapper still records the status and the bytes.
func TestStatusWriterReadFrom(t *testing.T) {
	var _ io.ReaderFrom = (*statusWriter)(nil)
	rec := httptest.NewRecorder()
	sw := &statusWriter{ResponseWriter: rec}
	n, err := io.Copy(sw, io.LimitReader(strings.NewReader("hello world"), 5))
	if err != nil || n != 5 || rec.Body.String() != "hello" || sw.bytes != 5 || sw.status != http.StatusOK {
		t.Fatalf("n %d err %v body %q bytes %d status %d", n, err, rec.Body.String(), sw.bytes, sw.status)
	}
}
