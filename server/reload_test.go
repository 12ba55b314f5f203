package server_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/almanac-fs/almanac/internal/servertest"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/sdk"
	"github.com/almanac-fs/almanac/server"
)

// syncBuffer is a bytes.Buffer safe for concurrent use, to capture logs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger(w *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// writeBrokenVersion writes the registry's next version as a copy of the
// current one plus a feature service over a view that does not exist,
// which the server cannot serve. It returns the version written.
func writeBrokenVersion(t *testing.T, env *servertest.Env) int64 {
	t.Helper()
	reg, err := env.Registry.Update(t.Context(), func(cur *almanacv1.Registry) (*almanacv1.Registry, string, error) {
		next := proto.CloneOf(cur)
		next.FeatureServices = append(next.FeatureServices, &almanacv1.FeatureService{
			Name:     "broken_v1",
			Features: []*almanacv1.FeatureReference{{View: "no_such_view"}},
		})
		return next, "a service over a missing view", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return reg.GetVersion()
}

// load runs lookups from several goroutines until stop is called, and
// records every failure.
type load struct {
	done     atomic.Int64
	mu       sync.Mutex
	failures []string
	stop     context.CancelFunc
	wg       sync.WaitGroup
}

func startLoad(c *sdk.Client, queries func() []sdk.Query, check func(*sdk.Result) error) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{stop: cancel}
	for range 4 {
		l.wg.Go(func() {
			for ctx.Err() == nil {
				for _, q := range queries() {
					res, err := c.GetOnlineFeatures(context.Background(), q)
					if err == nil {
						err = check(res)
					}
					if err != nil {
						l.mu.Lock()
						l.failures = append(l.failures, fmt.Sprintf("%s%v: %v", q.FeatureService, q.Features, err))
						l.mu.Unlock()
					}
					l.done.Add(1)
				}
			}
		})
	}
	return l
}

// waitFor waits until n more lookups have been made.
func (l *load) waitFor(t *testing.T, n int64) {
	t.Helper()
	target := l.done.Load() + n
	eventually(t, fmt.Sprintf("%d more lookups", n), func() bool { return l.done.Load() >= target })
}

func (l *load) finish(t *testing.T) {
	t.Helper()
	l.stop()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) > 0 {
		t.Errorf("%d of %d lookups failed during reloads; first: %s", len(l.failures), l.done.Load(), l.failures[0])
	}
}

// TestReloadUnderLoad applies new registry versions while lookups run
// without pause: a new version is picked up by the reload loop without a
// failed request, a version that cannot be served is refused (the old one
// keeps serving; logged and counted), and a good version after it is served.
func TestReloadUnderLoad(t *testing.T) {
	logs := &syncBuffer{}
	env := servertest.Start(t, servertest.Options{RunReload: true, ReloadInterval: 5 * time.Millisecond, Logger: newLogger(logs)})
	c := dial(t, env.Addr)
	first := env.Server.Version()

	var v2 atomic.Bool
	queries := func() []sdk.Query {
		qs := []sdk.Query{
			{FeatureService: servertest.DriverRanking, Entities: drivers(1001, 1002)},
			{Features: []string{"driver_stats:conv_rate", "driver_embedding"}, Entities: drivers(1001, 1002)},
		}
		if v2.Load() {
			qs = append(qs, sdk.Query{FeatureService: "driver_ranking_v2", Entities: drivers(1001, 1002)})
		}
		return qs
	}
	check := func(res *sdk.Result) error {
		if got, st, err := res.Float64(0, "conv_rate"); got != 0.91 || st != sdk.Present || err != nil {
			return fmt.Errorf("driver 1001 conv_rate = %v %v, %v; want 0.91 PRESENT", got, st, err)
		}
		if got, st, err := res.Float32s(1, "embedding"); len(got) != 4 || st != sdk.Present || err != nil {
			return fmt.Errorf("driver 1002 embedding = %v %v, %v; want 4 values PRESENT", got, st, err)
		}
		return nil
	}
	l := startLoad(c, queries, check)
	defer l.finish(t)
	l.waitFor(t, 50)

	if err := servertest.AppendDefinitions(env.Dir, `
kind: FeatureService
name: driver_ranking_v2
features:
  - driver_stats:conv_rate
  - driver_embedding
`); err != nil {
		t.Fatal(err)
	}
	good, err := env.Apply(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if good <= first {
		t.Fatalf("apply wrote version %d after %d", good, first)
	}
	eventually(t, fmt.Sprintf("version %d served", good), func() bool { return env.Server.Version() == good })
	v2.Store(true)
	l.waitFor(t, 50)

	broken := writeBrokenVersion(t, env)
	failures := series("almanac_registry_reload_failures_total")
	eventually(t, "a counted reload failure", func() bool { return scrape(t, env)[failures] >= 1 })
	l.waitFor(t, 50)
	if got := env.Server.Version(); got != good {
		t.Errorf("serving version %d after broken version %d was written; want %d kept", got, broken, good)
	}
	if got := scrape(t, env)[series("almanac_registry_version")]; got != float64(good) {
		t.Errorf("almanac_registry_version = %v, want %d", got, good)
	}
	text := logs.String()
	if !strings.Contains(text, "level=ERROR") || !strings.Contains(text, "no_such_view") || !strings.Contains(text, fmt.Sprint(broken)) {
		t.Errorf("the refused version %d is not logged as an error naming the missing view:\n%s", broken, text)
	}
	if _, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: "broken_v1", Entities: drivers(1001)}); err == nil {
		t.Error("broken_v1 of the refused version is served")
	} else {
		checkStatus(t, err, codes.NotFound, `"broken_v1"`)
	}

	// The repository's definitions applied again make a good version after
	// the broken one.
	fixed, err := env.Apply(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, fmt.Sprintf("version %d served", fixed), func() bool { return env.Server.Version() == fixed })
	l.waitFor(t, 50)
}

