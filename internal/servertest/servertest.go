package servertest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/almanac-fs/almanac/internal/redistest"
	"github.com/almanac-fs/almanac/internal/runtime"
	"github.com/almanac-fs/almanac/online"
	"github.com/almanac-fs/almanac/pipelines"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/server"
)

// Backend names an online store.
type Backend string

// Online store backends.
const (
	Local Backend = "local" // the embedded bbolt store, in the repository
	Redis Backend = "redis" // a Redis server
)

// History is how far back from Options.Now the fixture is materialized.
const History = 60 * 24 * time.Hour

// Options configures a started server. The zero value is valid: the fixture
// repository on the embedded store, at the present time.
type Options struct {
	// Backend is the online store; empty means Local.
	Backend Backend
	// RedisAddr is the Redis server of Backend Redis. Start starts a
	// throwaway one (Env.Redis) when it is empty; New requires it.
	RedisAddr string
	// Now is the fixture's present T: its data lies before it, it is
	// materialized for [T-History, T), and Env.Clock starts at it. The
	// zero value means the current time, truncated to the second. (Redis
	// expires keys by the real clock, so with Redis, T must be close to it.)
	Now time.Time
	// Dir is where the repository is written; empty means a new temporary
	// directory, removed when the server stops.
	Dir string
	// NoPusher leaves the server without a Pusher (Push is UNIMPLEMENTED).
	NoPusher bool
	// OnlineTimeout bounds each online-store call of the server and its
	// Pusher; zero means the repository's serving.online_timeout (1s).
	OnlineTimeout time.Duration
	// Auth, Logger, MaxEntities and ReloadInterval are passed to server.New.
	Auth           *server.Auth
	Logger         *slog.Logger
	MaxEntities    int
	ReloadInterval time.Duration
	// RunReload runs Server.Run (the registry reload loop) until Stop.
	RunReload bool
	// GRPCOptions are passed to Server.NewGRPCServer (TLS credentials...).
	GRPCOptions []grpc.ServerOption
	// WrapStore, when set, wraps the online store that the server and its
	// Pusher use; materialization writes the store itself.
	WrapStore func(online.Store) online.Store
	// FeatureLog gives the server a feature log (Env.FeatureLog) writing
	// under the offline store; Stop closes it.
	FeatureLog bool
}

// Env is a running feature server and everything behind it.
type Env struct {
	// Addr is the gRPC address (127.0.0.1:port); HTTPURL the base URL of
	// the HTTP handler (/metrics, /healthz, /readyz).
	Addr    string
	HTTPURL string
	// Dir is the feature repository; Now its present T; Clock the clock of
	// the server and the online store, starting at Now.
	Dir   string
	Now   time.Time
	Clock *Clock

	// Runtime is the server and the stores and DuckDB behind it. Its
	// Online is the online store (unwrapped); Stop closes it.
	*runtime.Runtime
	// Redis is the throwaway Redis server of Backend Redis started by
	// Start, else nil.
	Redis *redistest.Server
	// GRPC serves Server on Addr.
	GRPC *grpc.Server

	stopOnce sync.Once
	stops    []func() // run in reverse order by Stop
}

