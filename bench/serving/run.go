package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/almanac-fs/almanac/bench/internal/redisproc"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
)

// point is one shape and concurrency of the load.
type point struct {
	entities int // per request
	clients  int
}

func (p point) shape() string {
	return fmt.Sprintf("entities=%d/views=%d/features=%d", p.entities, numViews, featuresPerView)
}

// The points of DESIGN.md §7 on Redis, and on the embedded store.
var (
	redisPoints = []point{{1, 1}, {1, 8}, {1, 32}, {100, 1}, {100, 8}}
	localPoints = []point{{1, 1}, {1, 8}}
)

// Requests in the pool of each entity count: enough that the same request
// rarely repeats back to back.
var poolSize = map[int]int{1: 8192, 100: 1024}

// bench holds what every phase of a run shares.
type bench struct {
	o     options
	fx    *fixture
	redis *redisproc.Server
	pools map[int][]*almanacv1.GetOnlineFeaturesRequest
}

// run sets up Redis, the repository and the servers, checks the servers'
// answers, then measures every point.
func run(ctx context.Context, o options) (*report, error) {
	rep := newReport(o)
	b := &bench{o: o, pools: map[int][]*almanacv1.GetOnlineFeaturesRequest{}}
	bin, err := almanacBinary(ctx, o)
	if err != nil {
		return nil, err
	}
	redisDir := filepath.Join(o.dir, "redis")
	if err := os.MkdirAll(redisDir, 0o755); err != nil {
		return nil, fmt.Errorf("create redis directory: %w", err)
	}
	if b.redis, err = redisproc.Start(ctx, redisDir); err != nil {
		return nil, err
	}
	defer b.redis.Stop()
	began := time.Now()
	if err := b.setUp(ctx); err != nil {
		return nil, err
	}
	rep.FillSeconds = time.Since(began).Seconds()
	if err := b.measureRedis(ctx, bin, rep); err != nil {
		return nil, err
	}
	if err := b.measureLocal(ctx, bin, rep); err != nil {
		return nil, err
	}
	if o.cpuprofile != "" {
		if rep.Profiles, err = b.profile(ctx); err != nil {
			return nil, err
		}
	}
	rep.finish()
	return rep, nil
}

// setUp generates the repository, fills both online stores and builds the
// request pools.
func (b *bench) setUp(ctx context.Context) error {
	repoDir := filepath.Join(b.o.dir, "repo")
	if err := os.RemoveAll(repoDir); err != nil {
		return fmt.Errorf("clear old repository: %w", err)
	}
	if err := os.MkdirAll(repoDir, 0o755); err != nil {
		return fmt.Errorf("create repository directory: %w", err)
	}
	progressf("writing %d entities × %d views to Redis (%s) and the embedded store\n", b.o.entities, numViews, b.redis.Addr)
	var err error
	if b.fx, err = newFixture(ctx, repoDir, b.redis.Addr, b.o.entities, b.o.logSampleRate); err != nil {
		return err
	}
	for n, size := range poolSize {
		b.pools[n] = requestPool(size, n, b.o.entities, b.o.seed)
	}
	return nil
}

// almanacBinary returns -almanac, or builds the almanac command of this
// module into the work directory.
func almanacBinary(ctx context.Context, o options) (string, error) {
	if o.almanac != "" {
		return o.almanac, nil
	}
	bin := filepath.Join(o.dir, "almanac")
	progressf("building %s\n", bin)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/almanac-fs/almanac/cmd/almanac")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build almanac (run from the module, or pass -almanac): %w", err)
	}
	return bin, nil
}

