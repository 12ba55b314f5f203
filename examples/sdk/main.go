// Command sdk is a serving application in miniature: it waits for a feature
// server, looks up features of the demo repository through the Go SDK,
// pushes a driver's location and reads it back. `make demo` runs it against
// `almanac serve`.
//
//	go run ./examples/sdk -addr 127.0.0.1:6566
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/almanac-fs/almanac/sdk"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:6566", "feature server address")
	wait := flag.Duration("wait", 30*time.Second, "how long to wait for the server to be ready")
	traffic := flag.Int("traffic", 0, "then price this many trips with trip_pricing_v1, for random drivers and customers")
	flag.Parse()
	ctx := context.Background()
	if err := waitReady(ctx, *addr, *wait); err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, *addr, *traffic); err != nil {
		fmt.Fprintln(os.Stderr, "sdk example:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr string, traffic int) error {
	client, err := sdk.Dial(addr)
	if err != nil {
		return err
	}
	defer client.Close()

	// Rank two candidate drivers: one lookup, one round trip, every feature
	// of the service.
	res, err := client.GetOnlineFeatures(ctx, sdk.Query{
		FeatureService: "driver_ranking_v1",
		Entities:       sdk.Entities{"driver_id": {1001, 1002}},
	})
	if err != nil {
		return fmt.Errorf("look up driver_ranking_v1: %w", err)
	}
	fmt.Println("driver_ranking_v1:")
	// A getter's error is a mistake in this code (a misspelt name, the
	// getter of another type); its status says whether there is a value.
	for row := range res.Len() {
		id, _, err1 := res.Int64(row, "driver_id")
		conv, err2 := res.Cell(row, "conv_rate")
		trips, err3 := res.Cell(row, "trips_7d")
		if err := errors.Join(err1, err2, err3); err != nil {
			return fmt.Errorf("read driver_ranking_v1: %w", err)
		}
		fmt.Printf("  driver %d: conv_rate %v (%s, as of %s), trips_7d %v\n",
			id, conv, conv.Status, conv.EventTime.Format(time.RFC3339), trips)
	}

	// The driver app reports a position: push it, and it is served at once.
	now := time.Now().UTC()
	n, err := client.Push(ctx, "driver_location", map[string][]any{
		"driver_id": {int64(1001)},
		"event_ts":  {now},
		"lat":       {38.7223},
		"lon":       {-9.1393},
		"status":    {"available"},
	})
	if err != nil {
		return fmt.Errorf("push driver_location: %w", err)
	}
	fmt.Printf("pushed %d row to driver_location at %s\n", n, now.Format(time.RFC3339))

	res, err = client.GetOnlineFeatures(ctx, sdk.Query{
		FeatureService: "driver_dispatch_v1",
		Entities:       sdk.Entities{"driver_id": {1001}},
	})
	if err != nil {
		return fmt.Errorf("look up driver_dispatch_v1: %w", err)
	}
	status, st, err1 := res.String(0, "status")
	lat, _, err2 := res.Float64(0, "lat")
	lon, _, err3 := res.Float64(0, "lon")
	emb, _, err4 := res.Float32s(0, "embedding")
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return fmt.Errorf("read driver_dispatch_v1: %w", err)
	}
	fmt.Printf("driver_dispatch_v1: driver 1001 is %s (%s) at %.4f,%.4f; embedding of %d floats\n", status, st, lat, lon, len(emb))
	if traffic > 0 {
		return priceTrips(ctx, client, traffic)
	}
	return nil
}

// priceTrips looks up trip_pricing_v1 for n random (driver, customer) pairs
// of the demo, ten per request, as a pricing service would.
func priceTrips(ctx context.Context, client *sdk.Client, n int) error {
	rng := rand.New(rand.NewPCG(1, 2))
	began := time.Now()
	for done := 0; done < n; done += 10 {
		drivers, customers := make([]any, 10), make([]any, 10)
		for i := range drivers {
			drivers[i] = int64(1001 + rng.IntN(100))
			customers[i] = int64(5001 + rng.IntN(500))
		}
		if _, err := client.GetOnlineFeatures(ctx, sdk.Query{
			FeatureService: "trip_pricing_v1",
			Entities:       sdk.Entities{"driver_id": drivers, "customer_id": customers},
		}); err != nil {
			return fmt.Errorf("look up trip_pricing_v1: %w", err)
		}
	}
	fmt.Printf("priced %d trips with trip_pricing_v1 in %s\n", n, time.Since(began).Round(time.Millisecond))
	return nil
}

// waitReady polls the server's gRPC health check until it is SERVING.
func waitReady(ctx context.Context, addr string, timeout time.Duration) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline := time.Now().Add(timeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("feature server at %s not ready after %s: %v", addr, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
