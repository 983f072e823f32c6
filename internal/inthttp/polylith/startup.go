package polylith

import (
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/setup"
)

// StartupLines is what a polylith binary says once it serves, its part of what the
// monolith says: the server name, its own database, the event log and, for the clientapi,
// who may register; then where to read next.
func StartupLines(cfg *config.Config, component string) []setup.StartupLine {
	lines := []setup.StartupLine{
		{Msg: "server name " + cfg.Global.ServerName},
		{Msg: "database: " + setup.DescribeDatabase(cfg, component)},
		{Msg: "event log: " + setup.DescribeEventLog(cfg)},
	}
	if component == config.ComponentClientAPI {
		lines = append(lines, setup.DescribeRegistration(cfg))
	}
	return append(lines, setup.ReadNext)
}
