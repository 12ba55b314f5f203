package values

import (
	"math"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// Rep is how a value of a scalar type is held in memory and in storage: its
// Go payload, its encoding in online records (online/codec.go) and its
// Parquet physical type. The set is closed; a new type, or the result type
// of an aggregation, reuses one.
type Rep uint8

// The representations.
const (
	RepInt32   Rep = iota + 1 // record: zigzag varint in int32's range; Parquet INT32
	RepInt64                  // record: zigzag varint; Parquet INT64
	RepFloat32                // record: 4 bytes, little-endian IEEE 754; Parquet FLOAT
	RepFloat64                // record: 8 bytes, little-endian IEEE 754; Parquet DOUBLE
	RepBool                   // record: 1 byte, 0 or 1; Parquet BOOLEAN
	RepString                 // record: uvarint length, UTF-8 bytes; Parquet BYTE_ARRAY (STRING)
	RepBytes                  // record: uvarint length, bytes; Parquet BYTE_ARRAY
)

// Profile is how drift profiles the values of a type.
type Profile uint8

// The profiles.
const (
	NotProfiled Profile = iota // no profile (bytes, timestamps, lists)
	Numeric                    // a distribution of numbers
	Categorical                // counts of distinct values, read as text
)

// A Kind describes one scalar type, and lists of it, wherever its values
// go: the almanac.v1.Value oneof cases, the Go value, the representation in
// online records and Parquet, the DuckDB type and how drift profiles it.
// Kinds are indexed by registry.Scalar; a list type is described by its
// element's Kind.
type Kind struct {
	Scalar registry.Scalar
	// Field and ListField are the numbers of the Value oneof fields holding
	// a value and a list of values of the type.
	Field, ListField protowire.Number
	// Rep is how a value is represented.
	Rep Rep
	// Millis says an int64 payload is a time in milliseconds since the
	// Unix epoch: a time.Time in Go, a TIMESTAMP(MILLIS) in Parquet.
	Millis bool
	// DuckDB is the DuckDB type that holds the values; DuckDBReads lists
	// other DuckDB types whose values read as this type, a name ending in
	// '*' standing for every type it prefixes.
	DuckDB      string
	DuckDBReads []string
	// Profile is how drift profiles the values.
	Profile Profile
	// Parse reads a value from text, as given on a command line.
	Parse func(s string) (*almanacv1.Value, error)
	// set sets the val of a value to the wrapper of p. goList, wrapList
	// convert a list value to a typed Go slice and back.
	set      func(v *almanacv1.Value, p Payload)
	goList   func(v *almanacv1.Value) any
	wrapList func(x any) (*almanacv1.Value, bool)
	// setList is SetList.
	setList func(v *almanacv1.Value, l List)
}

// SetList sets v to a list of the kind whose elements are in the field of
// l for the kind's Rep.
func (k *Kind) SetList(v *almanacv1.Value, l List) { k.setList(v, l) }

// MinSize is the least number of bytes a value of representation rep takes
// in an online record.
func (rep Rep) MinSize() int {
	switch rep {
	case RepFloat32:
		return 4
	case RepFloat64:
		return 8
	}
	return 1
}

// Payload is the content of a scalar value, in the field of its Rep: N for
// integers and timestamps (as int64 bits), floats (their IEEE 754 bits) and
// bools (0 or 1), S for strings. Bytes are not copied into a Payload: read
// them with GetBytesVal. A Payload is two words, which Unpack returns in
// registers.
type Payload struct {
	N uint64
	S string
}

var kinds = [...]Kind{
	registry.Int32: {
		Field: 3, ListField: 13, Rep: RepInt32, DuckDB: "INTEGER", DuckDBReads: []string{"SMALLINT", "TINYINT", "USMALLINT", "UTINYINT"}, Profile: Numeric,
		Parse: func(s string) (*almanacv1.Value, error) {
			n, err := strconv.ParseInt(s, 10, 32)
			return Int32(int32(n)), err
		},
		set:    func(v *almanacv1.Value, p Payload) { v.Val = &almanacv1.Value_Int32Val{Int32Val: int32(p.N)} },
		goList: func(v *almanacv1.Value) any { return v.GetInt32ListVal().GetVal() },
		wrapList: func(x any) (*almanacv1.Value, bool) {
			l, ok := x.([]int32)
			if !ok {
				return nil, false
			}
			return &almanacv1.Value{Val: &almanacv1.Value_Int32ListVal{Int32ListVal: &almanacv1.Int32List{Val: l}}}, true
		},
		setList: func(v *almanacv1.Value, l List) {
			v.Val = &almanacv1.Value_Int32ListVal{Int32ListVal: &almanacv1.Int32List{Val: l.Int32s}}
		},
	},
	registry.Int64: {
		Field: 4, ListField: 14, Rep: RepInt64, DuckDB: "BIGINT", DuckDBReads: []string{"UBIGINT", "HUGEINT", "UINTEGER"}, Profile: Numeric,
		Parse: func(s string) (*almanacv1.Value, error) {
			n, err := strconv.ParseInt(s, 10, 64)
			return Int64(n), err
		},
		set:    func(v *almanacv1.Value, p Payload) { v.Val = &almanacv1.Value_Int64Val{Int64Val: int64(p.N)} },
		goList: func(v *almanacv1.Value) any { return v.GetInt64ListVal().GetVal() },
		wrapList: func(x any) (*almanacv1.Value, bool) {
			l, ok := x.([]int64)
			if !ok {
				return nil, false
			}
			return &almanacv1.Value{Val: &almanacv1.Value_Int64ListVal{Int64ListVal: &almanacv1.Int64List{Val: l}}}, true
		},
		setList: func(v *almanacv1.Value, l List) {
			v.Val = &almanacv1.Value_Int64ListVal{Int64ListVal: &almanacv1.Int64List{Val: l.Int64s}}
		},
	},
	registry.Float32: {
		Field: 6, ListField: 16, Rep: RepFloat32, DuckDB: "FLOAT", Profile: Numeric,
		Parse: func(s string) (*almanacv1.Value, error) {
			f, err := strconv.ParseFloat(s, 32)
			return Float32(float32(f)), err
		},
		set:    func(v *almanacv1.Value, p Payload) { v.Val = &almanacv1.Value_FloatVal{FloatVal: f32(p)} },
		goList: func(v *almanacv1.Value) any { return v.GetFloatListVal().GetVal() },
		wrapList: func(x any) (*almanacv1.Value, bool) {
			l, ok := x.([]float32)
			if !ok {
				return nil, false
			}
			return &almanacv1.Value{Val: &almanacv1.Value_FloatListVal{FloatListVal: &almanacv1.FloatList{Val: l}}}, true
		},
		setList: func(v *almanacv1.Value, l List) {
			v.Val = &almanacv1.Value_FloatListVal{FloatListVal: &almanacv1.FloatList{Val: l.Float32s}}
		},
	},
	registry.Float64: {
		Field: 5, ListField: 15, Rep: RepFloat64, DuckDB: "DOUBLE", DuckDBReads: []string{"DECIMAL*"}, Profile: Numeric,
		Parse: func(s string) (*almanacv1.Value, error) {
			f, err := strconv.ParseFloat(s, 64)
			return Float64(f), err
		},
		set:    func(v *almanacv1.Value, p Payload) { v.Val = &almanacv1.Value_DoubleVal{DoubleVal: f64(p)} },
		goList: func(v *almanacv1.Value) any { return v.GetDoubleListVal().GetVal() },
		wrapList: func(x any) (*almanacv1.Value, bool) {
			l, ok := x.([]float64)
			if !ok {
				return nil, false
			}
			return &almanacv1.Value{Val: &almanacv1.Value_DoubleListVal{DoubleListVal: &almanacv1.DoubleList{Val: l}}}, true
		},
		setList: func(v *almanacv1.Value, l List) {
			v.Val = &almanacv1.Value_DoubleListVal{DoubleListVal: &almanacv1.DoubleList{Val: l.Float64s}}
		},
	},
	registry.Bool: {
		Field: 7, ListField: 17, Rep: RepBool, DuckDB: "BOOLEAN", Profile: Categorical,
		Parse: func(s string) (*almanacv1.Value, error) {
			b, err := strconv.ParseBool(s)
			return Bool(b), err
		},
		set:    func(v *almanacv1.Value, p Payload) { v.Val = &almanacv1.Value_BoolVal{BoolVal: p.N != 0} },
		goList: func(v *almanacv1.Value) any { return v.GetBoolListVal().GetVal() },
		wrapList: func(x any) (*almanacv1.Value, bool) {
			l, ok := x.([]bool)
			if !ok {
				return nil, false
			}
			return &almanacv1.Value{Val: &almanacv1.Value_BoolListVal{BoolListVal: &almanacv1.BoolList{Val: l}}}, true
		},
		setList: func(v *almanacv1.Value, l List) {
			v.Val = &almanacv1.Value_BoolListVal{BoolListVal: &almanacv1.BoolList{Val: l.Bools}}
		},
	},
	registry.String: {
		Field: 2, ListField: 12, Rep: RepString, DuckDB: "VARCHAR", Profile: Categorical,
		Parse:  func(s string) (*almanacv1.Value, error) { return String(s), nil },
		set:    func(v *almanacv1.Value, p Payload) { v.Val = &almanacv1.Value_StringVal{StringVal: p.S} },
		goList: func(v *almanacv1.Value) any { return v.GetStringListVal().GetVal() },
		wrapList: func(x any) (*almanacv1.Value, bool) {
			l, ok := x.([]string)
			if !ok {
				return nil, false
			}
			return &almanacv1.Value{Val: &almanacv1.Value_StringListVal{StringListVal: &almanacv1.StringList{Val: l}}}, true
		},
		setList: func(v *almanacv1.Value, l List) {
			v.Val = &almanacv1.Value_StringListVal{StringListVal: &almanacv1.StringList{Val: l.Strings}}
		},
	},
	registry.Bytes: {
		Field: 1, ListField: 11, Rep: RepBytes, DuckDB: "BLOB",
		Parse:  func(s string) (*almanacv1.Value, error) { return Bytes([]byte(s)), nil },
		set:    func(v *almanacv1.Value, p Payload) { v.Val = &almanacv1.Value_BytesVal{BytesVal: []byte(p.S)} },
		goList: func(v *almanacv1.Value) any { return v.GetBytesListVal().GetVal() },
		wrapList: func(x any) (*almanacv1.Value, bool) {
			l, ok := x.([][]byte)
			if !ok {
				return nil, false
			}
			return &almanacv1.Value{Val: &almanacv1.Value_BytesListVal{BytesListVal: &almanacv1.BytesList{Val: l}}}, true
		},
		setList: func(v *almanacv1.Value, l List) {
			v.Val = &almanacv1.Value_BytesListVal{BytesListVal: &almanacv1.BytesList{Val: l.Bytes}}
		},
	},
	registry.Timestamp: {
		Field: 8, ListField: 18, Rep: RepInt64, Millis: true, DuckDB: "TIMESTAMPTZ", DuckDBReads: []string{"TIMESTAMP*", "DATE"},
		Parse: func(s string) (*almanacv1.Value, error) {
			t, err := time.Parse(time.RFC3339Nano, s)
			return Timestamp(t), err
		},
		set: func(v *almanacv1.Value, p Payload) {
			v.Val = &almanacv1.Value_UnixTimestampVal{UnixTimestampVal: int64(p.N)}
		},
		goList: func(v *almanacv1.Value) any {
			ms := v.GetUnixTimestampListVal().GetVal()
			out := make([]time.Time, len(ms))
			for i, m := range ms {
				out[i] = time.UnixMilli(m).UTC()
			}
			return out
		},
		wrapList: func(x any) (*almanacv1.Value, bool) {
			ts, ok := x.([]time.Time)
			if !ok {
				return nil, false
			}
			ms := make([]int64, len(ts))
			for i, t := range ts {
				ms[i] = t.UnixMilli()
			}
			return &almanacv1.Value{Val: &almanacv1.Value_UnixTimestampListVal{UnixTimestampListVal: &almanacv1.Int64List{Val: ms}}}, true
		},
		setList: func(v *almanacv1.Value, l List) {
			v.Val = &almanacv1.Value_UnixTimestampListVal{UnixTimestampListVal: &almanacv1.Int64List{Val: l.Int64s}}
		},
	},
}

func init() {
	for s := range kinds {
		kinds[s].Scalar = registry.Scalar(s)
	}
}

// KindOf returns the Kind of scalar type s, nil for an invalid one.
func KindOf(s registry.Scalar) *Kind {
	if s == registry.Invalid || int(s) >= len(kinds) {
		return nil
	}
	return &kinds[s]
}

// Kinds returns the Kind of every scalar type, in registry.Scalar's order.
func Kinds() []Kind { return kinds[registry.Invalid+1:] }

// Set sets v to the value of type s, a scalar, whose payload is p.
func Set(v *almanacv1.Value, s registry.Scalar, p Payload) { kinds[s].set(v, p) }

// Unpack returns the type of v and, for a scalar, its payload; for a null
// v, the zero Type. It is the one place that maps the Value oneof cases to
// types: the Kinds hold the field numbers of the cases.
func Unpack(v *almanacv1.Value) (registry.Type, Payload) {
	switch x := v.GetVal().(type) {
	case *almanacv1.Value_Int32Val:
		return registry.TypeInt32, Payload{N: uint64(x.Int32Val)}
	case *almanacv1.Value_Int64Val:
		return registry.TypeInt64, Payload{N: uint64(x.Int64Val)}
	case *almanacv1.Value_FloatVal:
		return registry.TypeFloat32, Payload{N: uint64(math.Float32bits(x.FloatVal))}
	case *almanacv1.Value_DoubleVal:
		return registry.TypeFloat64, Payload{N: math.Float64bits(x.DoubleVal)}
	case *almanacv1.Value_BoolVal:
		if x.BoolVal {
			return registry.TypeBool, Payload{N: 1}
		}
		return registry.TypeBool, Payload{}
	case *almanacv1.Value_StringVal:
		return registry.TypeString, Payload{S: x.StringVal}
	case *almanacv1.Value_BytesVal:
		return registry.TypeBytes, Payload{}
	case *almanacv1.Value_UnixTimestampVal:
		return registry.TypeTimestamp, Payload{N: uint64(x.UnixTimestampVal)}
	case *almanacv1.Value_Int32ListVal:
		return registry.ListOf(registry.Int32), Payload{}
	case *almanacv1.Value_Int64ListVal:
		return registry.ListOf(registry.Int64), Payload{}
	case *almanacv1.Value_FloatListVal:
		return registry.ListOf(registry.Float32), Payload{}
	case *almanacv1.Value_DoubleListVal:
		return registry.ListOf(registry.Float64), Payload{}
	case *almanacv1.Value_BoolListVal:
		return registry.ListOf(registry.Bool), Payload{}
	case *almanacv1.Value_StringListVal:
		return registry.ListOf(registry.String), Payload{}
	case *almanacv1.Value_BytesListVal:
		return registry.ListOf(registry.Bytes), Payload{}
	case *almanacv1.Value_UnixTimestampListVal:
		return registry.ListOf(registry.Timestamp), Payload{}
	}
	return registry.Type{}, Payload{}
}

// TypeOf returns the type of v, the zero Type for null.
func TypeOf(v *almanacv1.Value) registry.Type {
	t, _ := Unpack(v)
	return t
}

// List holds the elements of a list value, in the field of its element's
// Rep (Int64s for int64 and timestamp lists).
type List struct {
	Int32s   []int32
	Int64s   []int64
	Float32s []float32
	Float64s []float64
	Bools    []bool
	Strings  []string
	Bytes    [][]byte
}

// Append appends e, an element of representation rep.
func (l *List) Append(rep Rep, e *almanacv1.Value) {
	_, p := Unpack(e)
	switch rep {
	case RepInt32:
		l.Int32s = append(l.Int32s, int32(p.N))
	case RepInt64:
		l.Int64s = append(l.Int64s, int64(p.N))
	case RepFloat32:
		l.Float32s = append(l.Float32s, f32(p))
	case RepFloat64:
		l.Float64s = append(l.Float64s, f64(p))
	case RepBool:
		l.Bools = append(l.Bools, p.N != 0)
	case RepString:
		l.Strings = append(l.Strings, p.S)
	case RepBytes:
		l.Bytes = append(l.Bytes, e.GetBytesVal())
	}
}

// The scalar getters return the payload of v, by Rep, and report whether v
// is a scalar of that Rep (with Int64, a timestamp when millis is set, else
// an int64). They are small enough to inline, for loops over many values.

// Int32Of returns v's int32.
func Int32Of(v *almanacv1.Value) (int32, bool) {
	if x, ok := v.GetVal().(*almanacv1.Value_Int32Val); ok {
		return x.Int32Val, true
	}
	return 0, false
}

// Int64Of returns v's int64, or its timestamp in ms when millis is set.
func Int64Of(v *almanacv1.Value, millis bool) (int64, bool) {
	if millis {
		if x, ok := v.GetVal().(*almanacv1.Value_UnixTimestampVal); ok {
			return x.UnixTimestampVal, true
		}
		return 0, false
	}
	if x, ok := v.GetVal().(*almanacv1.Value_Int64Val); ok {
		return x.Int64Val, true
	}
	return 0, false
}

// Float32Of returns v's float32.
func Float32Of(v *almanacv1.Value) (float32, bool) {
	if x, ok := v.GetVal().(*almanacv1.Value_FloatVal); ok {
		return x.FloatVal, true
	}
	return 0, false
}

// Float64Of returns v's float64.
func Float64Of(v *almanacv1.Value) (float64, bool) {
	if x, ok := v.GetVal().(*almanacv1.Value_DoubleVal); ok {
		return x.DoubleVal, true
	}
	return 0, false
}

// BoolOf returns v's bool.
func BoolOf(v *almanacv1.Value) (bool, bool) {
	if x, ok := v.GetVal().(*almanacv1.Value_BoolVal); ok {
		return x.BoolVal, true
	}
	return false, false
}

// StringOf returns v's string.
func StringOf(v *almanacv1.Value) (string, bool) {
	if x, ok := v.GetVal().(*almanacv1.Value_StringVal); ok {
		return x.StringVal, true
	}
	return "", false
}

// BytesOf returns v's bytes.
func BytesOf(v *almanacv1.Value) ([]byte, bool) {
	if x, ok := v.GetVal().(*almanacv1.Value_BytesVal); ok {
		return x.BytesVal, true
	}
	return nil, false
}

// Int32s returns the elements of v, a list of representation RepInt32.
func Int32s(v *almanacv1.Value) []int32 { return v.GetInt32ListVal().GetVal() }

// Int64s returns the elements of v, a list of representation RepInt64.
func Int64s(v *almanacv1.Value) []int64 {
	if ms := v.GetUnixTimestampListVal(); ms != nil {
		return ms.GetVal()
	}
	return v.GetInt64ListVal().GetVal()
}

// Float32s returns the elements of v, a list of representation RepFloat32.
func Float32s(v *almanacv1.Value) []float32 { return v.GetFloatListVal().GetVal() }

// Float64s returns the elements of v, a list of representation RepFloat64.
func Float64s(v *almanacv1.Value) []float64 { return v.GetDoubleListVal().GetVal() }

// Bools returns the elements of v, a list of representation RepBool.
func Bools(v *almanacv1.Value) []bool { return v.GetBoolListVal().GetVal() }

// Strings returns the elements of v, a list of representation RepString.
func Strings(v *almanacv1.Value) []string { return v.GetStringListVal().GetVal() }

// ByteStrings returns the elements of v, a list of representation RepBytes.
func ByteStrings(v *almanacv1.Value) [][]byte { return v.GetBytesListVal().GetVal() }
