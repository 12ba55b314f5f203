package values

import (
	"math"
	"testing"
	"time"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"google.golang.org/protobuf/proto"
)

func TestNumber(t *testing.T) {
	tests := []struct {
		v     *almanacv1.Value
		i     int64
		f     float64
		label string
	}{
		{Int32(-3), -3, 0, "int32"},
		{Int64(1 << 40), 1 << 40, 0, "int64"},
		{Float32(1.5), 0, 1.5, "float32"},
		{Float64(-2.25), 0, -2.25, "float64"},
		{Timestamp(time.UnixMilli(5)), 0, 0, "timestamp"},
		{String("7"), 0, 0, "string"},
		{&almanacv1.Value{}, 0, 0, "null"},
	}
	for _, tt := range tests {
		if i, f := Number(tt.v); i != tt.i || f != tt.f {
			t.Errorf("Number(%s) = %d, %g, want %d, %g", tt.label, i, f, tt.i, tt.f)
		}
	}
}

func TestLess(t *testing.T) {
	nan := Float64(math.NaN())
	tests := []struct {
		a, b *almanacv1.Value
		want bool
	}{
		{Int32(-1), Int32(1), true},
		{Int32(1), Int32(-1), false},
		{Int64(math.MinInt64), Int64(0), true},
		{Float32(-0.5), Float32(0.25), true},
		{Float64(1), nan, true},
		{nan, Float64(1), false},
		{nan, nan, false},
		{String("a"), String("b"), true},
		{String("b"), String("ab"), false},
		{Timestamp(time.UnixMilli(-1)), Timestamp(time.UnixMilli(0)), true},
		{Bool(false), Bool(true), true},
		{Int32(1), Int64(2), false}, // different types do not order
	}
	for _, tt := range tests {
		if got := Less(tt.a, tt.b); got != tt.want {
			t.Errorf("Less(%s, %s) = %v, want %v", Describe(tt.a), Describe(tt.b), got, tt.want)
		}
	}
}

func TestListOf(t *testing.T) {
	got := ListOf(registry.ListOf(registry.String), []*almanacv1.Value{String("b"), String("a")})
	if want := (&almanacv1.Value{Val: &almanacv1.Value_StringListVal{StringListVal: &almanacv1.StringList{Val: []string{"b", "a"}}}}); !proto.Equal(got, want) {
		t.Errorf("ListOf(b, a) = %v, want %v", got, want)
	}
	empty := ListOf(registry.ListOf(registry.Int64), nil)
	if empty.GetInt64ListVal() == nil {
		t.Errorf("ListOf(none) = %v, want an empty int64 list, not null", empty)
	}
}
