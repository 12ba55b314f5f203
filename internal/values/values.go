package values

import (
	"fmt"
	"math"
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
	if v.GetVal() == nil {
		return v, nil
	}
	if t.List {
		return coerceList(v, t)
	}
	switch x := v.GetVal().(type) {
	case *almanacv1.Value_Int64Val:
		switch t.Elem {
		case registry.Int64:
			return v, nil
		case registry.Int32:
			if x.Int64Val < math.MinInt32 || x.Int64Val > math.MaxInt32 {
				return nil, fmt.Errorf("want int32, got %d, which does not fit", x.Int64Val)
			}
			return Int32(int32(x.Int64Val)), nil
		case registry.Float64:
			return Float64(float64(x.Int64Val)), nil
		case registry.Float32:
			return Float32(float32(x.Int64Val)), nil
		}
	case *almanacv1.Value_Int32Val:
		switch t.Elem {
		case registry.Int32:
			return v, nil
		case registry.Int64:
			return Int64(int64(x.Int32Val)), nil
		case registry.Float64:
			return Float64(float64(x.Int32Val)), nil
		case registry.Float32:
			return Float32(float32(x.Int32Val)), nil
		}
	case *almanacv1.Value_DoubleVal:
		switch t.Elem {
		case registry.Float64:
			return v, nil
		case registry.Float32:
			return Float32(float32(x.DoubleVal)), nil
		}
	case *almanacv1.Value_FloatVal:
		switch t.Elem {
		case registry.Float32:
			return v, nil
		case registry.Float64:
			return Float64(float64(x.FloatVal)), nil
		}
	case *almanacv1.Value_BoolVal:
		if t.Elem == registry.Bool {
			return v, nil
		}
	case *almanacv1.Value_StringVal:
		switch t.Elem {
		case registry.String:
			return v, nil
		case registry.Timestamp:
			ts, err := time.Parse(time.RFC3339Nano, x.StringVal)
			if err != nil {
				return nil, fmt.Errorf("want a timestamp, got string %q, which is not RFC 3339", registry.Clip(x.StringVal))
			}
			return Timestamp(ts), nil
		}
	case *almanacv1.Value_BytesVal:
		if t.Elem == registry.Bytes {
			return v, nil
		}
	case *almanacv1.Value_UnixTimestampVal:
		if t.Elem == registry.Timestamp {
			return v, nil
		}
	}
	return nil, fmt.Errorf("want %s, got %s", t, Describe(v))
}

func coerceList(v *almanacv1.Value, t registry.Type) (*almanacv1.Value, error) {
	ok := false
	switch v.GetVal().(type) {
	case *almanacv1.Value_Int32ListVal:
		ok = t.Elem == registry.Int32
	case *almanacv1.Value_Int64ListVal:
		ok = t.Elem == registry.Int64
	case *almanacv1.Value_FloatListVal:
		ok = t.Elem == registry.Float32
	case *almanacv1.Value_DoubleListVal:
		ok = t.Elem == registry.Float64
	case *almanacv1.Value_BoolListVal:
		ok = t.Elem == registry.Bool
	case *almanacv1.Value_StringListVal:
		ok = t.Elem == registry.String
	case *almanacv1.Value_BytesListVal:
		ok = t.Elem == registry.Bytes
	case *almanacv1.Value_UnixTimestampListVal:
		ok = t.Elem == registry.Timestamp
	}
	if !ok {
		return nil, fmt.Errorf("want %s, got %s", t, Describe(v))
	}
	return v, nil
}

// Describe names the kind of a value, with the value for scalars, for
// error messages.
func Describe(v *almanacv1.Value) string {
	switch x := v.GetVal().(type) {
	case nil:
		return "null"
	case *almanacv1.Value_StringVal:
		return fmt.Sprintf("string %q", registry.Clip(x.StringVal))
	case *almanacv1.Value_Int32Val:
		return fmt.Sprintf("int32 %d", x.Int32Val)
	case *almanacv1.Value_Int64Val:
		return fmt.Sprintf("int64 %d", x.Int64Val)
	case *almanacv1.Value_DoubleVal:
		return fmt.Sprintf("float64 %g", x.DoubleVal)
	case *almanacv1.Value_FloatVal:
		return fmt.Sprintf("float32 %g", x.FloatVal)
	case *almanacv1.Value_BoolVal:
		return fmt.Sprintf("bool %t", x.BoolVal)
	case *almanacv1.Value_BytesVal:
		return "bytes"
	case *almanacv1.Value_UnixTimestampVal:
		return "timestamp " + time.UnixMilli(x.UnixTimestampVal).UTC().Format(time.RFC3339Nano)
	case *almanacv1.Value_Int32ListVal:
		return "list<int32>"
	case *almanacv1.Value_Int64ListVal:
		return "list<int64>"
	case *almanacv1.Value_FloatListVal:
		return "list<float32>"
	case *almanacv1.Value_DoubleListVal:
		return "list<float64>"
	case *almanacv1.Value_BoolListVal:
		return "list<bool>"
	case *almanacv1.Value_StringListVal:
		return "list<string>"
	case *almanacv1.Value_BytesListVal:
		return "list<bytes>"
	case *almanacv1.Value_UnixTimestampListVal:
		return "list<timestamp>"
	}
	return fmt.Sprintf("%T", v.GetVal())
}

