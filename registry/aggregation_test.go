package registry

import (
	"strings"
	"testing"
	"time"
)

const day = 24 * time.Hour

func TestAggFunctionResultType(t *testing.T) {
	tests := []struct {
		f       AggFunction
		col     Type
		want    Type
		wantErr string
	}{
		{AggCount, Type{}, TypeInt64, ""},
		{AggCount, TypeString, TypeInt64, ""},
		{AggSum, TypeInt32, TypeInt64, ""},
		{AggSum, TypeInt64, TypeInt64, ""},
		{AggSum, TypeFloat32, TypeFloat64, ""},
		{AggSum, TypeString, Type{}, "sum needs a numeric column"},
		{AggSum, Type{}, Type{}, "sum needs a column"},
		{AggMean, TypeInt64, TypeFloat64, ""},
		{AggStddev, TypeFloat32, TypeFloat64, ""},
		{AggStddev, TypeBool, Type{}, "stddev needs a numeric column"},
		{AggMin, TypeTimestamp, TypeTimestamp, ""},
		{AggMax, TypeString, TypeString, ""},
		{AggMax, TypeBytes, Type{}, "max needs a number, string or timestamp column"},
		{AggMin, ListOf(Int64), Type{}, "min needs a number, string or timestamp column"},
		{AggLast, TypeBool, TypeBool, ""},
		{AggLast, ListOf(Float32), ListOf(Float32), ""},
		{AggLastN, TypeString, ListOf(String), ""},
		{AggLastN, ListOf(String), Type{}, "last_n needs a scalar column"},
	}
	for _, tt := range tests {
		t.Run(tt.f.String()+"/"+tt.col.String(), func(t *testing.T) {
			got, err := tt.f.ResultType(tt.col)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ResultType(%s) error = %v, want one containing %q", tt.col, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ResultType(%s) = %s, %v, want %s", tt.col, got, err, tt.want)
			}
		})
	}
}

func TestParseAggFunction(t *testing.T) {
	for _, name := range AggFunctionNames() {
		f, ok := ParseAggFunction(name)
		if !ok || f.String() != name {
			t.Errorf("ParseAggFunction(%q) = %s, %v", name, f, ok)
		}
	}
	if f, ok := ParseAggFunction("avg"); ok {
		t.Errorf("ParseAggFunction(avg) = %s, want none", f)
	}
}

