package registry

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// errTooLong is the error of a duration longer than a time.Duration holds.
var errTooLong = errors.New("longer than the longest duration, 106751d (about 292 years)")

// goDurationRE matches what time.ParseDuration reads when its number is not
// too large: its error does not say which of the two went wrong.
var goDurationRE = regexp.MustCompile(`^[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+$`)

// ParseDuration parses a duration as written in definitions: Go's syntax
// ("90m", "1h30m") plus whole days and weeks ("7d", "2w", "1d12h"). A
// duration longer than a time.Duration holds (106751 days and a little
// more, about 292 years) is an error, never a wrapped-around value.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	bad := func() error {
		return fmt.Errorf("bad duration %q: write a duration such as 30m, 24h or 7d", Clip(s))
	}
	tooLong := func() error { return fmt.Errorf("duration %q is %w", Clip(s), errTooLong) }
	var total time.Duration
	add := func(d time.Duration) bool {
		if d > math.MaxInt64-total {
			return false
		}
		total += d
		return true
	}
	rest := s
	for _, unit := range []struct {
		suffix string
		size   time.Duration
	}{{"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}} {
		i := strings.Index(rest, unit.suffix)
		if i < 0 {
			continue
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		switch {
		case errors.Is(err, strconv.ErrRange) && n > 0, err == nil && n > math.MaxInt64/int64(unit.size):
			return 0, tooLong()
		case err != nil || n < 0:
			return 0, bad()
		}
		if !add(time.Duration(n) * unit.size) {
			return 0, tooLong()
		}
		rest = rest[i+1:]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		switch {
		case err != nil && goDurationRE.MatchString(rest) && !strings.HasPrefix(rest, "-"):
			return 0, tooLong()
		case err != nil || d < 0:
			return 0, bad()
		}
		if !add(d) {
			return 0, tooLong()
		}
	}
	return total, nil
}

// FormatDuration prints d the way ParseDuration reads it, using days where
// d is a whole number of them.
func FormatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d > 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	if d == 0 {
		return "0"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Almanac takes times in [MinTime, MaxTime). An event time before 1900 is
// taken for a mistake (a zero or default date) rather than history, and
// RFC 3339 and protobuf timestamps end with the year 9999.
var (
	MinTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ParseTime parses a time as the CLI takes it: RFC 3339
// ("2024-05-01T00:00:00Z") or a date ("2024-05-01", midnight UTC), in
// [MinTime, MaxTime). The time is returned in UTC.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t, err = time.Parse(time.DateOnly, s)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("bad time %q: write RFC 3339 (2024-05-01T00:00:00Z) or a date (2024-05-01)", Clip(s))
	}
	if t.Before(MinTime) || !t.Before(MaxTime) {
		return time.Time{}, fmt.Errorf("time %q is out of range: times go from %s to the end of %d", Clip(s), MinTime.Format(time.DateOnly), MaxTime.Year()-1)
	}
	return t.UTC(), nil
}
