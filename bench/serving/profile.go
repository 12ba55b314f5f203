package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// profiledPoints are the loads profiled with -cpuprofile.
var profiledPoints = []point{{1, 8}, {100, 8}}

// profileResult is one CPU profile of Almanac's server under load.
type profileResult struct {
	Shape   string
	Clients int
	File    string
	Top     string // go tool pprof -top
}

// profile runs Almanac's server in a child process with net/http/pprof and
// takes a CPU profile of it under each of profiledPoints, and a profile of
// what it allocated meanwhile (allocs-*.pprof, go tool pprof -sample_index=alloc_space).
func (b *bench) profile(ctx context.Context) ([]profileResult, error) {
	if err := os.MkdirAll(b.o.cpuprofile, 0o755); err != nil {
		return nil, fmt.Errorf("create profile directory: %w", err)
	}
	p, err := startChild("profiled almanac server", "-child", "profiled", "-repo", b.fx.dir)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	if err := b.fx.checkAlmanac(ctx, p.conn); err != nil {
		return nil, fmt.Errorf("profiled almanac server: %w", err)
	}
	var out []profileResult
	for _, pt := range profiledPoints {
		r, err := b.profilePoint(ctx, p, pt)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (b *bench) profilePoint(ctx context.Context, p *proc, pt point) (profileResult, error) {
	progressf("  profiling %s clients=%d\n", pt.shape(), pt.clients)
	call, pool := almanacCaller(p.conn, b.o.decode), b.pools[pt.entities]
	if _, err := closedLoop(ctx, call, pool, pt.clients, b.o.warmup, b.o.seed+1); err != nil {
		return profileResult{}, err
	}
	secs := max(1, int(math.Round(b.o.duration.Seconds())))
	file := filepath.Join(b.o.cpuprofile, fmt.Sprintf("cpu-entities%d-clients%d.pprof", pt.entities, pt.clients))
	allocs := filepath.Join(b.o.cpuprofile, fmt.Sprintf("allocs-entities%d-clients%d.pprof", pt.entities, pt.clients))
	fetched := make(chan error, 2)
	go func() {
		fetched <- fetchProfile(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", p.httpAddr, secs), file)
	}()
	go func() {
		fetched <- fetchProfile(ctx, fmt.Sprintf("http://%s/debug/pprof/allocs?seconds=%d", p.httpAddr, secs), allocs)
	}()
	// Keep the load on a little longer than the profile lasts.
	if _, err := closedLoop(ctx, call, pool, pt.clients, time.Duration(secs)*time.Second+500*time.Millisecond, b.o.seed+2); err != nil {
		return profileResult{}, err
	}
	for range 2 {
		if err := <-fetched; err != nil {
			return profileResult{}, err
		}
	}
	top, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-symbolize=none", "-top", "-nodecount=30", file).Output()
	if err != nil {
		return profileResult{}, fmt.Errorf("go tool pprof -top %s: %w", file, err)
	}
	return profileResult{Shape: pt.shape(), Clients: pt.clients, File: file, Top: strings.TrimSpace(string(top))}, nil
}

// fetchProfile saves the profile served at url into file.
func fetchProfile(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch profile %s: %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("write profile: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("write profile %s: %w", file, err)
	}
	return f.Close()
}
