package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// Pusher takes rows pushed to a push source. Implementations must be safe
// for concurrent use.
type Pusher interface {
	// Push validates columns (column name to one value per row) against the
	// source's schema in defs and stores the rows; it returns the number of
	// rows stored. Invalid rows give an error wrapping online.ErrInvalid.
	Push(ctx context.Context, defs *registry.Definitions, source string, columns map[string][]*almanacv1.Value) (int, error)
}

// Options configures a Server. Store and Registry are required.
type Options struct {
	Store    online.Store
	Registry *registry.Store
	// Offline, when set, gives the freshness of each view (now minus the
	// newest event time of its history) and the expectations its last run
	// broke as metrics.
	Offline *offline.Store
	// Pusher handles Push; nil makes Push fail with UNIMPLEMENTED.
	Pusher Pusher
	// FeatureLog, when set, receives a sample of the feature services'
	// lookups (each service's log sample rate). The server does not close it.
	FeatureLog *offline.FeatureLog
	// Auth, when set, requires bearer tokens (see Auth).
	Auth *Auth
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the server's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Now is the clock for TTLs; nil means time.Now.
	Now func() time.Time
	// OnlineTimeout bounds each call of a lookup to Store, within the
	// request's own deadline: a store that has not answered by then fails
	// the lookup with UNAVAILABLE (see online.Bound; Pusher's store is
	// its own, to be bounded by whoever makes it). 0 means 1s; a negative
	// value, no bound.
	OnlineTimeout time.Duration
	// MaxEntities bounds the entity rows of one lookup; 0 means 1000.
	MaxEntities int
	// ReloadInterval is how often Run looks for a new registry version; 0
	// means 2s.
	ReloadInterval time.Duration
}

// Server is the feature server. It is safe for concurrent use.
type Server struct {
	almanacv1.UnimplementedFeatureServerServer

	opts    Options
	store   online.Store // Options.Store, bounded by OnlineTimeout
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics
	health  *health.Server

	// catalog is the registry version being served, swapped whole on reload.
	catalog atomic.Pointer[catalog]
	// refused is the last registry version reload refused, so that a broken
	// version is counted and logged once, not at every poll.
	refused atomic.Int64
	// failures throttles the log of failures' causes.
	failures failureLog
	// logScratch is where the feature log's goroutine builds the columns
	// of logged lookups.
	logScratch logScratch
}

// New returns a server for the registry's current version.
func New(opts Options) (*Server, error) {
	if opts.Store == nil || opts.Registry == nil {
		return nil, errors.New("server: Store and Registry are required")
	}
	if opts.MaxEntities == 0 {
		opts.MaxEntities = 1000
	}
	if opts.ReloadInterval == 0 {
		opts.ReloadInterval = 2 * time.Second
	}
	if opts.OnlineTimeout == 0 {
		opts.OnlineTimeout = time.Second
	}
	s := &Server{opts: opts, store: online.Bound(opts.Store, opts.OnlineTimeout), log: opts.Logger, now: opts.Now, health: health.NewServer()}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.metrics = newMetrics(opts.Registerer, s)
	if err := s.Reload(); err != nil {
		return nil, err
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(almanacv1.FeatureServer_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	return s, nil
}

// Reload serves the registry's current version if it is newer than the one
// being served. A version that cannot be read or resolved is refused: the
// old one keeps serving, and the error is returned, logged and counted.
func (s *Server) Reload() error {
	cur := s.catalog.Load()
	version, err := s.reload(cur)
	if err != nil && (version == 0 || s.refused.Swap(version) != version) {
		s.metrics.reloadFailures.Inc()
		if cur != nil {
			s.log.Error("registry reload refused; still serving the old version", "serving", cur.version, "refused", version, "err", err)
		}
	}
	return err
}

// reload serves the registry's current version if it is new; it returns
// that version (0 when it could not be read).
func (s *Server) reload(cur *catalog) (int64, error) {
	reg, err := s.opts.Registry.Current()
	if err != nil {
		return 0, fmt.Errorf("read registry: %w", err)
	}
	if cur != nil && reg.GetVersion() == cur.version {
		return cur.version, nil
	}
	defs, err := registry.DefinitionsFromProto(reg)
	if err != nil {
		return reg.GetVersion(), fmt.Errorf("registry version %d: %w", reg.GetVersion(), err)
	}
	next, err := newCatalog(reg.GetVersion(), defs)
	if err != nil {
		return reg.GetVersion(), fmt.Errorf("registry version %d: %w", reg.GetVersion(), err)
	}
	s.catalog.Store(next)
	s.metrics.registryVersion.Set(float64(next.version))
	s.log.Info("serving registry version", "version", next.version, "views", len(defs.Views), "services", len(defs.Services))
	for name, err := range next.unservable {
		s.log.Warn("feature service not served online", "service", name, "err", err)
	}
	return next.version, nil
}

// Run reloads the registry every ReloadInterval until ctx is done.
func (s *Server) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Reload()
		}
	}
}

// Definitions returns the definitions of the registry version being served.
// They must not be modified.
func (s *Server) Definitions() *registry.Definitions { return s.catalog.Load().defs }

// Version returns the registry version being served.
func (s *Server) Version() int64 { return s.catalog.Load().version }

// Served returns the registry version being served and its definitions,
// read together so that they always match. The definitions must not be
// modified.
func (s *Server) Served() (int64, *registry.Definitions) {
	c := s.catalog.Load()
	return c.version, c.defs
}

// writeBufferSize is the size of the buffer a connection writes through.
const writeBufferSize = 256 << 10

// NewGRPCServer returns a gRPC server with the feature server, health and
// reflection registered, and the server's interceptors (metrics, auth)
// installed before any in opts. Its codec writes lookups' responses
// without building messages (see wire.go): an interceptor in opts sees a
// GetOnlineFeatures response that is not a proto.Message.
//
// Its connections write through a buffer of writeBufferSize, taken from a
// pool while they write: a 100-entity response is some 120 KB, which
// gRPC's default 32 KiB buffer writes in four system calls.
func (s *Server) NewGRPCServer(opts ...grpc.ServerOption) *grpc.Server {
	opts = append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(s.unaryInterceptor), grpc.ForceServerCodecV2(newCodec()),
		grpc.WriteBufferSize(writeBufferSize), grpc.SharedWriteBuffer(true),
	}, opts...)
	g := grpc.NewServer(opts...)
	g.RegisterService(serviceDesc(), s)
	healthpb.RegisterHealthServer(g, s.health)
	reflection.Register(g)
	return g
}

// Shutdown marks the server as not serving, so that health checks steer
// clients away before the gRPC server drains.
func (s *Server) Shutdown() { s.health.Shutdown() }
