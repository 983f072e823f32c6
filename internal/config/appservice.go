package config

import (
	"strconv"
	"strings"
)

// generateAppService is the app_service section's own keys in the example config.
func generateAppService(c *Config, component string) string {
	if component != ComponentAppService {
		return ""
	}
	var b strings.Builder
	b.WriteString(`
  # Application services (bridges, bots managing many users): their registration files
  # (YAML: id, url, as_token, hs_token, sender_localpart, namespaces, rate_limited …),
  # read and checked at start by the appservice component and the clientapi — both need
  # the same files. A bad file stops the start with an error naming the file and field.
  # Empty: no application services.
  config_files:`)
	if len(c.AppService.ConfigFiles) == 0 {
		b.WriteString(" []\n")
		return b.String()
	}
	b.WriteString("\n")
	for _, f := range c.AppService.ConfigFiles {
		b.WriteString("    - " + strconv.Quote(f) + "\n")
	}
	return b.String()
}
