package values

import (
	"math"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// Number returns a numeric value as an integer (int32, int64) or a float
// (float32, float64), the other zero; both are zero for any other value.
func Number(v *almanacv1.Value) (i int64, f float64) {
	t, p := Unpack(v)
	if t.List || !t.Valid() {
		return 0, 0
	}
	switch kinds[t.Elem].Rep {
	case RepInt32:
		return int64(int32(p.N)), 0
	case RepInt64:
		if !kinds[t.Elem].Millis {
			return int64(p.N), 0
		}
	case RepFloat32, RepFloat64:
		return 0, floatOf(&kinds[t.Elem], p)
	}
	return 0, 0
}

// Less reports whether a orders before b, two scalars of one type ordered
// by its representation: numbers and times by value, strings bytewise,
// false before true. NaN is greater than every other float, as in DuckDB.
func Less(a, b *almanacv1.Value) bool {
	ta, pa := Unpack(a)
	tb, pb := Unpack(b)
	if ta != tb || ta.List || !ta.Valid() {
		return false
	}
	k := &kinds[ta.Elem]
	switch k.Rep {
	case RepInt32, RepInt64:
		return int64(pa.N) < int64(pb.N)
	case RepFloat32, RepFloat64:
		x, y := floatOf(k, pa), floatOf(k, pb)
		if math.IsNaN(x) {
			return false
		}
		return math.IsNaN(y) || x < y
	case RepBool:
		return pa.N < pb.N
	case RepString:
		return pa.S < pb.S
	}
	return string(a.GetBytesVal()) < string(b.GetBytesVal())
}

// ListOf returns the list of type t whose elements are elems, scalars of
// t's element type (a null element is taken as the zero value).
func ListOf(t registry.Type, elems []*almanacv1.Value) *almanacv1.Value {
	k := &kinds[t.Elem]
	var l List
	for _, e := range elems {
		l.Append(k.Rep, e)
	}
	v := &almanacv1.Value{}
	k.SetList(v, l)
	return v
}
