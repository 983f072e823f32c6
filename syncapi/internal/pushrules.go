package internal

import (
	"encoding/json"

	"github.com/axon-matrix/axon/matrix/pushrules"
	"github.com/axon-matrix/axon/syncapi/storage"
)

// defaultPushRules returns the global account data events of an initial /sync with the
// server-default m.push_rules added when the user has none stored (topic 1 never carried
// any: an account made with axon-create-account -direct, or one older than the seeding at
// registration). Clients such as Element wait for m.push_rules in the first /sync. ads is
// everything stored for the user, so a stored m.push_rules — even one the filter left out
// — is never shadowed; the filter decides as for a stored event.
func defaultPushRules(userID string, f *Filter, ads []storage.AccountData, events []json.RawMessage) []json.RawMessage {
	for _, ad := range ads {
		if ad.RoomID == "" && ad.Type == "m.push_rules" {
			return events
		}
	}
	if !f.AccountData.Matches("m.push_rules", "") || !underLimit(f.AccountData.Limit, len(events)) {
		return events
	}
	ev, _ := json.Marshal(map[string]any{"type": "m.push_rules", "content": pushrules.DefaultAccountDataJSON(userID)})
	return append(events, ev)
}
