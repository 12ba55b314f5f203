package windowtest

import (
	"strings"
	"testing"
)

// TestParseRefuses checks that a mistaken case file is an error saying
// what is wrong, never a case that passes for the wrong reason.
func TestParseRefuses(t *testing.T) {
	const head = "description: d\ncolumns: {fare: float64}\naggregations: [{column: fare, function: sum, windows: [1h]}]\n"
	tests := []struct {
		name, file, wantErr string
	}{
		{"no description", "columns: {fare: float64}\nat: []\n", "no description"},
		{"unknown field", head + "rowz: []\n", "field rowz not found"},
		{"unknown function", "description: d\naggregations: [{function: avg}]\n", `unknown function "avg"`},
		{"unknown column", "description: d\naggregations: [{column: tip, function: sum}]\n", `column "tip" is not in columns`},
		{"last_n without n", "description: d\ncolumns: {z: string}\naggregations: [{column: z, function: last_n}]\n", "last_n needs"},
		{"row column unknown", head + "rows: [{ts: \"2024-05-01T00:00:00Z\", tip: 1}]\n", `field "tip" is not key, ts, created or a column`},
		{"row without ts", head + "rows: [{fare: 1}]\n", "no ts"},
		{"row value of the wrong type", head + "rows: [{ts: \"2024-05-01T00:00:00Z\", fare: x}]\n", "column fare"},
		{"want misses a feature", head + "at: [{t: \"2024-05-01T00:00:00Z\", want: {}}]\n", "want has no fare_sum_1h"},
		{"want names no feature", head + "at: [{t: \"2024-05-01T00:00:00Z\", want: {fare_sum_1h: 1, fare_sum_2h: 1}}]\n", "fare_sum_2h, which is not a feature"},
		{"no at", head, "no at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.name, []byte(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse() error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