func TestAggregationFeatures(t *testing.T) {
	tests := []struct {
		name     string
		agg      Aggregation
		col      Type
		interval time.Duration
		want     []WindowFeature
		wantErr  string
	}{
		{
			name: "count of rows, default hops",
			agg:  Aggregation{Function: AggCount, Windows: []time.Duration{time.Hour, day, 7 * day}},
			want: []WindowFeature{
				{Field{Name: "count_1h", Type: TypeInt64}, 0, Window{time.Hour, 5 * time.Minute}},
				{Field{Name: "count_1d", Type: TypeInt64}, 0, Window{day, time.Hour}},
				{Field{Name: "count_7d", Type: TypeInt64}, 0, Window{7 * day, time.Hour}},
			},
		},
		{
			name: "hop boundaries of the default rule",
			agg:  Aggregation{Function: AggSum, Column: "fare", Windows: []time.Duration{12*time.Hour - time.Minute, 12 * time.Hour, 12 * day}},
			col:  TypeFloat64,
			want: []WindowFeature{
				{Field{Name: "fare_sum_11h59m", Type: TypeFloat64}, 0, Window{12*time.Hour - time.Minute, 5 * time.Minute}},
				{Field{Name: "fare_sum_12h", Type: TypeFloat64}, 0, Window{12 * time.Hour, time.Hour}},
				{Field{Name: "fare_sum_12d", Type: TypeFloat64}, 0, Window{12 * day, day}},
			},
		},
		{
			name:     "aggregation_interval sets every hop",
			agg:      Aggregation{Function: AggMean, Column: "fare", Windows: []time.Duration{time.Hour, 7 * day}},
			col:      TypeInt32,
			interval: 10 * time.Minute,
			want: []WindowFeature{
				{Field{Name: "fare_mean_1h", Type: TypeFloat64}, 0, Window{time.Hour, 10 * time.Minute}},
				{Field{Name: "fare_mean_7d", Type: TypeFloat64}, 0, Window{7 * day, 10 * time.Minute}},
			},
		},
		{
			name: "lifetime without windows",
			agg:  Aggregation{Function: AggSum, Column: "fare"},
			col:  TypeInt64,
			want: []WindowFeature{{Field{Name: "fare_sum", Type: TypeInt64}, 0, Window{Lifetime, 0}}},
		},
		{
			name: "name of a single window",
			agg:  Aggregation{Function: AggMax, Column: "fare", Windows: []time.Duration{time.Hour}, Name: "max_fare_last_hour"},
			col:  TypeFloat32,
			want: []WindowFeature{{Field{Name: "max_fare_last_hour", Type: TypeFloat32}, 0, Window{time.Hour, 5 * time.Minute}}},
		},
		{
			name: "last_n is a list",
			agg:  Aggregation{Function: AggLastN, Column: "zone", Windows: []time.Duration{day}, N: 5},
			col:  TypeString,
			want: []WindowFeature{{Field{Name: "zone_last_n_1d", Type: ListOf(String)}, 0, Window{day, time.Hour}}},
		},
		{name: "last_n without n", agg: Aggregation{Function: AggLastN, Column: "zone"}, col: TypeString, wantErr: `last_n needs "n:"`},
		{name: "n on another function", agg: Aggregation{Function: AggLast, Column: "zone", N: 2}, col: TypeString, wantErr: "n is only for last_n"},
		{name: "name with two windows", agg: Aggregation{Function: AggCount, Windows: []time.Duration{time.Hour, day}, Name: "x"}, wantErr: "name is for an aggregation with one window"},
		{name: "a window twice", agg: Aggregation{Function: AggCount, Windows: []time.Duration{time.Hour, day, time.Hour}}, wantErr: "window 1h is written twice; remove one"},
		{name: "negative window", agg: Aggregation{Function: AggCount, Windows: []time.Duration{-time.Hour}}, wantErr: "negative"},
		{name: "sum of strings", agg: Aggregation{Function: AggSum, Column: "zone"}, col: TypeString, wantErr: "sum needs a numeric column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.agg.Features(0, tt.col, tt.interval)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Features() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Features() error = %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Features() = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i].Name != tt.want[i].Name || got[i].Type != tt.want[i].Type || got[i].Window != tt.want[i].Window || got[i].Aggregation != tt.want[i].Aggregation {
					t.Errorf("feature %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestWindowStart(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name string
		w    Window
		t    string
		want string
	}{
		{"tail rounded down to the hop", Window{time.Hour, 5 * time.Minute}, "2024-05-01T10:07:30Z", "2024-05-01T09:05:00Z"},
		{"on a hop boundary", Window{time.Hour, 5 * time.Minute}, "2024-05-01T10:05:00Z", "2024-05-01T09:05:00Z"},
		{"a millisecond before the boundary", Window{time.Hour, 5 * time.Minute}, "2024-05-01T10:04:59.999Z", "2024-05-01T09:00:00Z"},
		{"days aligned to UTC midnight", Window{7 * day, day}, "2024-05-08T23:59:59Z", "2024-05-01T00:00:00Z"},
		{"before the epoch", Window{time.Hour, time.Hour}, "1969-12-31T23:30:00Z", "1969-12-31T22:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.w.Start(at(tt.t))
			if want := at(tt.want); !ok || !got.Equal(want) {
				t.Errorf("Start(%s) = %s, %v, want %s", tt.t, got, ok, want)
			}
		})
	}
	if _, ok := (Window{}).Start(at("2024-05-01T00:00:00Z")); ok {
		t.Errorf("a lifetime window has a start")
	}
}
