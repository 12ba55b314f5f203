package registry

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Problem is one mistake in a feature repository.
type Problem struct {
	Pos    Pos
	Object string // `feature view "driver_stats"`; empty for file-level problems
	Msg    string // what is wrong and how to fix it
}

func (p Problem) String() string {
	var b strings.Builder
	if s := p.Pos.String(); s != "" {
		b.WriteString(s)
		b.WriteString(": ")
	}
	if p.Object != "" {
		b.WriteString(p.Object)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every mistake found in a feature repository. It is returned as
// an error by Load and Validate, one problem per line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func (ps *Problems) add(pos Pos, object, format string, args ...any) {
	*ps = append(*ps, Problem{Pos: pos, Object: object, Msg: fmt.Sprintf(format, args...)})
}

// Err returns the problems sorted by file and line as an error, or nil when
// there are none.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	sorted := slices.Clone(ps)
	slices.SortStableFunc(sorted, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Pos.File, b.Pos.File), cmp.Compare(a.Pos.Line, b.Pos.Line))
	})
	return sorted
}

var nameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// MaxNameLength is how long a name may be. Names become directory and
// column names and parts of online-store keys, which stay short.
const MaxNameLength = 63

// ValidName reports whether s is a valid name for a project, a definition,
// a field or a dataset: it matches [a-z_][a-z0-9_]* and has at most
// MaxNameLength characters.
func ValidName(s string) bool { return len(s) <= MaxNameLength && nameRE.MatchString(s) }

// NameProblem says what is wrong with the name s, as in `name "x-y" must
// match [a-z_][a-z0-9_]*; try "x_y"`, or returns "" when s is valid.
func NameProblem(s string) string {
	switch {
	case len(s) > MaxNameLength:
		return fmt.Sprintf("name %q is %d characters long; names have at most %d, try %q", Clip(s), utf8.RuneCountInString(s), MaxNameLength, SuggestName(s))
	case !nameRE.MatchString(s):
		return fmt.Sprintf("name %q must match [a-z_][a-z0-9_]*; try %q", s, SuggestName(s))
	}
	return ""
}

// SuggestName turns s into the closest valid name.
func SuggestName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		case unicode.IsSpace(r) || r == '-' || r == '.':
			b.WriteByte('_')
		}
	}
	out := b.String()
	if out == "" || (out[0] >= '0' && out[0] <= '9') {
		out = "_" + out
	}
	return out[:min(len(out), MaxNameLength)]
}

// MaxQuoted is how many bytes of an input Clip keeps: error messages quote
// at most this much of whatever a user or client sent.
const MaxQuoted = 80

// Clip returns s cut to at most MaxQuoted bytes (on a rune boundary), ending
// with an ellipsis and the full length when it was cut, for quoting input
// in an error message.
func Clip(s string) string {
	if len(s) <= MaxQuoted {
		return s
	}
	cut := MaxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:cut], len(s))
}

// DidYouMean returns `; did you mean "x"?` for the candidate closest to s,
// or "" when none is close or s is too long to be a misspelling.
func DidYouMean(s string, candidates []string) string {
	return didYouMean(closest(s, candidates))
}

// didYouMean returns `; did you mean "x"?` for the suggestion x, or "" when
// there is none.
func didYouMean(suggestion string) string {
	if suggestion == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", suggestion)
}

// closest returns the candidate closest to s, or "" when none is close or
// s is too long to be a misspelling.
func closest(s string, candidates []string) string {
	if len(s) > MaxQuoted {
		return ""
	}
	best, bestDist := "", len(s)/3+2
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
