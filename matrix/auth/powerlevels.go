package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/axon-matrix/axon/matrix"
)

// CreatorPowerLevel is the power level of a v12 room creator: "infinitely high". It is
// above every level a power_levels event can hold (those are at most 2**53-1 from v6, and
// clamped below it in older versions), so two creators compare equal and neither outranks
// the other.
const CreatorPowerLevel int64 = math.MaxInt64

// maxLegacyLevel clamps float and huge values in v1–v5 rooms below CreatorPowerLevel.
const maxLegacyLevel int64 = math.MaxInt64 - 1

// PowerLevels is the parsed content of m.room.power_levels with the spec's defaults filled
// in, plus the room's creators for the rules that depend on them.
type PowerLevels struct {
	Ban           int64
	Invite        int64
	Kick          int64
	Redact        int64
	StateDefault  int64
	EventsDefault int64
	UsersDefault  int64
	Events        map[string]int64
	Notifications map[string]int64
	Users         map[string]int64

	// Creators are the v12 privileged creators (infinite power); nil before v12.
	Creators map[string]bool
	// present records which of the top-level integer keys the content set explicitly,
	// for the "added, changed or removed" checks of the power-level rule.
	present map[string]bool
}

// topLevelKeys are the integer-valued keys the power-level change rule compares.
var topLevelKeys = []string{"users_default", "events_default", "state_default", "ban", "redact", "kick", "invite"}

// level returns a top-level key's value.
func (pl *PowerLevels) level(key string) int64 {
	switch key {
	case "users_default":
		return pl.UsersDefault
	case "events_default":
		return pl.EventsDefault
	case "state_default":
		return pl.StateDefault
	case "ban":
		return pl.Ban
	case "redact":
		return pl.Redact
	case "kick":
		return pl.Kick
	case "invite":
		return pl.Invite
	}
	panic("auth: unknown power level key " + key)
}

func (pl *PowerLevels) setLevel(key string, v int64) {
	switch key {
	case "users_default":
		pl.UsersDefault = v
	case "events_default":
		pl.EventsDefault = v
	case "state_default":
		pl.StateDefault = v
	case "ban":
		pl.Ban = v
	case "redact":
		pl.Redact = v
	case "kick":
		pl.Kick = v
	case "invite":
		pl.Invite = v
	}
}

// UserPowerLevel is the power level of userID: infinite for a v12 creator, the users entry
// if there is one, users_default otherwise.
func (pl *PowerLevels) UserPowerLevel(userID string) int64 {
	if pl.Creators[userID] {
		return CreatorPowerLevel
	}
	if l, ok := pl.Users[userID]; ok {
		return l
	}
	return pl.UsersDefault
}

// EventLevel is the power level required to send an event of type eventType: the events
// entry if there is one, else state_default for state events and events_default otherwise.
func (pl *PowerLevels) EventLevel(eventType string, isState bool) int64 {
	if l, ok := pl.Events[eventType]; ok {
		return l
	}
	if isState {
		return pl.StateDefault
	}
	return pl.EventsDefault
}

// NotificationLevel is the level needed to trigger the notification key (e.g. "room"):
// the notifications entry, or 50.
func (pl *PowerLevels) NotificationLevel(key string) int64 {
	if l, ok := pl.Notifications[key]; ok {
		return l
	}
	return 50
}

// NewPowerLevels returns the power levels in effect given the room's create event and its
// current m.room.power_levels event (nil if the room has none). With no power_levels
// event, state_default is 0 and, before v12, the creator has level 100 (in v12 the
// creators' level is infinite anyway). create may be nil only when no creator applies.
//
// The content of an event that is a matrix.Memoizer (matrix/event's) is parsed once and
// kept on it, as every event the room's power levels authorise reads them: the maps of
// the result (Events, Notifications, Users) may then be shared with other callers and
// must not be modified.
func NewPowerLevels(create, powerLevels matrix.PDU) (*PowerLevels, error) {
	var v *matrix.RoomVersion
	switch {
	case powerLevels != nil:
		v = powerLevels.Version()
	case create != nil:
		v = create.Version()
	default:
		return nil, fmt.Errorf("auth: NewPowerLevels needs a create or power_levels event")
	}
	var creators []string
	if create != nil {
		creators = createInfoOf(create).creators
	}
	var pl *PowerLevels
	if powerLevels != nil {
		parsed := memo(powerLevels, powerLevelsKey{}, func() powerLevelsParse {
			pl, err := ParsePowerLevels(powerLevels.Content(), v)
			return powerLevelsParse{pl, err}
		})
		if parsed.err != nil {
			return nil, parsed.err
		}
		copied := *parsed.pl // the maps stay shared; Creators is set below for this create event
		pl = &copied
	} else {
		pl = defaultPowerLevels()
		pl.StateDefault = 0
		if !v.PrivilegedCreators {
			for _, c := range creators {
				pl.Users[c] = 100
			}
		}
	}
	if v.PrivilegedCreators {
		pl.Creators = make(map[string]bool, len(creators))
		for _, c := range creators {
			pl.Creators[c] = true
		}
	}
	return pl, nil
}

// powerLevelsParse is ParsePowerLevels' answer, as kept on a power_levels event.
type powerLevelsParse struct {
	pl  *PowerLevels
	err error
}