// TestReloadRefusedVersion calls Reload by hand: it is a no-op without a new
// version, it refuses a version that cannot be served with an error naming
// the problem, and it counts a refused version once however often the
// reload loop finds it again (the metric counts "registry versions that
// could not be loaded").
func TestReloadRefusedVersion(t *testing.T) {
	logs := &syncBuffer{}
	env := servertest.Start(t, servertest.Options{Logger: newLogger(logs)})
	c := dial(t, env.Addr)
	good := env.Server.Version()
	if err := env.Server.Reload(); err != nil {
		t.Fatalf("reload without a new version: %v", err)
	}
	if got := env.Server.Version(); got != good {
		t.Fatalf("version %d after a no-op reload, want %d", got, good)
	}

	broken := writeBrokenVersion(t, env)
	err := env.Server.Reload()
	if err == nil || !strings.Contains(err.Error(), "no_such_view") || !strings.Contains(err.Error(), fmt.Sprint(broken)) {
		t.Errorf("Reload of broken version %d: %v; want an error naming it and the missing view", broken, err)
	}
	if got := env.Server.Version(); got != good {
		t.Errorf("serving %d, want %d kept", got, good)
	}
	if _, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: servertest.DriverRanking, Entities: drivers(1001)}); err != nil {
		t.Errorf("lookup after a refused reload: %v", err)
	}
	failures := series("almanac_registry_reload_failures_total")
	if got := scrape(t, env)[failures]; got != 1 {
		t.Errorf("reload failures = %v after one refused version, want 1", got)
	}

	t.Run("counted once", func(t *testing.T) {
		for range 3 {
			env.Server.Reload() // as the reload loop does on each tick
		}
		if got := scrape(t, env)[failures]; got != 1 {
			t.Errorf("reload failures = %v after one refused version was seen 4 times, want 1", got)
		}
		if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
			t.Errorf("the refused version is logged as an error %d times, want once:\n%s", n, logs.String())
		}
	})
}

// TestServiceOverOfflineView applies a feature service over a view with
// online: false (a training-only service). The rest of that version must
// be served; only lookups of that service fail, naming the view.
func TestServiceOverOfflineView(t *testing.T) {
	env := servertest.Start(t, servertest.Options{})
	c := dial(t, env.Addr)
	if err := servertest.AppendDefinitions(env.Dir, `
kind: FeatureService
name: training_only_v1
features:
  - driver_history
  - driver_stats:conv_rate
---
kind: FeatureService
name: driver_ranking_v2
features:
  - driver_stats:conv_rate
`); err != nil {
		t.Fatal(err)
	}
	v, err := env.Apply(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a new server starts on that version", func(t *testing.T) {
		srv, err := server.New(server.Options{Store: env.Online, Registry: env.Registry})
		if err != nil {
			t.Fatalf("server.New: %v", err)
		}
		if got := srv.Version(); got != v {
			t.Errorf("version %d, want %d", got, v)
		}
	})
	if err := env.Server.Reload(); err != nil {
		t.Errorf("reload of version %d with a training-only service: %v", v, err)
	}
	if got := env.Server.Version(); got != v {
		t.Fatalf("serving version %d, want %d", got, v)
	}
	if _, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: "driver_ranking_v2", Entities: drivers(1001)}); err != nil {
		t.Errorf("lookup of another service of the version: %v", err)
	}
	_, err = c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: "training_only_v1", Entities: drivers(1001)})
	if err == nil {
		t.Fatal("lookup of training_only_v1 succeeded")
	}
	if code := status.Code(err); code != codes.InvalidArgument && code != codes.FailedPrecondition {
		t.Errorf("lookup of training_only_v1: %v, want INVALID_ARGUMENT or FAILED_PRECONDITION", err)
	}
	if !strings.Contains(err.Error(), `"driver_history"`) {
		t.Errorf("lookup of training_only_v1: %v does not name the offline-only view", err)
	}

}

