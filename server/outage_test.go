package server_test

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/almanac-fs/almanac/internal/servertest"
	"github.com/almanac-fs/almanac/sdk"
)

// TestRedisOutage stops Redis under a running server: lookups and pushes
// fail with UNAVAILABLE, with a message that shows nothing of the Redis
// client's error (the server logs it), while the server stays up and
// /readyz says 503;
// when Redis is back (empty), the same server answers again without a
// restart (within the Redis client's reconnect backoff), and serves the
// data once it is written again. The push that failed while Redis was down
// had reached the offline store; pushing it again stores it once.
func TestRedisOutage(t *testing.T) {
	logged := &syncBuffer{}
	env := servertest.Start(t, servertest.Options{Backend: servertest.Redis, Logger: newLogger(logged)})
	// A generous deadline: the failure must be the store's, not the clock's.
	c := dial(t, env.Addr, sdk.WithTimeout(30*time.Second))
	query := sdk.Query{FeatureService: servertest.DriverRanking, Entities: drivers(1001)}
	lookup := func(t *testing.T, want sdk.Status) {
		t.Helper()
		res, err := c.GetOnlineFeatures(t.Context(), query)
		if err != nil {
			t.Fatalf("lookup: %v", err)
		}
		if c, err := res.Cell(0, "conv_rate"); err != nil || c.Status != want {
			t.Fatalf("conv_rate of 1001: %v, %v; want %v", c.Status, err, want)
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
		// The Redis client's error names Redis's address: the server logs
		// it, and tells clients only that the store is unavailable.
		_, port, _ := net.SplitHostPort(env.Redis.Addr())
		if msg := status.Convert(err).Message(); strings.Contains(msg, port) || strings.Contains(msg, "refused") {
			t.Errorf("message %q shows the Redis client's error", msg)
		}
		if !strings.Contains(logged.String(), env.Redis.Addr()) {
			t.Errorf("the server log does not hold the Redis client's error:\n%s", logged.String())
		}
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

// TestRedisFrozen freezes Redis (SIGSTOP: its port takes connections, but
// nothing is answered) under a running server. A lookup and a push with a
// generous deadline fail with UNAVAILABLE saying that the online store did
// not answer in time, once serving.online_timeout has passed, not when the
// client's deadline or the Redis client's timeouts and retries run out; the
// message shows nothing of the Redis client's error, which the server's log
// holds. Thawed, Redis answers the same server again.
func TestRedisFrozen(t *testing.T) {
	logged := &syncBuffer{}
	env := servertest.Start(t, servertest.Options{
		Backend:       servertest.Redis,
		OnlineTimeout: 200 * time.Millisecond,
		Logger:        newLogger(logged),
	})
	const deadline = 30 * time.Second
	c := dial(t, env.Addr, sdk.WithTimeout(deadline))
	query := sdk.Query{FeatureService: servertest.DriverRanking, Entities: drivers(1001)}
	if _, err := c.GetOnlineFeatures(t.Context(), query); err != nil {
		t.Fatalf("lookup before the freeze: %v", err)
	}
	_, port, _ := net.SplitHostPort(env.Redis.Addr())

	env.Redis.Freeze()
	calls := []struct {
		name string
		call func() error
	}{
		{"lookup", func() error {
			_, err := c.GetOnlineFeatures(t.Context(), query)
			return err
		}},
		{"push", func() error {
			_, err := c.Push(t.Context(), servertest.PushSource, map[string][]any{"driver_id": {1001}, "event_ts": {env.Now}, "lat": {1.0}})
			return err
		}},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			began := time.Now()
			err := tt.call()
			took := time.Since(began)
			t.Logf("%s answered in %v with %v", tt.name, took, err)
			checkStatus(t, err, codes.Unavailable, "online store", "did not answer in time")
			if msg := status.Convert(err).Message(); strings.Contains(msg, port) {
				t.Errorf("message %q shows the Redis port %s", msg, port)
			}
			// Far above the bound, far below the stall this guards against
			// (the Redis client's read timeout times its retries).
			if took > 10*time.Second {
				t.Errorf("%s took %v with an online_timeout of 200ms", tt.name, took)
			}
		})
	}
	if !strings.Contains(logged.String(), "keys from redis") {
		t.Errorf("the server log does not hold the Redis error:\n%s", logged.String())
	}

	env.Redis.Thaw()
	eventually(t, "lookups to succeed once Redis is thawed", func() bool {
		_, err := c.GetOnlineFeatures(t.Context(), query)
		return err == nil
	})
	res, err := c.GetOnlineFeatures(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := res.Cell(0, "conv_rate"); err != nil || c.Status != sdk.Present {
		t.Errorf("conv_rate of 1001 after the thaw: %v, %v; want %v (a frozen Redis keeps its data)", c.Status, err, sdk.Present)
	}
}
