package sdk

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/almanac-fs/almanac/internal/values"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// Status tells what a lookup found for one feature of one entity row.
type Status = almanacv1.FieldStatus

// Statuses of looked-up values.
const (
	Present       = almanacv1.FieldStatus_PRESENT
	NullValue     = almanacv1.FieldStatus_NULL_VALUE
	NotFound      = almanacv1.FieldStatus_NOT_FOUND
	OutsideMaxAge = almanacv1.FieldStatus_OUTSIDE_MAX_AGE
)

// Errors of reading a result, for errors.Is. They are mistakes of the
// caller, never what a lookup found: a value the lookup did not find is a
// Status, not an error.
var (
	// ErrUnknownFeature means the name is not a column of the result.
	ErrUnknownFeature = errors.New("unknown feature")
	// ErrType means the getter does not read the column's type; the error
	// names the type and the getter that does.
	ErrType = errors.New("wrong type")
	// ErrRowOutOfRange means the row is negative or not less than Len.
	ErrRowOutOfRange = errors.New("row out of range")
)

// Result is the answer to a lookup: one column per join key and feature,
// one row per entity row of the query, in the query's order. Getters take
// the row and the column's name as the server named it ("conv_rate", or
// "driver_stats__conv_rate" with full names) and return the value, its
// Status and an error.
//
// Only a Present status carries a value: for NullValue, NotFound and
// OutsideMaxAge the value is the zero value and must not be used as one.
// The error is for the caller's mistakes: an unknown name
// (ErrUnknownFeature, with the closest name), a getter of another type
// (ErrType: "trips is int64; use Int64") or a row out of range
// (ErrRowOutOfRange). A Float64 of an int64 feature is an error, never a 0.
// The type is that of the cell's value or, for a null cell, of the other
// values in its column; a column with no value in any row is not checked.
//
// A Result is safe for concurrent reads.
type Result struct {
	resp  *almanacv1.GetOnlineFeaturesResponse
	names []string
	index map[string]int
	cols  []*almanacv1.GetOnlineFeaturesResponse_FeatureVector
	types []registry.Type // of each column's values; zero when all are null
	rows  int
}

// Cell is one value of a result, with what the lookup found.
type Cell struct {
	// Value is the Go value (see GoValue); nil unless Status is Present.
	Value any
	// Status says what the lookup found.
	Status Status
	// EventTime is the event time of the row the value comes from; zero
	// for join keys and NotFound.
	EventTime time.Time
}

// String returns the value when it is Present, and the status in angle
// brackets ("<NOT_FOUND>") when there is none.
func (c Cell) String() string {
	if c.Status != Present {
		return "<" + c.Status.String() + ">"
	}
	return fmt.Sprint(c.Value)
}

// newResult wraps a response, refusing one whose shape does not match its
// names (a broken or foreign server), so that getters never go out of range.
func newResult(resp *almanacv1.GetOnlineFeaturesResponse) (*Result, error) {
	r := &Result{resp: resp, names: resp.GetMetadata().GetFeatureNames().GetVal(), cols: resp.GetResults()}
	if len(r.cols) != len(r.names) {
		return nil, fmt.Errorf("sdk: malformed response: %d names but %d columns", len(r.names), len(r.cols))
	}
	if len(r.cols) > 0 {
		r.rows = len(r.cols[0].GetValues())
	}
	r.index = make(map[string]int, len(r.names))
	r.types = make([]registry.Type, len(r.names))
	for i, n := range r.names {
		r.index[n] = i
		c := r.cols[i]
		if len(c.GetValues()) != r.rows || len(c.GetStatuses()) != r.rows || len(c.GetEventTimestamps()) > 0 && len(c.GetEventTimestamps()) != r.rows {
			return nil, fmt.Errorf("sdk: malformed response: column %q does not have %d values, statuses and times", n, r.rows)
		}
		for _, v := range c.GetValues() {
			if t := values.TypeOf(v); t.Valid() {
				r.types[i] = t
				break
			}
		}
	}
	return r, nil
}

