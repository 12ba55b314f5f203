package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/almanac-fs/almanac/bench/internal/machine"
	"github.com/almanac-fs/almanac/bench/internal/redisproc"
	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
)

// run sets up Redis, the repository and the server, measures the bytes,
// checks the server's answers, then measures both services.
func run(ctx context.Context, o options) (*report, error) {
	bin := o.almanac
	if bin == "" {
		bin = filepath.Join(o.dir, "almanac")
		progressf("building %s\n", bin)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/almanac-fs/almanac/cmd/almanac")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("build almanac (run from the module, or pass -almanac): %w", err)
		}
	}
	for _, d := range []string{"redis", "repo", "parquet"} {
		if err := os.RemoveAll(filepath.Join(o.dir, d)); err != nil {
			return nil, fmt.Errorf("clear old %s: %w", d, err)
		}
	}
	for _, d := range []string{"redis", "repo"} {
		if err := os.MkdirAll(filepath.Join(o.dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("create %s directory: %w", d, err)
		}
	}
	rs, err := redisproc.Start(ctx, filepath.Join(o.dir, "redis"))
	if err != nil {
		return nil, err
	}
	defer rs.Stop()
	progressf("writing %d users × %d events to Redis (%s)\n", o.entities, eventsPerDay*days, rs.Addr)
	fx, err := newFixture(ctx, filepath.Join(o.dir, "repo"), filepath.Join(o.dir, "parquet"), rs.Addr, o.entities)
	if err != nil {
		return nil, err
	}
	rep := &report{o: o, Machine: machine.Describe(), Revision: machine.Revision()}
	if rep.Bytes, err = fx.measureBytes(ctx, rs.Addr); err != nil {
		return nil, err
	}
	srv, err := startServer(ctx, bin, fx.dir)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	progressf("checking %d users on both services\n", checkSample)
	if err := fx.check(ctx, srv.conn); err != nil {
		return nil, err
	}
	client := almanacv1.NewFeatureServerClient(srv.conn)
	runs := map[string][]result{}
	for round := range o.rounds {
		progressf("round %d/%d\n", round+1, o.rounds)
		for _, service := range []string{plainService, windowed} {
			if _, err := loop(ctx, client, service, o.entities, o.warmup, o.seed, srv.cmd.Process.Pid); err != nil {
				return nil, err
			}
			r, err := loop(ctx, client, service, o.entities, o.duration, o.seed+uint64(round)+1, srv.cmd.Process.Pid)
			if err != nil {
				return nil, err
			}
			progressf("  %-9s %7.0f req/s  p99 %s  server CPU %s/request\n", service, r.PerSecond, r.P99, r.CPU)
			runs[service] = append(runs[service], r)
		}
	}
	rep.Plain, rep.Windowed = medianResult(runs[plainService]), medianResult(runs[windowed])
	rep.Load = machine.LoadAverages()
	return rep, nil
}

// result is one measured window of one service.
type result struct {
	Requests  int
	PerSecond float64
	P50, P99  time.Duration
	CPU       time.Duration // the server's, per request
}

// loop sends lookups of one random user of entities to service, one after
// the other, for dur, and returns their latencies and the server's CPU
// time per request.
func loop(ctx context.Context, client almanacv1.FeatureServerClient, service string, entities int64, dur time.Duration, seed uint64, pid int) (result, error) {
	rng := rand.New(rand.NewPCG(seed, 0))
	cpu0, err := machine.ProcessCPU(pid)
	if err != nil {
		return result{}, err
	}
	var lats []time.Duration
	start := time.Now()
	for time.Since(start) < dur {
		req := lookupRequest(service, rng.Int64N(entities))
		t0 := time.Now()
		if _, err := client.GetOnlineFeatures(ctx, req); err != nil {
			return result{}, fmt.Errorf("look up %s: %w", service, err)
		}
		lats = append(lats, time.Since(t0))
	}
	elapsed := time.Since(start)
	cpu1, err := machine.ProcessCPU(pid)
	if err != nil {
		return result{}, err
	}
	slices.Sort(lats)
	n := len(lats)
	return result{
		Requests: n, PerSecond: float64(n) / elapsed.Seconds(),
		P50: lats[n/2], P99: lats[(n*99)/100],
		CPU: (cpu1 - cpu0) / time.Duration(n),
	}, nil
}

