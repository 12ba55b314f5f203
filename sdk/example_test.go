package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/almanac-fs/almanac/internal/servertest"
	"github.com/almanac-fs/almanac/sdk"
)

// now is the present of the examples' feature server: its data is relative
// to it and its clock stands still at it, so the output never changes.
var now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// startServer starts a feature server for an example, over a small feature
// repository (drivers 1001-1005, see internal/servertest) on the embedded
// online store. A serving application dials its own server instead.
func startServer() (addr string, stop func()) {
	env, stop, err := servertest.New(servertest.Options{Now: now})
	if err != nil {
		log.Fatal(err)
	}
	return env.Addr, stop
}

// lookup runs one query on a feature server for an example of reading its
// result.
func lookup(q sdk.Query) *sdk.Result {
	addr, stop := startServer()
	defer stop()
	c, err := sdk.Dial(addr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	res, err := c.GetOnlineFeatures(context.Background(), q)
	if err != nil {
		log.Fatal(err)
	}
	return res
}

func ExampleDial() {
	addr, stop := startServer()
	defer stop()

	// One client per process: it is safe for concurrent use and keeps one
	// connection. Calls without a deadline get 500ms; UNAVAILABLE is
	// retried up to 3 attempts in all.
	c, err := sdk.Dial(addr, sdk.WithTimeout(500*time.Millisecond), sdk.WithRetry(3, 20*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	res, err := c.GetOnlineFeatures(context.Background(), sdk.Query{
		FeatureService: "driver_ranking_v1",
		Entities:       sdk.Entities{"driver_id": {1001}},
	})
	if err != nil {
		log.Fatal(err)
	}
	rate, status, err := res.Float64(0, "conv_rate")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rate, status)
	// Output: 0.91 PRESENT
}

func ExampleResult_Float64() {
	res := lookup(sdk.Query{
		FeatureService: "driver_ranking_v1",
		Entities:       sdk.Entities{"driver_id": {1001, 1003}},
	})
	// Only a PRESENT status carries a value: driver 1003 has no
	// driver_stats row (NOT_FOUND), so its rate is a default, not the 0
	// Float64 returns. The error is for mistakes in the code.
	for row := range res.Len() {
		rate, status, err := res.Float64(row, "conv_rate")
		if err != nil {
			log.Fatal(err)
		}
		if status != sdk.Present {
			rate = 0.5
		}
		fmt.Println(rate, status)
	}

	// A getter of the wrong type, a misspelt name or a row past the end is
	// an error, never a zero.
	_, _, err := res.Float64(0, "trips")
	fmt.Println(err, errors.Is(err, sdk.ErrType))
	_, _, err = res.Float64(0, "conv_rat")
	fmt.Println(err, errors.Is(err, sdk.ErrUnknownFeature))
	_, _, err = res.Float64(2, "conv_rate")
	fmt.Println(err, errors.Is(err, sdk.ErrRowOutOfRange))
	// Output:
	// 0.91 PRESENT
	// 0.5 NOT_FOUND
	// sdk: Float64(0, "trips"): wrong type: trips is int64; use Int64 true
	// sdk: Float64(0, "conv_rat"): unknown feature; did you mean "conv_rate"? true
	// sdk: Float64(2, "conv_rate"): row out of range: the result has 2 rows true
}

func ExampleClient_GetOnlineFeatures() {
	addr, stop := startServer()
	defer stop()
	c, err := sdk.Dial(addr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	res, err := c.GetOnlineFeatures(context.Background(), sdk.Query{
		FeatureService: "driver_ranking_v1",
		Entities:       sdk.Entities{"driver_id": {1001, 1002, 1003, 1005}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Names())
	for row := range res.Len() {
		id, _, err1 := res.Int64(row, "driver_id")
		rate, rateStatus, err2 := res.Float64(row, "conv_rate")
		acc, accStatus, err3 := res.Float32(row, "acc_rate")
		emb, embStatus, err4 := res.Float32s(row, "embedding")
		cell, err5 := res.Cell(row, "conv_rate")
		if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("driver %d: conv_rate %v %v, acc_rate %v %v, embedding %v %v\n", id, rate, rateStatus, acc, accStatus, emb, embStatus)
		if !cell.EventTime.IsZero() {
			fmt.Printf("  driver_stats as of %v before now\n", now.Sub(cell.EventTime))
		}
	}
	// Output:
	// [driver_id conv_rate acc_rate trips city embedding]
	// driver 1001: conv_rate 0.91 PRESENT, acc_rate 0.95 PRESENT, embedding [0.1 0.2 0.3 0.4] PRESENT
	//   driver_stats as of 1h0m0s before now
	// driver 1002: conv_rate 0.72 PRESENT, acc_rate 0 NULL_VALUE, embedding [0.5 0.6 0.7 0.8] PRESENT
	//   driver_stats as of 30m0s before now
	// driver 1003: conv_rate 0 NOT_FOUND, acc_rate 0 NOT_FOUND, embedding [-0.25 0 0.25 1] PRESENT
	// driver 1005: conv_rate 0 NOT_FOUND, acc_rate 0 NOT_FOUND, embedding [] NOT_FOUND
}

func ExampleClient_Push() {
	addr, stop := startServer()
	defer stop()
	c, err := sdk.Dial(addr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	// Rows of the push source driver_location, column-wise, with the event
	// time. They are served at once and kept in the offline history.
	n, err := c.Push(ctx, "driver_location", map[string][]any{
		"driver_id": {1001, 1002},
		"event_ts":  {now.Add(-time.Minute), now.Add(-2 * time.Minute)},
		"lat":       {48.8566, 45.764},
		"lon":       {2.3522, 4.8357},
		"status":    {"available", "on_trip"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pushed", n, "rows")

	res, err := c.GetOnlineFeatures(ctx, sdk.Query{
		Features: []string{"driver_location:status", "driver_location:lat"},
		Entities: sdk.Entities{"driver_id": {1001, 1002, 1003}},
	})
	if err != nil {
		log.Fatal(err)
	}
	for row := range res.Len() {
		id, _, err1 := res.Int64(row, "driver_id")
		status, st, err2 := res.String(row, "status")
		lat, _, err3 := res.Float64(row, "lat")
		if err := errors.Join(err1, err2, err3); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("driver %d: %q %v (%v)\n", id, status, lat, st)
	}
	// Output:
	// pushed 2 rows
	// driver 1001: "available" 48.8566 (PRESENT)
	// driver 1002: "on_trip" 45.764 (PRESENT)
	// driver 1003: "" 0 (NOT_FOUND)
}

func ExampleResult_Rows() {
	res := lookup(sdk.Query{
		Features:  []string{"driver_stats:conv_rate", "driver_stats:city", "customer_stats:tier"},
		Entities:  sdk.Entities{"driver_id": {1001, 1002}, "customer_id": {501, 502}},
		FullNames: true,
	})
	// One map per entity row, column name to cell: the value (nil unless
	// PRESENT), its status and event time. A cell prints as its value, or
	// its status when it has none.
	rows := res.Rows()
	for _, row := range rows {
		fmt.Println(row)
	}
	tier := rows[1]["customer_stats__tier"]
	fmt.Println(tier.Value, tier.Status)
	// Output:
	// map[customer_id:501 customer_stats__tier:gold driver_id:1001 driver_stats__city:paris driver_stats__conv_rate:0.91]
	// map[customer_id:502 customer_stats__tier:<OUTSIDE_MAX_AGE> driver_id:1002 driver_stats__city:lyon driver_stats__conv_rate:0.72]
	// <nil> OUTSIDE_MAX_AGE
}
