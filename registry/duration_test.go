package registry

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	const day = 24 * time.Hour
	for _, tc := range []struct {
		name, in string
		want     time.Duration
		err      string // a part of the error; empty when none
	}{
		{name: "zero", in: "0", want: 0},
		{name: "go syntax", in: "1h30m", want: 90 * time.Minute},
		{name: "days", in: "7d", want: 7 * day},
		{name: "weeks days and hours", in: "2w1d12h", want: 15*day + 12*time.Hour},
		{name: "largest days", in: "106751d", want: 106751 * day},
		{name: "largest duration", in: "106751d23h47m16.854775807s", want: 1<<63 - 1},
		{name: "days wrap around", in: "213504d", err: `duration "213504d" is longer than the longest duration, 106751d`},
		{name: "days turn negative", in: "106752d", err: `duration "106752d" is longer than the longest duration, 106751d`},
		{name: "weeks", in: "15251w", err: "longer than the longest duration"},
		{name: "days beyond int64", in: "99999999999999999999d", err: "longer than the longest duration"},
		{name: "sum of parts", in: "106751d24h", err: "longer than the longest duration"},
		{name: "weeks plus days", in: "15250w2d", err: "longer than the longest duration"},
		{name: "go part", in: "2562048h", err: `duration "2562048h" is longer than the longest duration`},
		{name: "go part beyond int64", in: "1d99999999999999999999ns", err: "longer than the longest duration"},
		{name: "negative", in: "-5m", err: `bad duration "-5m"`},
		{name: "negative days", in: "-99999999999999999999d", err: "bad duration"},
		{name: "words", in: "2 days", err: `bad duration "2 days"`},
		{name: "long input is clipped", in: strings.Repeat("9", 500) + "x", err: "…(501 bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDuration(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseDuration(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     time.Time
		err      string
	}{
		{name: "date", in: "2024-05-01", want: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)},
		{name: "offset", in: "2024-05-01T02:00:00+02:00", want: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)},
		{name: "earliest", in: "1900-01-01", want: MinTime},
		{name: "latest", in: "9999-12-31T23:59:59.999999999Z", want: MaxTime.Add(-1)},
		{name: "before 1900", in: "1899-12-31T23:59:59Z", err: `time "1899-12-31T23:59:59Z" is out of range: times go from 1900-01-01 to the end of 9999`},
		{name: "year 1", in: "0001-01-01", err: "out of range"},
		{name: "past 9999 in UTC", in: "9999-12-31T23:00:00-02:00", err: "out of range"},
		{name: "not a time", in: "yesterday", err: `bad time "yesterday"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTime(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseTime(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Fatalf("ParseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

// FuzzParseDuration checks that ParseDuration never panics nor returns a
// negative duration, and that what FormatDuration prints of a duration it
// read reads back the same.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"0", "90m", "1h30m", "7d", "2w", "1d12h", "2w3d4h5m6.5s", "106751d", "106752d",
		"213504d", "106751d23h47m16.854775807s", "2562048h", "-5m", "1.5h", "500ms", "1µs", " 3d ", "+1d", "d", "1w2w"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		}
		text := FormatDuration(d)
		back, err := ParseDuration(text)
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v, printed %q, which reads back as %v, %v", s, d, text, back, err)
		}
	})
}

// FuzzParseTime checks that ParseTime never panics, returns times in UTC in
// [MinTime, MaxTime) only, and reads back what RFC 3339 prints of them.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2024-05-01", "2024-05-01T00:00:00Z", "2024-05-01T02:00:00.123456789+02:00", "1900-01-01",
		"1899-12-31T23:59:59Z", "0001-01-01", "9999-12-31T23:59:59.999999999Z", "9999-12-31T23:00:00-02:00", "0000-01-01T00:00:00+01:00", "now"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s)
		if err != nil {
			return
		}
		if got.Location() != time.UTC || got.Before(MinTime) || !got.Before(MaxTime) {
			t.Fatalf("ParseTime(%q) = %v, outside [%v, %v) or not UTC", s, got, MinTime, MaxTime)
		}
		text := got.Format(time.RFC3339Nano)
		back, err := ParseTime(text)
		if err != nil || !back.Equal(got) {
			t.Fatalf("ParseTime(%q) = %v, printed %q, which reads back as %v, %v", s, got, text, back, err)
		}
	})
}