// replaceInRepo replaces old with new, which must occur once, in the
// fixture's definitions.
func replaceInRepo(t *testing.T, env *servertest.Env, old, new string) {
	t.Helper()
	path := filepath.Join(env.Dir, "features.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), old); n != 1 {
		t.Fatalf("%q occurs %d times in %s, want once", old, n, path)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReloadChangesViews checks that a reload applies what a new version
// says of a view already in the online store: a new TTL decides statuses at
// once, and a retyped feature is never served from records written under
// the old schema (they read as NOT_FOUND until materialized again).
func TestReloadChangesViews(t *testing.T) {
	env := servertest.Start(t, servertest.Options{})
	c := dial(t, env.Addr)
	apply := func(t *testing.T) {
		t.Helper()
		v, err := env.Apply(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := env.Server.Reload(); err != nil {
			t.Fatal(err)
		}
		if got := env.Server.Version(); got != v {
			t.Fatalf("serving %d, want %d", got, v)
		}
	}
	lookup := func(t *testing.T) *sdk.Result {
		t.Helper()
		res, err := c.GetOnlineFeatures(t.Context(), sdk.Query{Features: []string{"driver_stats"}, Entities: drivers(1001, 1002)})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	t.Run("ttl", func(t *testing.T) {
		replaceInRepo(t, env, "ttl: 2h", "ttl: 45m")
		apply(t)
		res := lookup(t)
		// 1001 is at T-1h, 1002 at T-30m.
		if c, err := res.Cell(0, "conv_rate"); err != nil || c.Status != sdk.OutsideMaxAge {
			t.Errorf("1001 under a 45m TTL: %v, %v; want OUTSIDE_MAX_AGE", c.Status, err)
		}
		if got, st, err := res.Float64(1, "conv_rate"); got != 0.72 || st != sdk.Present || err != nil {
			t.Errorf("1002 under a 45m TTL: %v %v, %v; want 0.72 PRESENT", got, st, err)
		}
	})

	t.Run("retyped feature", func(t *testing.T) {
		replaceInRepo(t, env, "{name: acc_rate, type: float32}", "{name: acc_rate, type: float64}")
		apply(t)
		res, err := c.GetOnlineFeatures(t.Context(), sdk.Query{Features: []string{"driver_stats"}, Entities: drivers(1001)})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"conv_rate", "acc_rate", "trips", "city"} {
			if c, err := res.Cell(0, name); err != nil || c.Status != sdk.NotFound && c.Status != sdk.OutsideMaxAge || c.Value != nil {
				t.Errorf("1001 %s from a record of the old schema: %v %v, %v; want no value", name, c.Value, c.Status, err)
			}
		}
		res = lookup(t)
		for _, name := range []string{"conv_rate", "acc_rate", "trips", "city"} {
			if c, err := res.Cell(1, name); err != nil || c.Status != sdk.NotFound || c.Value != nil {
				t.Errorf("1002 %s from a record of the old schema: %v %v, %v; want NOT_FOUND", name, c.Value, c.Status, err)
			}
		}
		if err := env.Materialize(t.Context()); err != nil {
			t.Fatal(err)
		}
		res = lookup(t)
		if got, st, err := res.Float64(1, "conv_rate"); st != sdk.Present || got != 0.72 || err != nil {
			t.Errorf("1002 conv_rate after materializing: %v %v, %v; want 0.72 PRESENT", got, st, err)
		}
		if c, err := res.Cell(0, "acc_rate"); err != nil || c.Status != sdk.OutsideMaxAge && c.Status != sdk.NotFound || c.Value != nil {
			t.Errorf("1001 acc_rate after materializing, older than the TTL: %v %v, %v; want no value", c.Value, c.Status, err)
		}
		if c, err := res.Cell(1, "acc_rate"); err != nil || c.Status != sdk.NullValue {
			t.Errorf("1002 acc_rate after materializing: %v, %v; want NULL_VALUE", c.Status, err)
		}
	})
}