// measureRedis runs the floor server and "almanac serve" on Redis side by
// side and measures each point on both, the floor first, in -rounds rounds.
func (b *bench) measureRedis(ctx context.Context, bin string, rep *report) error {
	floor, err := startChild("floor server", "-child", "floor", "-redis", b.redis.Addr)
	if err != nil {
		return err
	}
	defer floor.stop()
	alm, err := startAlmanac(ctx, "almanac serve (redis)", bin, b.fx.dir)
	if err != nil {
		return err
	}
	defer alm.stop()
	progressf("checking %d entities on both servers\n", checkSample)
	if err := b.fx.checkFloor(ctx, floor.conn); err != nil {
		return err
	}
	if err := b.fx.checkAlmanac(ctx, alm.conn); err != nil {
		return fmt.Errorf("almanac serve (redis): %w", err)
	}
	for _, n := range []int{1, 100} {
		a, f, err := responseSizes(ctx, alm.conn, floor.conn, b.pools[n][0])
		if err != nil {
			return err
		}
		rep.ResponseBytes = append(rep.ResponseBytes, responseSize{Entities: n, Almanac: a, Floor: f})
	}
	alms, floors := make([][]result, len(redisPoints)), make([][]result, len(redisPoints))
	for round := range b.o.rounds {
		progressf("round %d/%d on Redis\n", round+1, b.o.rounds)
		for i, pt := range redisPoints {
			f, err := b.measure(ctx, floor, floorCaller(floor.conn, b.o.decode), pt)
			if err != nil {
				return err
			}
			a, err := b.measure(ctx, alm, almanacCaller(alm.conn, b.o.decode), pt)
			if err != nil {
				return err
			}
			alms[i], floors[i] = append(alms[i], a), append(floors[i], f)
		}
	}
	for i, pt := range redisPoints {
		rep.Redis = append(rep.Redis, newComparison(pt, alms[i], floors[i]))
	}
	if rep.Memory.AlmanacRedis, err = memory(alm.pid()); err != nil {
		return err
	}
	if rep.Memory.AlmanacRedisMetrics, err = scrapeMetrics(alm.httpAddr); err != nil {
		return err
	}
	rep.Memory.Floor, err = memory(floor.pid())
	return err
}

// measureLocal runs "almanac serve" on the embedded store and measures its
// points.
func (b *bench) measureLocal(ctx context.Context, bin string, rep *report) error {
	alm, err := startAlmanac(ctx, "almanac serve (embedded)", bin, b.fx.dir, "ALMANAC_ONLINE_STORE_TYPE=local")
	if err != nil {
		return err
	}
	defer alm.stop()
	if err := b.fx.checkAlmanac(ctx, alm.conn); err != nil {
		return fmt.Errorf("almanac serve (embedded): %w", err)
	}
	runs := make([][]result, len(localPoints))
	for round := range b.o.rounds {
		progressf("round %d/%d on the embedded store\n", round+1, b.o.rounds)
		for i, pt := range localPoints {
			r, err := b.measure(ctx, alm, almanacCaller(alm.conn, b.o.decode), pt)
			if err != nil {
				return err
			}
			runs[i] = append(runs[i], r)
		}
	}
	for _, rs := range runs {
		rep.Local = append(rep.Local, combine(rs))
	}
	rep.Memory.AlmanacLocal, err = memory(alm.pid())
	return err
}

// measure warms server p up and measures one point on it.
func (b *bench) measure(ctx context.Context, p *proc, call caller, pt point) (result, error) {
	progressf("  %-34s clients=%-2d %-26s", pt.shape(), pt.clients, p.name)
	pool := b.pools[pt.entities]
	if _, err := closedLoop(ctx, call, pool, pt.clients, b.o.warmup, b.o.seed+1); err != nil {
		return result{}, fmt.Errorf("%s, %s, %d clients, warm-up: %w", p.name, pt.shape(), pt.clients, err)
	}
	before, err := readUsage(p.pid(), b.redis.PID())
	if err != nil {
		return result{}, err
	}
	stop := make(chan struct{})
	peak := sampleRSS(p.pid(), stop)
	ph, err := closedLoop(ctx, call, pool, pt.clients, b.o.duration, b.o.seed+2)
	close(stop)
	rss := <-peak
	if err != nil {
		return result{}, fmt.Errorf("%s, %s, %d clients: %w", p.name, pt.shape(), pt.clients, err)
	}
	after, err := readUsage(p.pid(), b.redis.PID())
	if err != nil {
		return result{}, err
	}
	r := newResult(pt, ph, after.sub(before), rss)
	progressf(" %8.0f req/s  p99 %s\n", r.RequestsPerSecond, fmtDuration(r.P99))
	return r, nil
}
