package values

import (
	"fmt"
	"math"
	"reflect"
	"time"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// Coerce returns v as a value of type t: v itself when it already is one,
// or a converted copy when the conversion loses nothing (int32 to int64,
// int64 in range to int32, float to double, an integer to a float, a
// timestamp given as RFC 3339 text). A nil or unset v is null and stays
// null. Anything else is an error saying what was wanted.
func Coerce(v *almanacv1.Value, t registry.Type) (*almanacv1.Value, error) {
	from, p := Unpack(v)
	switch {
	case !from.Valid():
		return v, nil
	case from == t:
		return v, nil
	case !from.List && !t.List && t.Valid():
		if out, err, ok := convert(&kinds[from.Elem], p, &kinds[t.Elem]); ok {
			return out, err
		}
	}
	return nil, fmt.Errorf("want %s, got %s", t, Describe(v))
}

// convert converts payload p of a scalar of kind from to kind to, and
// reports whether the conversion exists.
func convert(from *Kind, p Payload, to *Kind) (v *almanacv1.Value, err error, ok bool) {
	integer := func(k *Kind) bool { return (k.Rep == RepInt32 || k.Rep == RepInt64) && !k.Millis }
	float := func(k *Kind) bool { return k.Rep == RepFloat32 || k.Rep == RepFloat64 }
	var out Payload
	switch {
	case integer(from) && integer(to):
		n := int64(p.N)
		if to.Rep == RepInt32 && (n < math.MinInt32 || n > math.MaxInt32) {
			return nil, fmt.Errorf("want %s, got %d, which does not fit", to.Scalar, n), true
		}
		out = p
	case integer(from) && float(to):
		out = floatPayload(to, float64(int64(p.N)))
	case float(from) && float(to):
		out = floatPayload(to, floatOf(from, p))
	case from.Rep == RepString && to.Millis:
		ts, err := time.Parse(time.RFC3339Nano, p.S)
		if err != nil {
			return nil, fmt.Errorf("want a timestamp, got string %q, which is not RFC 3339", registry.Clip(p.S)), true
		}
		out = Payload{N: uint64(ts.UnixMilli())}
	default:
		return nil, nil, false
	}
	v = &almanacv1.Value{}
	Set(v, to.Scalar, out)
	return v, nil, true
}

func floatOf(k *Kind, p Payload) float64 {
	if k.Rep == RepFloat32 {
		return float64(f32(p))
	}
	return f64(p)
}

func floatPayload(k *Kind, f float64) Payload {
	if k.Rep == RepFloat32 {
		return Payload{N: uint64(math.Float32bits(float32(f)))}
	}
	return Payload{N: math.Float64bits(f)}
}

func f32(p Payload) float32 { return math.Float32frombits(uint32(p.N)) }
func f64(p Payload) float64 { return math.Float64frombits(p.N) }

// Describe names the kind of a value, with the value for scalars, for
// error messages.
func Describe(v *almanacv1.Value) string {
	t, p := Unpack(v)
	switch {
	case !t.Valid():
		return "null"
	case t.List:
		return t.String()
	}
	k := &kinds[t.Elem]
	switch {
	case k.Rep == RepString:
		return fmt.Sprintf("%s %q", t, registry.Clip(p.S))
	case k.Rep == RepBytes:
		return t.String()
	case k.Millis:
		return t.String() + " " + time.UnixMilli(int64(p.N)).UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%s %v", t, k.goOf(v, p))
}

// Time returns the time of a timestamp value, which must be one.
func Time(v *almanacv1.Value) time.Time {
	return time.UnixMilli(v.GetUnixTimestampVal()).UTC()
}

// Go returns the Go value of v: nil for null, int32, int64, float32,
// float64, bool, string, []byte, time.Time, or a typed slice of one of those
// for lists ([]float32, []time.Time, ...).
func Go(v *almanacv1.Value) any {
	t, p := Unpack(v)
	switch {
	case !t.Valid():
		return nil
	case t.List:
		return kinds[t.Elem].goList(v)
	}
	return kinds[t.Elem].goOf(v, p)
}

// goOf returns the Go value of v, a scalar of kind k whose payload is p.
func (k *Kind) goOf(v *almanacv1.Value, p Payload) any {
	switch k.Rep {
	case RepInt32:
		return int32(p.N)
	case RepInt64:
		if k.Millis {
			return time.UnixMilli(int64(p.N)).UTC()
		}
		return int64(p.N)
	case RepFloat32:
		return f32(p)
	case RepFloat64:
		return f64(p)
	case RepBool:
		return p.N != 0
	case RepString:
		return p.S
	}
	return v.GetBytesVal()
}

// Of returns the wire value of x, which has the Go type Go returns for
// some type, and reports whether it has one.
func Of(x any) (*almanacv1.Value, bool) {
	if x == nil {
		return &almanacv1.Value{}, true
	}
	for i := range kinds[1:] {
		k := &kinds[i+1]
		if v, ok := k.wrapList(x); ok {
			return v, true
		}
	}
	v := goScalar(x)
	if v == nil || reflect.TypeOf(Go(v)) != reflect.TypeOf(x) {
		return nil, false // int8 and other types Go does not return
	}
	return v, true
}

// Int32 returns an int32 value.
func Int32(v int32) *almanacv1.Value {
	return &almanacv1.Value{Val: &almanacv1.Value_Int32Val{Int32Val: v}}
}

// Int64 returns an int64 value.
func Int64(v int64) *almanacv1.Value {
	return &almanacv1.Value{Val: &almanacv1.Value_Int64Val{Int64Val: v}}
}

// Float32 returns a float value.
func Float32(v float32) *almanacv1.Value {
	return &almanacv1.Value{Val: &almanacv1.Value_FloatVal{FloatVal: v}}
}

// Float64 returns a double value.
func Float64(v float64) *almanacv1.Value {
	return &almanacv1.Value{Val: &almanacv1.Value_DoubleVal{DoubleVal: v}}
}

// String returns a string value.
func String(v string) *almanacv1.Value {
	return &almanacv1.Value{Val: &almanacv1.Value_StringVal{StringVal: v}}
}

// Bytes returns a bytes value.
func Bytes(v []byte) *almanacv1.Value {
	return &almanacv1.Value{Val: &almanacv1.Value_BytesVal{BytesVal: v}}
}

// Bool returns a bool value.
func Bool(v bool) *almanacv1.Value {
	return &almanacv1.Value{Val: &almanacv1.Value_BoolVal{BoolVal: v}}
}

// Timestamp returns a timestamp value, truncated to the millisecond.
func Timestamp(t time.Time) *almanacv1.Value {
	return &almanacv1.Value{Val: &almanacv1.Value_UnixTimestampVal{UnixTimestampVal: t.UnixMilli()}}
}

// FromGo converts x, as a database driver returns it, to a value of type t:
// nil is null; integers, floats, bools, strings, []byte and time.Time are
// converted when the conversion loses nothing; lists come as []any or a
// typed slice.
func FromGo(x any, t registry.Type) (*almanacv1.Value, error) {
	if x == nil {
		return &almanacv1.Value{}, nil
	}
	if !t.List {
		return scalarFromGo(x, t.Elem)
	}
	var elems []any
	switch xs := x.(type) {
	case []any:
		elems = xs
	default:
		return nil, fmt.Errorf("want %s, got %T", t, x)
	}
	k := KindOf(t.Elem)
	if k == nil {
		return nil, fmt.Errorf("unknown type %s", t)
	}
	var l List
	err := eachElem(elems, t.Elem, func(e *almanacv1.Value) { l.Append(k.Rep, e) })
	if err != nil {
		return nil, err
	}
	v := &almanacv1.Value{}
	k.SetList(v, l)
	return v, nil
}

// eachElem converts the elements of a list; a null element is an error,
// since lists hold no nulls.
func eachElem(elems []any, elem registry.Scalar, add func(*almanacv1.Value)) error {
	for i, x := range elems {
		if x == nil {
			return fmt.Errorf("list element %d is null; lists cannot hold nulls", i)
		}
		e, err := scalarFromGo(x, elem)
		if err != nil {
			return fmt.Errorf("list element %d: %w", i, err)
		}
		add(e)
	}
	return nil
}

func scalarFromGo(x any, elem registry.Scalar) (*almanacv1.Value, error) {
	if s, ok := x.(string); ok && elem == registry.Bytes {
		return Bytes([]byte(s)), nil
	}
	v := goScalar(x)
	if v == nil {
		return nil, fmt.Errorf("want %s, got %T", elem, x)
	}
	return Coerce(v, registry.Type{Elem: elem})
}

// goScalar returns the value of x, a Go integer, float, bool, string,
// []byte or time.Time; nil for any other x.
func goScalar(x any) *almanacv1.Value {
	var v *almanacv1.Value
	switch y := x.(type) {
	case int8:
		v = Int64(int64(y))
	case int16:
		v = Int64(int64(y))
	case int32:
		v = Int32(y)
	case int64:
		v = Int64(y)
	case int:
		v = Int64(int64(y))
	case uint8:
		v = Int64(int64(y))
	case uint16:
		v = Int64(int64(y))
	case uint32:
		v = Int64(int64(y))
	case float32:
		v = Float32(y)
	case float64:
		v = Float64(y)
	case bool:
		v = Bool(y)
	case string:
		v = String(y)
	case []byte:
		v = Bytes(y)
	case time.Time:
		v = Timestamp(y)
	}
	return v
}