// Start starts a feature server for tb and stops it when the test ends.
func Start(tb testing.TB, opts Options) *Env {
	tb.Helper()
	if opts.Dir == "" {
		opts.Dir = tb.TempDir()
	}
	var r *redistest.Server
	if opts.Backend == Redis && opts.RedisAddr == "" {
		r = redistest.Start(tb)
		opts.RedisAddr = r.Addr()
	}
	env, err := start(tb.Context(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	env.Redis = r
	tb.Cleanup(env.Stop)
	return env
}

// New starts a feature server without a test, for examples: call stop when
// done. Backend Redis needs Options.RedisAddr.
func New(opts Options) (env *Env, stop func(), err error) {
	if opts.Backend == Redis && opts.RedisAddr == "" {
		return nil, nil, errors.New("servertest: Backend Redis needs RedisAddr outside tests")
	}
	env, err = start(context.Background(), opts)
	if err != nil {
		return nil, nil, err
	}
	return env, env.Stop, nil
}

func start(ctx context.Context, opts Options) (env *Env, err error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now().UTC().Truncate(time.Second)
	}
	env = &Env{Now: opts.Now, Clock: NewClock(opts.Now)}
	defer func() {
		if err != nil {
			env.Stop()
			env = nil
		}
	}()
	env.Dir = opts.Dir
	if env.Dir == "" {
		if env.Dir, err = os.MkdirTemp("", "almanac-servertest-"); err != nil {
			return env, fmt.Errorf("servertest: %w", err)
		}
		env.onStop(func() { os.RemoveAll(env.Dir) })
	}
	if err := WriteRepo(ctx, env.Dir, opts.Now); err != nil {
		return env, err
	}
	cfg, err := registry.LoadConfig(env.Dir, noEnv)
	if err != nil {
		return env, fmt.Errorf("servertest: %w", err)
	}
	if opts.Backend == Redis {
		cfg.OnlineStore.Type, cfg.OnlineStore.Addr = registry.OnlineRedis, opts.RedisAddr
	}
	rt, err := runtime.Open(ctx, cfg, runtime.Options{
		Logger:         opts.Logger,
		Now:            env.Clock.Now,
		Auth:           opts.Auth,
		OnlineTimeout:  opts.OnlineTimeout,
		MaxEntities:    opts.MaxEntities,
		ReloadInterval: opts.ReloadInterval,
		DuckMemory:     "2GB", // tests export training sets through Env.DB; DuckDB's CSV reader alone takes 30 MB blocks
		NoPusher:       opts.NoPusher,
		NoFeatureLog:   !opts.FeatureLog,
		NoSweep:        true, // expiry is what the server's clock says, never swept behind a test's back
		WrapStore:      opts.WrapStore,
		Prepare: func(ctx context.Context, rt *runtime.Runtime) error {
			env.Runtime = rt
			if _, err := env.Apply(ctx); err != nil {
				return err
			}
			return env.Materialize(ctx)
		},
	})
	if err != nil {
		return env, err
	}
	env.onStop(func() { rt.Close() })
	if opts.RunReload {
		runCtx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { rt.Run(runCtx); close(done) }()
		env.onStop(func() { cancel(); <-done })
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return env, fmt.Errorf("servertest: listen: %w", err)
	}
	env.Addr = lis.Addr().String()
	env.GRPC = rt.NewGRPCServer(opts.GRPCOptions...)
	served := make(chan struct{})
	go func() { env.GRPC.Serve(lis); close(served) }()
	env.onStop(func() { env.GRPC.Stop(); <-served })

	hs := httptest.NewServer(env.Server.HTTPHandler(env.Metrics))
	env.HTTPURL = hs.URL
	env.onStop(hs.Close)
	return env, nil
}

func noEnv(string) string { return "" }

func (e *Env) onStop(f func()) { e.stops = append(e.stops, f) }

// Stop stops the servers and closes the stores; it may be called more than
// once.
func (e *Env) Stop() {
	e.stopOnce.Do(func() {
		for i := len(e.stops) - 1; i >= 0; i-- {
			e.stops[i]()
		}
	})
}

// Apply loads the repository in Dir, checking each view against its data
// as "almanac apply" does, and applies it as the registry's next version
// (destructive changes allowed). It returns the version now current. The
// server picks it up on its next Reload.
func (e *Env) Apply(ctx context.Context) (int64, error) {
	schemas := pipelines.NewSchemas()
	defer schemas.Close()
	repo, err := registry.Load(ctx, e.Dir, registry.LoadOptions{Getenv: noEnv, Schemas: schemas})
	if err != nil {
		return 0, fmt.Errorf("servertest: load %s: %w", e.Dir, err)
	}
	_, reg, err := registry.Apply(ctx, e.Registry, repo.Config.Project, repo.Defs, true)
	if err != nil {
		return 0, fmt.Errorf("servertest: apply: %w", err)
	}
	return reg.GetVersion(), nil
}

// Defs returns the definitions of the registry's current version.
func (e *Env) Defs() (*registry.Definitions, error) {
	reg, err := e.Registry.Current()
	if err != nil {
		return nil, fmt.Errorf("servertest: %w", err)
	}
	return registry.DefinitionsFromProto(reg)
}

// Materialize runs every view of the current registry version for
// [Now-History, Now) into the offline and online stores, as
// "almanac materialize" does. Running it again rewrites the same data (after
// a Redis restart, say).
func (e *Env) Materialize(ctx context.Context) error {
	defs, err := e.Defs()
	if err != nil {
		return err
	}
	m := &pipelines.Materializer{Config: e.Config, Defs: defs, Offline: e.Offline, DB: e.DB, Online: e.Online}
	if _, err := m.Run(ctx, defs.Views, e.Now.Add(-History), e.Now); err != nil {
		return fmt.Errorf("servertest: materialize: %w", err)
	}
	return nil
}

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
