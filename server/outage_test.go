package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/almanac-fs/almanac/internal/servertest"
	"github.com/almanac-fs/almanac/sdk"
)

// TestRedisOutage stops Redis under a running server: lookups and pushes
// fail with UNAVAILABLE while the server stays up and /readyz says 503;
// when Redis is back (empty), the same server answers again without a
// restart (within the Redis client's reconnect backoff), and serves the
// data once it is written again. The push that failed while Redis was down
// had reached the offline store; pushing it again stores it once.
func TestRedisOutage(t *testing.T) {
	env := servertest.Start(t, servertest.Options{Backend: servertest.Redis})
	// A generous deadline: the failure must be the store's, not the clock's.
	c := dial(t, env.Addr, sdk.WithTimeout(30*time.Second))
	query := sdk.Query{FeatureService: servertest.DriverRanking, Entities: drivers(1001)}
	lookup := func(t *testing.T, want sdk.Status) {
		t.Helper()
		res, err := c.GetOnlineFeatures(t.Context(), query)
		if err != nil {
			t.Fatalf("lookup: %v", err)
		}
		if st := res.Status(0, "conv_rate"); st != want {
			t.Fatalf("conv_rate of 1001: %v, want %v", st, want)
		}
	}
	readyz := func(t *testing.T, want int, mentions string) {
		t.Helper()
		body, code := get(t, env.HTTPURL+"/readyz")
		if code != want || !strings.Contains(body, mentions) {
			t.Errorf("/readyz: %d %q, want %d mentioning %q", code, body, want, mentions)
		}
	}

	lookup(t, sdk.Present)
	readyz(t, http.StatusOK, "ready")

	env.Redis.Stop()
	t.Run("down", func(t *testing.T) {
		_, err := c.GetOnlineFeatures(t.Context(), query)
		checkStatus(t, err, codes.Unavailable, "online store")
		_, err = c.Push(t.Context(), servertest.PushSource, map[string][]any{"driver_id": {1001}, "event_ts": {env.Now}, "lat": {1.0}})
		checkStatus(t, err, codes.Unavailable)
		readyz(t, http.StatusServiceUnavailable, "online store")
		if body, code := get(t, env.HTTPURL+"/healthz"); code != http.StatusOK {
			t.Errorf("/healthz while Redis is down: %d %q, want 200 (the process is fine)", code, body)
		}
		if got := scrape(t, env)[series("almanac_online_store_errors_total", "op", "read")]; got < 1 {
			t.Errorf("almanac_online_store_errors_total{op=read} = %v, want at least 1", got)
		}
		unavailable := series("almanac_requests_total", "code", "Unavailable", "feature_service", servertest.DriverRanking, "method", "/almanac.v1.FeatureServer/GetOnlineFeatures")
		eventually(t, unavailable, func() bool { return scrape(t, env)[unavailable] == 1 })
	})

	env.Redis.Restart()
	t.Run("back, empty", func(t *testing.T) {
		// The Redis client may hold on to its last dial error for a moment
		// after Redis is back; the server recovers by itself soon after.
		eventually(t, "lookups to succeed", func() bool {
			_, err := c.GetOnlineFeatures(t.Context(), query)
			return err == nil
		})
		lookup(t, sdk.NotFound)
		eventually(t, "/readyz to say ready", func() bool {
			_, code := get(t, env.HTTPURL+"/readyz")
			return code == http.StatusOK
		})
		readyz(t, http.StatusOK, "ready")
	})

	if err := env.Materialize(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Run("back, materialized again", func(t *testing.T) {
		lookup(t, sdk.Present)
		n, err := c.Push(t.Context(), servertest.PushSource, map[string][]any{"driver_id": {1001}, "event_ts": {env.Now}, "lat": {1.0}})
		if err != nil || n != 1 {
			t.Errorf("push after Redis is back: %d, %v", n, err)
		}
		pushed := fmt.Sprintf("1001 %s 1 ", env.Now.UTC().Format(time.RFC3339))
		var held []string
		for _, r := range offlineRows(t, env, "driver_location") {
			if strings.HasPrefix(r, pushed) {
				held = append(held, r)
			}
		}
		if len(held) != 1 {
			t.Errorf("offline history holds the row pushed twice as %q, want it once", held)
		}
	})
}
