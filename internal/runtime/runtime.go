package runtime

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/almanac-fs/almanac/drift"
	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/internal/stores"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/online"
	"github.com/almanac-fs/almanac/pipelines"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/server"
)

// duckMemory is the default bound of the runtime's DuckDB, which stages
// pushed rows and runs drift checks: the server's memory stays small, and
// DuckDB spills beyond it.
const duckMemory = "64MB"

// Options adjusts what Open puts together. The zero value is "almanac
// serve": everything the settings ask for, logs discarded, the real clock.
type Options struct {
	// Logger receives the logs of the server, the feature log, the drift
	// monitor and the embedded online store; nil discards them.
	Logger *slog.Logger
	// Now is the clock of the server, its Pusher, the online store and the
	// drift monitor; nil means time.Now.
	Now func() time.Time
	// Auth requires bearer tokens; nil means those of serving.tokens_file,
	// or none when it is not set.
	Auth *server.Auth
	// OnlineTimeout bounds each online-store call of the server and its
	// Pusher; zero means serving.online_timeout.
	OnlineTimeout time.Duration
	// MaxEntities and ReloadInterval are passed to server.New.
	MaxEntities    int
	ReloadInterval time.Duration
	// DuckMemory caps DuckDB's memory (duck.Options.MemoryLimit); empty
	// means 64MB.
	DuckMemory string
	// NoPusher leaves the server without a Pusher (Push is UNIMPLEMENTED).
	NoPusher bool
	// NoFeatureLog leaves the server without a served-feature log.
	NoFeatureLog bool
	// NoSweep leaves expired records of the embedded online store in place
	// (see stores.OnlineOptions).
	NoSweep bool
	// WrapStore, when set, wraps the online store that the server and its
	// Pusher use; Runtime.Online stays the store itself.
	WrapStore func(online.Store) online.Store
	// Prepare, when set, runs once the stores and DuckDB are open and
	// before the server starts, which needs a registry version: a test
	// applies and materializes its repository there.
	Prepare func(context.Context, *Runtime) error
}

// Runtime is a feature server and everything behind it. Close it when
// done, after the servers that use it have stopped.
type Runtime struct {
	Config   *registry.Config
	Registry *registry.Store
	Offline  *offline.Store
	// Online is the online store, as opened (before Options.WrapStore).
	Online online.Store
	// DB is DuckDB, for the Pusher and drift checks.
	DB *duck.DB
	// FeatureLog receives the server's sampled lookups; nil with
	// Options.NoFeatureLog.
	FeatureLog *offline.FeatureLog
	// Auth is the server's bearer tokens, nil when it requires none.
	Auth *server.Auth
	// TLS is the gRPC server's TLS configuration (serving.tls_cert and
	// serving.tls_key), nil without.
	TLS *tls.Config

	Server *server.Server
	// Metrics holds the server's metrics, Go and process metrics and the
	// drift scores; serve it with Server.HTTPHandler(Metrics).
	Metrics *prometheus.Registry

	opts    Options
	closers []func() error // run in reverse order by Close
}

