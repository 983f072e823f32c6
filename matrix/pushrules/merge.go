package pushrules

// renamedDefaultRules maps a server-default rule ID Axon once stored under a wrong name
// to the spec's name. The user's enabled flag and actions carry over to the new rule.
var renamedDefaultRules = map[string]string{
	".m.rule.server_acl": ".m.rule.room.server_acl",
}

// MergeDefaults brings stored rules up to the current server defaults: a default rule
// the server no longer defines is dropped (its enabled flag and actions move to its new
// name when it was renamed), and a default rule missing from the stored set is inserted
// right after the default rule that precedes it in the spec's order. The user's own rules
// and their order, and the enabled flag and actions of every stored default rule, stay as
// they are. It reports whether anything changed.
func MergeDefaults(stored *Ruleset, defaults Ruleset) bool {
	changed := false
	for _, k := range Kinds {
		if mergeKind(stored.Kind(k), *defaults.Kind(k)) {
			changed = true
		}
	}
	return changed
}

func mergeKind(list *[]PushRule, defaults []PushRule) bool {
	isDefault := make(map[string]bool, len(defaults))
	for _, d := range defaults {
		isDefault[d.RuleID] = true
	}
	changed := false
	carried := map[string]PushRule{} // new ID → the stored rule under its old ID
	out := make([]PushRule, 0, len(*list)+len(defaults))
	have := map[string]int{}
	for _, r := range *list {
		if r.Default && !isDefault[r.RuleID] {
			if to, ok := renamedDefaultRules[r.RuleID]; ok {
				carried[to] = r
			}
			changed = true
			continue
		}
		have[r.RuleID] = len(out)
		out = append(out, r)
	}
	for i, d := range defaults {
		if _, ok := have[d.RuleID]; ok {
			continue
		}
		if old, ok := carried[d.RuleID]; ok {
			d.Enabled, d.Actions = old.Enabled, old.Actions
		}
		at := len(out) // after the previous default rule, else before the first stored default
		if i > 0 {
			if j, ok := have[defaults[i-1].RuleID]; ok {
				at = j + 1
			}
		} else {
			for j, r := range out {
				if r.Default {
					at = j
					break
				}
			}
		}
		out = append(out[:at], append([]PushRule{d}, out[at:]...)...)
		for id, j := range have {
			if j >= at {
				have[id] = j + 1
			}
		}
		have[d.RuleID] = at
		changed = true
	}
	*list = out
	return changed
}
