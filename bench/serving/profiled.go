package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/almanac-fs/almanac/drift"
	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/online"
	"github.com/almanac-fs/almanac/online/redis"
	"github.com/almanac-fs/almanac/pipelines"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/server"
)

// profiledMain runs Almanac's feature server on Redis, wired as
// cmd/almanac/serve.go wires it (the same store options, DuckDB for the
// Pusher and the served-feature log, metrics registry with the drift
// collector, interceptors; the drift monitor is left out, as serve leaves it
// without serving.drift_interval; keep the two in step), with
// net/http/pprof beside /metrics. It prints "GRPC_ADDR HTTP_ADDR" on stdout
// and serves until ctx is done.
func profiledMain(ctx context.Context, repoDir string) (err error) {
	cfg, err := registry.LoadConfig(repoDir, nil)
	if err != nil {
		return err
	}
	opts := redis.DefaultOptions()
	opts.Project, opts.Addrs = cfg.Project, []string{cfg.OnlineStore.Addr}
	store, err := redis.New(opts)
	if err != nil {
		return err
	}
	defer store.Close()
	db, err := duck.Open(duck.Options{MemoryLimit: "64MB"}) // as cmd/almanac/serve.go
	if err != nil {
		return err
	}
	defer db.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	offlineStore := offline.Open(cfg.Abs(cfg.OfflineStore.Path), offline.Options{})
	featureLog := offlineStore.NewFeatureLog(offline.LogOptions{Logger: log})
	defer func() { err = errors.Join(err, featureLog.Close()) }()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv, err := server.New(server.Options{
		Store:         store,
		Registry:      registry.OpenStore(cfg.Abs(cfg.Registry), registry.StoreOptions{}),
		Offline:       offlineStore,
		Pusher:        &pipelines.Pusher{Online: online.Bound(store, cfg.OnlineTimeout()), Offline: offlineStore, DB: db, MaxFuture: cfg.MaxFuture()},
		FeatureLog:    featureLog,
		Logger:        log,
		Registerer:    reg,
		OnlineTimeout: cfg.OnlineTimeout(),
	})
	if err != nil {
		return fmt.Errorf("start profiled server: %w", err)
	}
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for gRPC: %w", err)
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		gl.Close()
		return fmt.Errorf("listen for HTTP: %w", err)
	}
	reg.MustRegister(&drift.Collector{Store: offlineStore})
	mux := http.NewServeMux()
	mux.Handle("/", srv.HTTPHandler(reg))
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.Handle("/debug/pprof/heap", pprof.Handler("heap"))
	mux.Handle("/debug/pprof/allocs", pprof.Handler("allocs"))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	gs := srv.NewGRPCServer()
	go srv.Run(ctx)
	go gs.Serve(gl)
	go hs.Serve(hl)
	fmt.Fprintln(os.Stdout, gl.Addr().String(), hl.Addr().String())
	<-ctx.Done()
	gs.Stop()
	return hs.Close()
}
