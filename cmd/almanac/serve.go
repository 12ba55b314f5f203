package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/almanac-fs/almanac/internal/runtime"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/server"
	"github.com/almanac-fs/almanac/server/ui"
)

func newServeCmd(g *globals) *cobra.Command {
	var grpcAddr, httpAddr string
	var pprof bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gRPC feature server, its metrics and health, and the web UI",
		Long: `Serve online lookups (almanac.v1.FeatureServer/GetOnlineFeatures) and pushed rows
(Push) over gRPC, with gRPC health checking and reflection, so grpcurl works
without proto files. HTTP serves /metrics (Prometheus), /healthz, /readyz and
a web UI at / (http://127.0.0.1:8080/ by default): the feature views with
their freshness, offline history and data-quality results, the feature
services with their last drift check, entities, sources, datasets with their
labels and statistics, and the registry's version history.

The server answers from the registry's current version and picks up new
versions (after "almanac apply") without a restart; a version it cannot load
is refused and the old one keeps serving. When the online store goes down,
lookups fail with UNAVAILABLE and succeed again once it is back.

A sample of each feature service's lookups (logging.sample_rate in its
definition, default 0.1) is written to Parquet under the offline store,
logs/<service>/date=.../, for drift checks; logging never delays a lookup.
With serving.drift_interval (e.g. 1h) the server itself checks every dataset
that has a feature service against that service's lookups of the past
interval; /metrics exports the scores (almanac_drift_psi, almanac_drift_drifted)
of those checks and of "almanac drift --push-metrics".

Settings come from almanac.yaml (serving.grpc_addr, serving.http_addr,
serving.tls_cert and serving.tls_key for TLS, serving.tokens_file for bearer
tokens) or ALMANAC_SERVING_* variables; flags override them. SIGTERM or
Ctrl-C stops taking requests and drains those in flight.`,
		Example: `  almanac serve
  almanac serve --grpc-addr 0.0.0.0:6566 --http-addr 0.0.0.0:8080`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := registry.LoadConfig(g.repoDir(), nil)
			if err != nil {
				return err
			}
			if grpcAddr != "" {
				cfg.Serving.GRPCAddr = grpcAddr
			}
			if httpAddr != "" {
				cfg.Serving.HTTPAddr = httpAddr
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			return serve(cmd.Context(), cfg, log, pprof)
		},
	}
	cmd.Flags().StringVar(&grpcAddr, "grpc-addr", "", "gRPC listen address (default serving.grpc_addr)")
	cmd.Flags().StringVar(&httpAddr, "http-addr", "", "HTTP listen address for metrics, health and web UI (default serving.http_addr)")
	cmd.Flags().BoolVar(&pprof, "pprof", false, "also serve Go profiles at /debug/pprof/ on the HTTP address")
	return cmd
}

// serve runs the feature server until ctx is done.
func serve(ctx context.Context, cfg *registry.Config, log *slog.Logger, pprof bool) (err error) {
	rt, err := runtime.Open(ctx, cfg, runtime.Options{Logger: log})
	if errors.Is(err, registry.ErrNoVersion) {
		return fmt.Errorf("%w; run \"almanac apply\" first", err)
	}
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, rt.Close()) }()
	srv := rt.Server
	gs := rt.NewGRPCServer()
	gl, err := net.Listen("tcp", cfg.Serving.GRPCAddr)
	if err != nil {
		return fmt.Errorf("listen for gRPC: %w", err)
	}
	hl, err := net.Listen("tcp", cfg.Serving.HTTPAddr)
	if err != nil {
		gl.Close()
		return fmt.Errorf("listen for HTTP: %w", err)
	}
	withTLS := rt.TLS != nil
	if server.TokensInClear(gl.Addr(), rt.Auth != nil, withTLS) {
		log.Warn("bearer tokens travel in clear text: gRPC listens beyond loopback without TLS; set serving.tls_cert and serving.tls_key",
			"grpc", gl.Addr().String())
	}
	webUI := ui.New(ui.Options{Project: cfg.Project, OnlineStore: cfg.OnlineStore.Type, Served: srv.Served,
		Registry: rt.Registry, Offline: rt.Offline})
	hs := &http.Server{Handler: httpHandler(srv.HTTPHandler(rt.Metrics), webUI, pprof), ReadHeaderTimeout: 10 * time.Second}

	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { rt.Run(runCtx); close(ran) }()
	defer func() { stop(); <-ran }()
	errc := make(chan error, 2)
	go func() { errc <- gs.Serve(gl) }()
	go func() { errc <- hs.Serve(hl) }()
	log.Info("serving", "grpc", gl.Addr().String(), "http", hl.Addr().String(), "registry_version", srv.Version(),
		"online_store", cfg.OnlineStore.Type, "tls", withTLS, "auth", rt.Auth != nil)

	select {
	case <-ctx.Done():
	case err = <-errc:
		log.Error("server stopped", "err", err)
	}
	log.Info("shutting down: draining requests in flight")
	srv.Shutdown()
	drained := make(chan struct{})
	go func() { gs.GracefulStop(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
		gs.Stop()
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hs.Shutdown(shutCtx)
	return err
}

// httpHandler serves the server's metrics and health endpoints (ops), Go
// profiles at /debug/pprof/ with pprof, and the web UI at every other path.
func httpHandler(ops, webUI http.Handler, pprof bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", webUI)
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		mux.Handle(path, ops)
	}
	if pprof {
		mux.HandleFunc("/debug/pprof/", httppprof.Index)
		mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", httppprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", httppprof.Trace)
	}
	return mux
}