func defaultPowerLevels() *PowerLevels {
	return &PowerLevels{
		Ban: 50, Invite: 0, Kick: 50, Redact: 50, StateDefault: 50, EventsDefault: 0, UsersDefault: 0,
		Events: map[string]int64{}, Notifications: map[string]int64{}, Users: map[string]int64{},
		present: map[string]bool{},
	}
}

// ParsePowerLevels parses m.room.power_levels content under the room version's number
// rules and fills in defaults (ban, kick, redact, state_default 50; invite, events_default,
// users_default 0). v10+ accepts only JSON integers; v6–v9 also integer strings; v1–v5
// also floats (truncated). users keys must be valid user IDs. Creators is left nil.
func ParsePowerLevels(content json.RawMessage, v *matrix.RoomVersion) (*PowerLevels, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(content, &raw); err != nil {
		return nil, fmt.Errorf("power_levels content is not an object: %w", err)
	}
	pl := defaultPowerLevels()
	for _, key := range topLevelKeys {
		r, ok := raw[key]
		if !ok {
			continue
		}
		n, err := parseLevel(r, v)
		if err != nil {
			return nil, fmt.Errorf("power_levels %q: %w", key, err)
		}
		pl.setLevel(key, n)
		pl.present[key] = true
	}
	var err error
	if pl.Events, err = parseLevelMap(raw, "events", v, false); err != nil {
		return nil, err
	}
	if pl.Notifications, err = parseLevelMap(raw, "notifications", v, false); err != nil {
		return nil, err
	}
	if pl.Users, err = parseLevelMap(raw, "users", v, true); err != nil {
		return nil, err
	}
	return pl, nil
}

func parseLevelMap(raw map[string]json.RawMessage, key string, v *matrix.RoomVersion, userKeys bool) (map[string]int64, error) {
	out := map[string]int64{}
	r, ok := raw[key]
	if !ok {
		return out, nil
	}
	var m map[string]json.RawMessage
	if bytes.Equal(bytes.TrimSpace(r), []byte("null")) {
		return nil, fmt.Errorf("power_levels %q is null, not an object", key)
	}
	if err := json.Unmarshal(r, &m); err != nil {
		return nil, fmt.Errorf("power_levels %q is not an object", key)
	}
	for k, val := range m {
		if userKeys && !matrix.ValidUserID(k) {
			return nil, fmt.Errorf("power_levels users key %q is not a valid user ID", k)
		}
		n, err := parseLevel(val, v)
		if err != nil {
			return nil, fmt.Errorf("power_levels %s[%q]: %w", key, k, err)
		}
		out[k] = n
	}
	return out, nil
}

// maxSafeInt is 2**53-1, the canonical JSON integer bound from v6.
const maxSafeInt = 1<<53 - 1

// parseLevel parses one power level value under the version's rules.
func parseLevel(r json.RawMessage, v *matrix.RoomVersion) (int64, error) {
	r = bytes.TrimSpace(r)
	if len(r) == 0 {
		return 0, fmt.Errorf("empty value")
	}
	switch c := r[0]; {
	case c == '"':
		if v.IntegerPowerLevels {
			return 0, fmt.Errorf("must be an integer, not a string")
		}
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			return 0, err
		}
		return parseLevelString(s)
	case c == '-' || (c >= '0' && c <= '9'):
		if bytes.ContainsAny(r, ".eE") {
			if v.StrictCanonicalJSON {
				return 0, fmt.Errorf("must be an integer, not %s", r)
			}
			f, err := strconv.ParseFloat(string(r), 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return 0, fmt.Errorf("not a finite number: %s", r)
			}
			return clampFloat(math.Trunc(f)), nil
		}
		n, err := strconv.ParseInt(string(r), 10, 64)
		if err != nil {
			if v.StrictCanonicalJSON {
				return 0, fmt.Errorf("integer out of range: %s", r)
			}
			f, ferr := strconv.ParseFloat(string(r), 64)
			if ferr != nil {
				return 0, fmt.Errorf("not a number: %s", r)
			}
			return clampFloat(f), nil
		}
		if v.StrictCanonicalJSON && (n > maxSafeInt || n < -maxSafeInt) {
			return 0, fmt.Errorf("integer out of canonical JSON range: %s", r)
		}
		return clampInt(n), nil
	default:
		return 0, fmt.Errorf("must be an integer, got %s", r)
	}
}

// parseLevelString parses the spec's stringy power levels: optional surrounding
// whitespace, an optional single sign, then base-10 digits (leading zeroes allowed).
func parseLevelString(s string) (int64, error) {
	t := strings.TrimSpace(s)
	digits := t
	if len(digits) > 0 && (digits[0] == '+' || digits[0] == '-') {
		digits = digits[1:]
	}
	if digits == "" {
		return 0, fmt.Errorf("string %q is not an integer", s)
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, fmt.Errorf("string %q is not an integer", s)
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("string %q is not an integer in range", s)
	}
	return clampInt(n), nil
}

func clampInt(n int64) int64 {
	if n > maxLegacyLevel {
		return maxLegacyLevel
	}
	return n
}

func clampFloat(f float64) int64 {
	if f >= float64(maxLegacyLevel) {
		return maxLegacyLevel
	}
	if f <= math.MinInt64 {
		return math.MinInt64
	}
	return int64(f)
}