// Response returns the response the result was made from. It must not be
// modified.
func (r *Result) Response() *almanacv1.GetOnlineFeaturesResponse { return r.resp }

// Names returns the column names: join keys first, then features.
func (r *Result) Names() []string { return r.names }

// Len returns the number of entity rows.
func (r *Result) Len() int { return r.rows }

// locate returns the column of name, or an error saying why getter cannot
// read row of it.
func (r *Result) locate(getter string, row int, name string) (int, error) {
	i, ok := r.index[name]
	if !ok {
		return 0, fmt.Errorf("sdk: %s(%d, %q): %w%s", getter, row, registry.Clip(name), ErrUnknownFeature, registry.DidYouMean(name, r.names))
	}
	if row < 0 || row >= r.rows {
		return 0, fmt.Errorf("sdk: %s(%d, %q): %w: the result has %d rows", getter, row, name, ErrRowOutOfRange, r.rows)
	}
	return i, nil
}

// cell returns one cell of column i.
func (r *Result) cell(i, row int) (*almanacv1.Value, Status, time.Time) {
	c := r.cols[i]
	var ts time.Time
	if t := c.GetEventTimestamps(); row < len(t) && t[row].GetSeconds()+int64(t[row].GetNanos()) != 0 {
		ts = t[row].AsTime()
	}
	return c.GetValues()[row], c.GetStatuses()[row], ts
}

// read returns the wire value and status of one cell for getter, or an
// error when getter does not read the cell's type (see getters).
func (r *Result) read(getter string, row int, name string) (*almanacv1.Value, Status, error) {
	i, err := r.locate(getter, row, name)
	if err != nil {
		return nil, 0, err
	}
	v, st, _ := r.cell(i, row)
	t := values.TypeOf(v)
	if !t.Valid() {
		t = r.types[i]
	}
	if t.Valid() && !slices.Contains(getters[getter], t) {
		return nil, 0, fmt.Errorf("sdk: %s(%d, %q): %w: %s is %s; use %s", getter, row, name, ErrType, name, t, getterOf(t))
	}
	return v, st, nil
}

// get reads one cell with getter and converts its value with conv, which
// takes a nil or unset value to the zero value.
func get[T any](r *Result, getter string, row int, name string, conv func(*almanacv1.Value) T) (T, Status, error) {
	v, st, err := r.read(getter, row, name)
	return conv(v), st, err
}

// Cell returns one cell as a Go value with its status and event time; it
// reads every type.
func (r *Result) Cell(row int, name string) (Cell, error) {
	i, err := r.locate("Cell", row, name)
	if err != nil {
		return Cell{}, err
	}
	v, st, ts := r.cell(i, row)
	return Cell{Value: GoValue(v), Status: st, EventTime: ts}, nil
}

// Float64 returns a float64 feature (float32 values are widened).
func (r *Result) Float64(row int, name string) (float64, Status, error) {
	return get(r, "Float64", row, name, func(v *almanacv1.Value) float64 {
		if values.TypeOf(v) == registry.TypeFloat32 {
			return float64(v.GetFloatVal())
		}
		return v.GetDoubleVal()
	})
}

// Float32 returns a float32 feature.
func (r *Result) Float32(row int, name string) (float32, Status, error) {
	return get(r, "Float32", row, name, (*almanacv1.Value).GetFloatVal)
}

// Int64 returns an int64 feature (int32 values are widened).
func (r *Result) Int64(row int, name string) (int64, Status, error) {
	return get(r, "Int64", row, name, func(v *almanacv1.Value) int64 {
		if values.TypeOf(v) == registry.TypeInt32 {
			return int64(v.GetInt32Val())
		}
		return v.GetInt64Val()
	})
}

