package auth

import "fmt"

// NotAllowed is the error Allowed returns when an event fails an authorization rule. Rule
// names the rule with a short dotted path that follows the spec's structure (for example
// "member.ban.level"), the same in every room version although the spec's numbers shift;
// Reason says what failed in words.
type NotAllowed struct {
	EventID string
	Rule    string
	Reason  string
}

// Error names the event, the failed rule and the reason.
func (e *NotAllowed) Error() string {
	return fmt.Sprintf("event %s not allowed (auth rule %s): %s", e.EventID, e.Rule, e.Reason)
}

func notAllowed(eventID, rule, format string, args ...any) error {
	return &NotAllowed{EventID: eventID, Rule: rule, Reason: fmt.Sprintf(format, args...)}
}