// Open opens what the repository of cfg needs to serve and starts a server
// over it, not yet listening. A repository with nothing applied fails with
// an error wrapping registry.ErrNoVersion. On error, Open closes what it
// opened.
func Open(ctx context.Context, cfg *registry.Config, opts Options) (_ *Runtime, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.OnlineTimeout == 0 {
		opts.OnlineTimeout = cfg.OnlineTimeout()
	}
	if opts.DuckMemory == "" {
		opts.DuckMemory = duckMemory
	}
	rt := &Runtime{Config: cfg, Registry: stores.Registry(cfg), Offline: stores.Offline(cfg), Auth: opts.Auth, opts: opts}
	defer func() {
		if err != nil {
			err = errors.Join(err, rt.Close())
		}
	}()
	if rt.Auth == nil && cfg.Serving.TokensFile != "" {
		if rt.Auth, err = server.ReadTokens(cfg.Abs(cfg.Serving.TokensFile)); err != nil {
			return nil, err
		}
	}
	if cfg.Serving.TLSCert != "" || cfg.Serving.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Abs(cfg.Serving.TLSCert), cfg.Abs(cfg.Serving.TLSKey))
		if err != nil {
			return nil, fmt.Errorf("load TLS certificate: %w", err)
		}
		rt.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if rt.DB, err = duck.Open(duck.Options{MemoryLimit: opts.DuckMemory}); err != nil {
		return nil, err
	}
	rt.onClose(rt.DB.Close)
	if rt.Online, err = stores.Online(cfg, stores.OnlineOptions{Now: opts.Now, Logger: opts.Logger, NoSweep: opts.NoSweep}); err != nil {
		return nil, err
	}
	rt.onClose(rt.Online.Close)
	if !opts.NoFeatureLog {
		rt.FeatureLog = rt.Offline.NewFeatureLog(offline.LogOptions{Logger: opts.Logger})
		rt.onClose(rt.FeatureLog.Close)
	}
	if opts.Prepare != nil {
		if err := opts.Prepare(ctx, rt); err != nil {
			return nil, err
		}
	}
	rt.Metrics = prometheus.NewRegistry()
	rt.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if rt.Server, err = rt.newServer(); err != nil {
		return nil, err
	}
	rt.Metrics.MustRegister(&drift.Collector{Store: rt.Offline})
	return rt, nil
}

// newServer starts the feature server over the runtime's stores.
func (rt *Runtime) newServer() (*server.Server, error) {
	store := rt.Online
	if rt.opts.WrapStore != nil {
		store = rt.opts.WrapStore(store)
	}
	var pusher server.Pusher
	if !rt.opts.NoPusher {
		pusher = &pipelines.Pusher{Online: online.Bound(store, rt.opts.OnlineTimeout), Offline: rt.Offline, DB: rt.DB,
			MaxFuture: rt.Config.MaxFuture(), Now: rt.opts.Now}
	}
	return server.New(server.Options{
		Store:          store,
		Registry:       rt.Registry,
		Offline:        rt.Offline,
		Pusher:         pusher,
		FeatureLog:     rt.FeatureLog,
		Auth:           rt.Auth,
		Logger:         rt.opts.Logger,
		Registerer:     rt.Metrics,
		Now:            rt.opts.Now,
		OnlineTimeout:  rt.opts.OnlineTimeout,
		MaxEntities:    rt.opts.MaxEntities,
		ReloadInterval: rt.opts.ReloadInterval,
	})
}

// NewGRPCServer returns the server's gRPC server, with TLS when the
// settings ask for it, and opts.
func (rt *Runtime) NewGRPCServer(opts ...grpc.ServerOption) *grpc.Server {
	if rt.TLS != nil {
		opts = append([]grpc.ServerOption{grpc.Creds(credentials.NewTLS(rt.TLS))}, opts...)
	}
	return rt.Server.NewGRPCServer(opts...)
}

// Run picks up new registry versions and, with serving.drift_interval,
// checks drift every interval, until ctx is done.
func (rt *Runtime) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { rt.Server.Run(ctx) })
	if rt.Config.Serving.DriftInterval != "" {
		interval, _ := registry.ParseDuration(rt.Config.Serving.DriftInterval) // checked by LoadConfig
		m := &drift.Monitor{Store: rt.Offline, DB: rt.DB, Defs: rt.Server.Definitions, Interval: interval, Logger: rt.opts.Logger, Now: rt.opts.Now}
		wg.Go(func() { m.Run(ctx) })
	}
	wg.Wait()
}

func (rt *Runtime) onClose(f func() error) { rt.closers = append(rt.closers, f) }

// Close closes what Open opened, in reverse order, and returns their
// errors joined. It must be called once, after the servers using the
// runtime have stopped.
func (rt *Runtime) Close() error {
	var errs []error
	for i := len(rt.closers) - 1; i >= 0; i-- {
		errs = append(errs, rt.closers[i]())
	}
	rt.closers = nil
	return errors.Join(errs...)
}
