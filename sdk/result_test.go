package sdk_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/servertest"
	"github.com/almanac-fs/almanac/sdk"
)

// TestGetterMistakes reads a real server's answer the way a new user did on
// the demo: a float getter of an int64 feature, an int getter of a float64
// one, a misspelt name and a row past the end each gave 0 (PRESENT or
// NOT_FOUND), which a pricing app took for a value. Each is an error now;
// what the lookup found (NULL_VALUE, NOT_FOUND, OUTSIDE_MAX_AGE) stays a
// status with no error, and Rows keeps it.
func TestGetterMistakes(t *testing.T) {
	env := servertest.Start(t, servertest.Options{Now: now})
	c, err := sdk.Dial(env.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Drivers 1001 (every value), 1002 (acc_rate null), 1003 (NOT_FOUND).
	q := sdk.Query{Features: []string{"driver_stats"}, Entities: sdk.Entities{"driver_id": {1001, 1002, 1003}}}
	fresh, err := c.GetOnlineFeatures(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	// 90 minutes on, 1001's row (T-1h, TTL 2h) is OUTSIDE_MAX_AGE.
	env.Clock.Advance(90 * time.Minute)
	stale, err := c.GetOnlineFeatures(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}

	checkGetters(t, []getterCase{
		{name: "float64 feature", got: readOf(fresh.Float64(0, "conv_rate")), value: 0.91, st: sdk.Present},
		{name: "int64 feature", got: readOf(fresh.Int64(0, "trips")), value: int64(12), st: sdk.Present},
		{name: "float32 feature", got: readOf(fresh.Float32(0, "acc_rate")), value: float32(0.95), st: sdk.Present},
		{name: "string feature", got: readOf(fresh.String(0, "city")), value: "paris", st: sdk.Present},
		{name: "join key", got: readOf(fresh.Int64(2, "driver_id")), value: int64(1003), st: sdk.Present},

		{name: "Float64 of an int64 feature", got: readOf(fresh.Float64(0, "trips")), is: sdk.ErrType,
			msg: `sdk: Float64(0, "trips"): wrong type: trips is int64; use Int64`},
		{name: "Int64 of a float64 feature", got: readOf(fresh.Int64(0, "conv_rate")), is: sdk.ErrType,
			msg: `sdk: Int64(0, "conv_rate"): wrong type: conv_rate is float64; use Float64`},
		{name: "Float64 of a float32 feature widens", got: readOf(fresh.Float64(0, "acc_rate")), value: float64(float32(0.95)), st: sdk.Present},
		{name: "Float32 of a float64 feature", got: readOf(fresh.Float32(0, "conv_rate")), is: sdk.ErrType, msg: "conv_rate is float64; use Float64"},
		{name: "Int64 of a null float32", got: readOf(fresh.Int64(1, "acc_rate")), is: sdk.ErrType, msg: "acc_rate is float32; use Float32"},
		{name: "Int64 of a NOT_FOUND float64", got: readOf(fresh.Int64(2, "conv_rate")), is: sdk.ErrType, msg: "conv_rate is float64; use Float64"},
		{name: "String of an int64 join key", got: readOf(fresh.String(0, "driver_id")), is: sdk.ErrType, msg: "driver_id is int64; use Int64"},
		{name: "misspelt name", got: readOf(fresh.Float64(0, "conv_rat")), is: sdk.ErrUnknownFeature,
			msg: `sdk: Float64(0, "conv_rat"): unknown feature; did you mean "conv_rate"?`},
		{name: "misspelt name of a NOT_FOUND row", got: readOf(fresh.Float64(2, "Conv_Rate_")), is: sdk.ErrUnknownFeature, msg: `did you mean "conv_rate"?`},
		{name: "full name of a short-named result", got: readOf(fresh.Float64(0, "driver_stats__conv_rate")), is: sdk.ErrUnknownFeature, msg: "unknown feature"},
		{name: "row past the end", got: readOf(fresh.Float64(3, "conv_rate")), is: sdk.ErrRowOutOfRange,
			msg: `sdk: Float64(3, "conv_rate"): row out of range: the result has 3 rows`},
		{name: "negative row", got: readOf(fresh.Int64(-1, "trips")), is: sdk.ErrRowOutOfRange, msg: "row out of range"},

		{name: "NULL_VALUE", got: readOf(fresh.Float32(1, "acc_rate")), value: float32(0), st: sdk.NullValue},
		{name: "NOT_FOUND", got: readOf(fresh.Float64(2, "conv_rate")), value: 0.0, st: sdk.NotFound},
		{name: "OUTSIDE_MAX_AGE", got: readOf(stale.Float64(0, "conv_rate")), value: 0.0, st: sdk.OutsideMaxAge},
		{name: "PRESENT until the TTL", got: readOf(stale.Float64(1, "conv_rate")), value: 0.72, st: sdk.Present},
	})

	// Rows keeps each value's status and event time.
	for _, tt := range []struct {
		name string
		res  *sdk.Result
		row  int
		col  string
		want sdk.Cell
	}{
		{"PRESENT", fresh, 0, "conv_rate", sdk.Cell{Value: 0.91, Status: sdk.Present, EventTime: now.Add(-time.Hour)}},
		{"NULL_VALUE", fresh, 1, "acc_rate", sdk.Cell{Status: sdk.NullValue, EventTime: now.Add(-30 * time.Minute)}},
		{"NOT_FOUND", fresh, 2, "conv_rate", sdk.Cell{Status: sdk.NotFound}},
		{"OUTSIDE_MAX_AGE", stale, 0, "conv_rate", sdk.Cell{Status: sdk.OutsideMaxAge, EventTime: now.Add(-time.Hour)}},
		{"join key", fresh, 2, "driver_id", sdk.Cell{Value: int64(1003), Status: sdk.Present}},
	} {
		t.Run("Rows/"+tt.name, func(t *testing.T) {
			got := tt.res.Rows()[tt.row][tt.col]
			if !got.EventTime.Equal(tt.want.EventTime) || fmt.Sprint(got.Value, got.Status) != fmt.Sprint(tt.want.Value, tt.want.Status) {
				t.Errorf("row %d %s = %v %v at %v, want %v %v at %v", tt.row, tt.col, got.Value, got.Status, got.EventTime, tt.want.Value, tt.want.Status, tt.want.EventTime)
			}
			if cell, err := tt.res.Cell(tt.row, tt.col); err != nil || fmt.Sprintf("%#v", cell) != fmt.Sprintf("%#v", got) {
				t.Errorf("Cell(%d, %s) = %#v, %v; want Rows' %#v", tt.row, tt.col, cell, err, got)
			}
		})
	}
}

// read is what a getter returned.
type read struct {
	value any
	st    sdk.Status
	err   error
}

// readOf gathers what a getter returned: readOf(res.Float64(0, "trips")).
func readOf(v any, st sdk.Status, err error) read { return read{v, st, err} }

// getterCase is a getter's call and what it must return: a value and a
// status, or, when is is set, the zero value and an error wrapping is that
// says msg.
type getterCase struct {
	name  string
	got   read
	value any
	st    sdk.Status
	is    error
	msg   string
}

// checkGetters checks each case in a subtest.
func checkGetters(t *testing.T, cases []getterCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			if tt.is != nil {
				if !errors.Is(tt.got.err, tt.is) || !strings.Contains(fmt.Sprint(tt.got.err), tt.msg) {
					t.Errorf("error %v, want %v saying %q", tt.got.err, tt.is, tt.msg)
				}
				if !reflect.ValueOf(tt.got.value).IsZero() || tt.got.st != 0 {
					t.Errorf("%#v %v with the error, want the zero value and no status", tt.got.value, tt.got.st)
				}
				return
			}
			if tt.got.err != nil {
				t.Fatalf("error %v, want none", tt.got.err)
			}
			if got, want := fmt.Sprintf("%#v %v", tt.got.value, tt.got.st), fmt.Sprintf("%#v %v", tt.value, tt.st); got != want {
				t.Errorf("%s, want %s", got, want)
			}
		})
	}
}
