package main

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/window"
	"github.com/almanac-fs/almanac/window/windowtest"
)

// checkSample is how many users the checks before timing look up.
const checkSample = 100

// sampleIDs returns checkSample users spread over entities, the last one
// included.
func sampleIDs(entities int64) []int64 {
	ids := make([]int64, checkSample)
	for i := range ids {
		ids[i] = int64(i) * (entities - 1) / (checkSample - 1)
	}
	return ids
}

// check looks each user of the sample up on both services: the plain
// values must be those written, the window values those of
// window.Evaluate over the user's events at a time within the request.
func (fx *fixture) check(ctx context.Context, conn *grpc.ClientConn) error {
	client := almanacv1.NewFeatureServerClient(conn)
	for _, id := range sampleIDs(fx.entities) {
		resp, err := client.GetOnlineFeatures(ctx, lookupRequest(plainService, id))
		if err != nil {
			return fmt.Errorf("look up user %d in %s: %w", id, plainService, err)
		}
		if err := checkValues(resp, fx.plainRow(id).Values); err != nil {
			return fmt.Errorf("user %d, %s: %w", id, plainService, err)
		}
		before := time.Now()
		resp, err = client.GetOnlineFeatures(ctx, lookupRequest(windowed, id))
		if err != nil {
			return fmt.Errorf("look up user %d in %s: %w", id, windowed, err)
		}
		// The server's now lies between before and after; a hop boundary
		// may fall between them.
		var errs []error
		for _, t := range []time.Time{before, time.Now()} {
			want, _ := window.Evaluate(fx.sample[id], fx.aggs, fx.windows.Windows, t)
			if errs = append(errs, checkValues(resp, want)); errs[len(errs)-1] == nil {
				break
			}
		}
		if errs[len(errs)-1] != nil {
			return fmt.Errorf("user %d, %s: %w", id, windowed, errs[0])
		}
	}
	return nil
}

// checkValues compares the values of a one-user response with want, in
// order, float64 values within 1e-9 relative (windowtest.Equal): the tiles
// add a window's values in another order than window.Evaluate.
func checkValues(resp *almanacv1.GetOnlineFeaturesResponse, want []*almanacv1.Value) error {
	cols := resp.GetResults()[1:] // the join key first
	names := resp.GetMetadata().GetFeatureNames().GetVal()[1:]
	if len(cols) != len(want) {
		return fmt.Errorf("%d features, want %d", len(cols), len(want))
	}
	for i, col := range cols {
		if len(col.GetValues()) != 1 {
			return fmt.Errorf("feature %s: %d values for 1 user", names[i], len(col.GetValues()))
		}
		if st := col.GetStatuses()[0]; st != almanacv1.FieldStatus_PRESENT {
			return fmt.Errorf("feature %s: status %s, want PRESENT", names[i], st)
		}
		if got := col.GetValues()[0]; !windowtest.Equal(got, want[i]) {
			return fmt.Errorf("feature %s: %v, want %v", names[i], got, want[i])
		}
	}
	return nil
}