// Time returns the time of a timestamp value, which must be one.
func Time(v *almanacv1.Value) time.Time {
	return time.UnixMilli(v.GetUnixTimestampVal()).UTC()
}

// Go returns the Go value of v: nil for null, int32, int64, float32,
// float64, bool, string, []byte, time.Time, or a typed slice of one of those
// for lists ([]float32, []time.Time, ...).
func Go(v *almanacv1.Value) any {
	switch x := v.GetVal().(type) {
	case *almanacv1.Value_Int32Val:
		return x.Int32Val
	case *almanacv1.Value_Int64Val:
		return x.Int64Val
	case *almanacv1.Value_FloatVal:
		return x.FloatVal
	case *almanacv1.Value_DoubleVal:
		return x.DoubleVal
	case *almanacv1.Value_BoolVal:
		return x.BoolVal
	case *almanacv1.Value_StringVal:
		return x.StringVal
	case *almanacv1.Value_BytesVal:
		return x.BytesVal
	case *almanacv1.Value_UnixTimestampVal:
		return time.UnixMilli(x.UnixTimestampVal).UTC()
	case *almanacv1.Value_Int32ListVal:
		return x.Int32ListVal.GetVal()
	case *almanacv1.Value_Int64ListVal:
		return x.Int64ListVal.GetVal()
	case *almanacv1.Value_FloatListVal:
		return x.FloatListVal.GetVal()
	case *almanacv1.Value_DoubleListVal:
		return x.DoubleListVal.GetVal()
	case *almanacv1.Value_BoolListVal:
		return x.BoolListVal.GetVal()
	case *almanacv1.Value_StringListVal:
		return x.StringListVal.GetVal()
	case *almanacv1.Value_BytesListVal:
		return x.BytesListVal.GetVal()
	case *almanacv1.Value_UnixTimestampListVal:
		out := make([]time.Time, len(x.UnixTimestampListVal.GetVal()))
		for i, ms := range x.UnixTimestampListVal.GetVal() {
			out[i] = time.UnixMilli(ms).UTC()
		}
		return out
	}
	return nil
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
	v := &almanacv1.Value{}
	switch t.Elem {
	case registry.Int32:
		l := &almanacv1.Int32List{Val: make([]int32, 0, len(elems))}
		v.Val = &almanacv1.Value_Int32ListVal{Int32ListVal: l}
		return v, eachElem(elems, t.Elem, func(e *almanacv1.Value) { l.Val = append(l.Val, e.GetInt32Val()) })
	case registry.Int64:
		l := &almanacv1.Int64List{Val: make([]int64, 0, len(elems))}
		v.Val = &almanacv1.Value_Int64ListVal{Int64ListVal: l}
		return v, eachElem(elems, t.Elem, func(e *almanacv1.Value) { l.Val = append(l.Val, e.GetInt64Val()) })
	case registry.Float32:
		l := &almanacv1.FloatList{Val: make([]float32, 0, len(elems))}
		v.Val = &almanacv1.Value_FloatListVal{FloatListVal: l}
		return v, eachElem(elems, t.Elem, func(e *almanacv1.Value) { l.Val = append(l.Val, e.GetFloatVal()) })
	case registry.Float64:
		l := &almanacv1.DoubleList{Val: make([]float64, 0, len(elems))}
		v.Val = &almanacv1.Value_DoubleListVal{DoubleListVal: l}
		return v, eachElem(elems, t.Elem, func(e *almanacv1.Value) { l.Val = append(l.Val, e.GetDoubleVal()) })
	case registry.Bool:
		l := &almanacv1.BoolList{Val: make([]bool, 0, len(elems))}
		v.Val = &almanacv1.Value_BoolListVal{BoolListVal: l}
		return v, eachElem(elems, t.Elem, func(e *almanacv1.Value) { l.Val = append(l.Val, e.GetBoolVal()) })
	case registry.String:
		l := &almanacv1.StringList{Val: make([]string, 0, len(elems))}
		v.Val = &almanacv1.Value_StringListVal{StringListVal: l}
		return v, eachElem(elems, t.Elem, func(e *almanacv1.Value) { l.Val = append(l.Val, e.GetStringVal()) })
	case registry.Bytes:
		l := &almanacv1.BytesList{Val: make([][]byte, 0, len(elems))}
		v.Val = &almanacv1.Value_BytesListVal{BytesListVal: l}
		return v, eachElem(elems, t.Elem, func(e *almanacv1.Value) { l.Val = append(l.Val, e.GetBytesVal()) })
	case registry.Timestamp:
		l := &almanacv1.Int64List{Val: make([]int64, 0, len(elems))}
		v.Val = &almanacv1.Value_UnixTimestampListVal{UnixTimestampListVal: l}
		return v, eachElem(elems, t.Elem, func(e *almanacv1.Value) { l.Val = append(l.Val, e.GetUnixTimestampVal()) })
	}
	return nil, fmt.Errorf("unknown type %s", t)
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
		if elem == registry.Bytes {
			return &almanacv1.Value{Val: &almanacv1.Value_BytesVal{BytesVal: []byte(y)}}, nil
		}
		v = String(y)
	case []byte:
		v = &almanacv1.Value{Val: &almanacv1.Value_BytesVal{BytesVal: y}}
	case time.Time:
		v = Timestamp(y)
	default:
		return nil, fmt.Errorf("want %s, got %T", elem, x)
	}
	return Coerce(v, registry.Type{Elem: elem})
}