// Int32 returns an int32 feature.
func (r *Result) Int32(row int, name string) (int32, Status, error) {
	return get(r, "Int32", row, name, (*almanacv1.Value).GetInt32Val)
}

// String returns a string feature.
func (r *Result) String(row int, name string) (string, Status, error) {
	return get(r, "String", row, name, (*almanacv1.Value).GetStringVal)
}

// Bool returns a bool feature.
func (r *Result) Bool(row int, name string) (bool, Status, error) {
	return get(r, "Bool", row, name, (*almanacv1.Value).GetBoolVal)
}

// Bytes returns a bytes feature.
func (r *Result) Bytes(row int, name string) ([]byte, Status, error) {
	return get(r, "Bytes", row, name, (*almanacv1.Value).GetBytesVal)
}

// Time returns a timestamp feature; the zero time when there is no value.
func (r *Result) Time(row int, name string) (time.Time, Status, error) {
	return get(r, "Time", row, name, func(v *almanacv1.Value) time.Time {
		if values.TypeOf(v) == registry.TypeTimestamp {
			return values.Time(v)
		}
		return time.Time{}
	})
}

// Float32s returns a list<float32> feature, such as an embedding.
func (r *Result) Float32s(row int, name string) ([]float32, Status, error) {
	return get(r, "Float32s", row, name, func(v *almanacv1.Value) []float32 { return v.GetFloatListVal().GetVal() })
}

// Float64s returns a list<float64> feature.
func (r *Result) Float64s(row int, name string) ([]float64, Status, error) {
	return get(r, "Float64s", row, name, func(v *almanacv1.Value) []float64 { return v.GetDoubleListVal().GetVal() })
}

// Int64s returns a list<int64> feature.
func (r *Result) Int64s(row int, name string) ([]int64, Status, error) {
	return get(r, "Int64s", row, name, func(v *almanacv1.Value) []int64 { return v.GetInt64ListVal().GetVal() })
}

// Strings returns a list<string> feature.
func (r *Result) Strings(row int, name string) ([]string, Status, error) {
	return get(r, "Strings", row, name, func(v *almanacv1.Value) []string { return v.GetStringListVal().GetVal() })
}

// Rows returns the result as one map per entity row, column name to cell:
// its Go value (nil unless Present), status and event time.
func (r *Result) Rows() []map[string]Cell {
	out := make([]map[string]Cell, r.rows)
	for row := range r.rows {
		m := make(map[string]Cell, len(r.names))
		for i, name := range r.names {
			v, st, ts := r.cell(i, row)
			m[name] = Cell{Value: GoValue(v), Status: st, EventTime: ts}
		}
		out[row] = m
	}
	return out
}

// GoValue converts a wire value to Go: nil, int32, int64, float32, float64,
// bool, string, []byte, time.Time, or a typed slice of one of those.
func GoValue(v *almanacv1.Value) any { return values.Go(v) }

// getters lists the types each typed getter reads: its own first, then
// those it widens. Cell reads every type.
var getters = map[string][]registry.Type{
	"Int32":    {registry.TypeInt32},
	"Int64":    {registry.TypeInt64, registry.TypeInt32},
	"Float32":  {registry.TypeFloat32},
	"Float64":  {registry.TypeFloat64, registry.TypeFloat32},
	"Bool":     {registry.TypeBool},
	"String":   {registry.TypeString},
	"Bytes":    {registry.TypeBytes},
	"Time":     {registry.TypeTimestamp},
	"Int64s":   {registry.ListOf(registry.Int64)},
	"Float32s": {registry.ListOf(registry.Float32)},
	"Float64s": {registry.ListOf(registry.Float64)},
	"Strings":  {registry.ListOf(registry.String)},
}

// getterOf returns the getter whose own type is t, or Cell.
func getterOf(t registry.Type) string {
	for g, types := range getters {
		if types[0] == t {
			return g
		}
	}
	return "Cell"
}
