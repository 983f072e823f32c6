package api

import (
	"regexp/syntax"
	"unicode"
)

// RegexesOverlap says whether some ID is claimed by both namespace regexes, matched as
// namespaces are (anchored at the start: a regex claims every ID with a prefix it
// matches). It walks the product of the two compiled automata, so it is exact for
// literals, classes, alternations and repetitions; zero-width assertions other than $ are
// taken as always passable, which can only report an overlap that is not there (the safe
// side for exclusivity). A regex that does not compile overlaps nothing (ParseRegistration
// has refused it already).
func RegexesOverlap(a, b string) bool {
	pa, errA := compileProg(a)
	pb, errB := compileProg(b)
	if errA != nil || errB != nil {
		return false
	}
	type pair struct{ a, b int }
	seen := map[pair]bool{}
	var queue []pair
	push := func(as, bs []int) {
		for _, x := range as {
			for _, y := range bs {
				p := pair{x, y}
				if !seen[p] {
					seen[p] = true
					queue = append(queue, p)
				}
			}
		}
	}
	startA, accA := closure(pa, uint32(pa.Start))
	startB, accB := closure(pb, uint32(pb.Start))
	if accA && accB {
		return true
	}
	push(startA, startB)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if !commonRune(pa, p.a, pb, p.b) {
			continue
		}
		nextA, accA := step(pa, p.a)
		nextB, accB := step(pb, p.b)
		if accA && accB {
			return true
		}
		push(nextA, nextB)
	}
	return false
}

// done is the state of a side that has matched a prefix: it accepts any continuation.
const done = -1

func compileProg(re string) (*syntax.Prog, error) {
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return nil, err
	}
	return syntax.Compile(parsed.Simplify())
}

// closure follows the empty transitions from pc: the rune-consuming states reached (done
// once a match is reached), and whether a match is reached (the input so far is claimed).
func closure(p *syntax.Prog, pc uint32) (states []int, accepts bool) {
	type item struct {
		pc    uint32
		ended bool // passed $: only the end of the input may follow
	}
	seen := map[item]bool{}
	stack := []item{{pc, false}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[it] {
			continue
		}
		seen[it] = true
		inst := &p.Inst[it.pc]
		switch inst.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			stack = append(stack, item{inst.Out, it.ended}, item{inst.Arg, it.ended})
		case syntax.InstCapture, syntax.InstNop:
			stack = append(stack, item{inst.Out, it.ended})
		case syntax.InstEmptyWidth:
			ended := it.ended || syntax.EmptyOp(inst.Arg)&syntax.EmptyEndText != 0
			stack = append(stack, item{inst.Out, ended})
		case syntax.InstMatch:
			accepts = true
			if !it.ended {
				states = append(states, done)
			}
		case syntax.InstFail:
		default: // rune instructions
			if !it.ended {
				states = append(states, int(it.pc))
			}
		}
	}
	return states, accepts
}

// step is the closure after state consumed a rune.
func step(p *syntax.Prog, state int) ([]int, bool) {
	if state == done {
		return []int{done}, true
	}
	return closure(p, p.Inst[state].Out)
}

// commonRune says whether some rune is consumed by both states.
func commonRune(pa *syntax.Prog, a int, pb *syntax.Prog, b int) bool {
	var cands []rune
	cands = append(cands, candidates(pa, a)...)
	cands = append(cands, candidates(pb, b)...)
	cands = append(cands, 'a', '0', '_', unicode.MaxRune)
	for _, r := range cands {
		if consumes(pa, a, r) && consumes(pb, b, r) {
			return true
		}
	}
	return false
}

// candidates are runes that lie in the state's rune set where it is a narrow one: the low
// end of each range (and the one after it, and its case folds), which includes a rune of
// any non-empty intersection with another range set.
func candidates(p *syntax.Prog, state int) []rune {
	if state == done {
		return nil
	}
	inst := &p.Inst[state]
	var out []rune
	switch inst.Op {
	case syntax.InstRune, syntax.InstRune1:
		for i := 0; i < len(inst.Rune); i += 2 {
			lo := inst.Rune[i]
			out = append(out, lo, lo+1)
			for f := unicode.SimpleFold(lo); f != lo; f = unicode.SimpleFold(f) {
				out = append(out, f)
			}
		}
	}
	return out
}

func consumes(p *syntax.Prog, state int, r rune) bool {
	if state == done {
		return true
	}
	inst := &p.Inst[state]
	switch inst.Op {
	case syntax.InstRuneAny:
		return true
	case syntax.InstRuneAnyNotNL:
		return r != '\n'
	case syntax.InstRune1:
		return r == inst.Rune[0]
	case syntax.InstRune:
		return inst.MatchRune(r)
	}
	return false
}
