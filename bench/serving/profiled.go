package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/almanac-fs/almanac/internal/runtime"
	"github.com/almanac-fs/almanac/registry"
)

// profiledMain runs Almanac's feature server as "almanac serve" does (it
// starts from the same runtime.Open) on the repository's Redis, with
// net/http/pprof beside /metrics instead of the web UI. It prints
// "GRPC_ADDR HTTP_ADDR" on stdout and serves until ctx is done.
func profiledMain(ctx context.Context, repoDir string) (err error) {
	cfg, err := registry.LoadConfig(repoDir, nil)
	if err != nil {
		return err
	}
	rt, err := runtime.Open(ctx, cfg, runtime.Options{})
	if err != nil {
		return fmt.Errorf("start profiled server: %w", err)
	}
	defer func() { err = errors.Join(err, rt.Close()) }()
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for gRPC: %w", err)
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		gl.Close()
		return fmt.Errorf("listen for HTTP: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", rt.Server.HTTPHandler(rt.Metrics))
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.Handle("/debug/pprof/heap", pprof.Handler("heap"))
	mux.Handle("/debug/pprof/allocs", pprof.Handler("allocs"))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	gs := rt.NewGRPCServer()
	ran := make(chan struct{})
	go func() { rt.Run(ctx); close(ran) }()
	defer func() { <-ran }()
	go gs.Serve(gl)
	go hs.Serve(hl)
	fmt.Fprintln(os.Stdout, gl.Addr().String(), hl.Addr().String())
	<-ctx.Done()
	gs.Stop()
	return hs.Close()
}
