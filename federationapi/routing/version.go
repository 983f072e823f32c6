package routing

import (
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/axon-matrix/axon/internal/httputil"
)

// serverVersion is the module version Go recorded in the binary ("dev" for a local build).
var serverVersion = func() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && !strings.HasPrefix(bi.Main.Version, "(") {
		return bi.Main.Version
	}
	return "dev"
}()

// version serves GET /_matrix/federation/v1/version (no authentication).
func version(w http.ResponseWriter, _ *http.Request) {
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"server": map[string]string{"name": "Axon", "version": serverVersion}})
}