// medianResult is the median of each figure of rs.
func medianResult(rs []result) result {
	mid := func(get func(result) float64) float64 {
		xs := make([]float64, len(rs))
		for i, r := range rs {
			xs[i] = get(r)
		}
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	var m result
	for _, r := range rs {
		m.Requests += r.Requests
	}
	m.PerSecond = mid(func(r result) float64 { return r.PerSecond })
	m.P50 = time.Duration(mid(func(r result) float64 { return float64(r.P50) }))
	m.P99 = time.Duration(mid(func(r result) float64 { return float64(r.P99) }))
	m.CPU = time.Duration(mid(func(r result) float64 { return float64(r.CPU) }))
	return m
}

// lookupRequest asks for the features of service of the user id.
func lookupRequest(service string, id int64) *almanacv1.GetOnlineFeaturesRequest {
	return &almanacv1.GetOnlineFeaturesRequest{
		Kind:     &almanacv1.GetOnlineFeaturesRequest_FeatureService{FeatureService: service},
		Entities: map[string]*almanacv1.RepeatedValue{joinKey: {Val: []*almanacv1.Value{int64Value(id)}}},
	}
}

// sizes are bytes per user, the mean over the check sample (the Parquet
// files: over every user).
type sizes struct {
	Record, RecordMemory  float64 // STRLEN and MEMORY USAGE of the tile record
	Record7d              float64 // STRLEN of the 7d-only view's tile record
	Plain                 float64 // STRLEN of the plain view's record, for scale
	Parquet, Uncompressed float64 // the raw events
	Events                float64
}

// measureBytes reads the sizes of the sample's records in Redis.
func (fx *fixture) measureBytes(ctx context.Context, addr string) (sizes, error) {
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	var s sizes
	ids := sampleIDs(fx.entities)
	for _, id := range ids {
		key := []*almanacv1.Value{int64Value(id)}
		for _, k := range []struct {
			view string
			dst  *float64
			mem  *float64
		}{{windowView, &s.Record, &s.RecordMemory}, {window7dView, &s.Record7d, nil}, {plainView, &s.Plain, nil}} {
			name, err := online.AppendStoreKey(nil, keyPrefix, k.view, key)
			if err != nil {
				return s, err
			}
			n, err := c.StrLen(ctx, string(name)).Result()
			if err != nil || n == 0 {
				return s, fmt.Errorf("STRLEN %s: %d bytes, %v", name, n, err)
			}
			*k.dst += float64(n)
			if k.mem != nil {
				m, err := c.MemoryUsage(ctx, string(name)).Result()
				if err != nil {
					return s, fmt.Errorf("MEMORY USAGE %s: %w", name, err)
				}
				*k.mem += float64(m)
			}
		}
		s.Events += float64(len(fx.sample[id]))
	}
	n := float64(len(ids))
	s.Record, s.RecordMemory, s.Record7d, s.Plain, s.Events = s.Record/n, s.RecordMemory/n, s.Record7d/n, s.Plain/n, s.Events/n
	s.Parquet = float64(fx.parquetBytes) / float64(fx.entities)
	s.Uncompressed = float64(eventsPerDay*days) * rawRowBytes
	return s, nil
}

// server is the "almanac serve" process and a connection to it.
type server struct {
	cmd    *exec.Cmd
	exited chan struct{}
	conn   *grpc.ClientConn
}

// startServer runs "almanac serve" on the repository and waits until
// /readyz answers.
func startServer(ctx context.Context, bin, repo string) (*server, error) {
	var addrs [2]string
	for i := range addrs {
		port, err := redisproc.FreePort()
		if err != nil {
			return nil, err
		}
		addrs[i] = "127.0.0.1:" + strconv.Itoa(port)
	}
	s := &server{cmd: exec.Command(bin, "--repo", repo, "serve", "--grpc-addr", addrs[0], "--http-addr", addrs[1]), exited: make(chan struct{})}
	var logs bytes.Buffer
	s.cmd.Stdout, s.cmd.Stderr = &logs, &logs
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start almanac serve: %w", err)
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	for deadline := time.Now().Add(60 * time.Second); ; {
		resp, err := http.Get("http://" + addrs[1] + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("almanac serve exited before it was ready; its log:\n%s", logs.String())
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("almanac serve not ready after a minute; its log:\n%s", logs.String())
		}
	}
	var err error
	if s.conn, err = grpc.NewClient(addrs[0], grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		s.stop()
		return nil, fmt.Errorf("dial almanac serve at %s: %w", addrs[0], err)
	}
	return s, nil
}

// stop closes the connection and ends the server: SIGTERM, then SIGKILL
// after 15 s.
func (s *server) stop() {
	if s.conn != nil {
		s.conn.Close()
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}
