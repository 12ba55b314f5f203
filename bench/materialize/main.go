package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/almanac-fs/almanac/bench/internal/redisproc"

	goredis "github.com/redis/go-redis/v9"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/online/redis"
)

// options are the command line.
type options struct {
	rows, entities int64
	runs           int
	dir            string
	cpuprofile     string
	explain        bool
	// end is the end of the materialized range; the history fills the
	// week before it.
	end time.Time
	// child mode: one Almanac materialization against Redis at redisAddr.
	child       bool
	offlineOnly bool
	redisAddr   string
	redisPID    int
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("materialize", flag.ContinueOnError)
	var o options
	quick := fs.Bool("quick", false, "smoke run: 200,000 history rows over 50,000 entities, 1 run, unless set otherwise")
	fs.Int64Var(&o.rows, "rows", 1_000_000, "history rows in the source")
	fs.Int64Var(&o.entities, "entities", 250_000, "entities (users) the rows belong to")
	fs.IntVar(&o.runs, "runs", 3, "timed runs of each side, in turns, after a checked warm-up run")
	fs.StringVar(&o.dir, "dir", "", "work directory, kept afterwards (default: a temporary directory, removed)")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the online phase of one more Almanac materialization to this file")
	fs.BoolVar(&o.explain, "explain", false, "also time the steps of the online phase apart (diagnostic)")
	end := fs.String("end", "", "internal: end of the materialized range (RFC 3339)")
	fs.BoolVar(&o.child, "child", false, "internal: run one Almanac materialization and print its result")
	fs.BoolVar(&o.offlineOnly, "offline-only", false, "internal: leave the online store out of the child's materialization")
	fs.StringVar(&o.redisAddr, "redis", "", "internal: Redis address of the child")
	fs.IntVar(&o.redisPID, "redis-pid", 0, "internal: Redis process of the child")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		for name, apply := range map[string]func(){
			"rows":     func() { o.rows = 200_000 },
			"entities": func() { o.entities = 50_000 },
			"runs":     func() { o.runs = 1 },
		} {
			if !set[name] {
				apply()
			}
		}
	}
	o.end = time.Now().UTC().Truncate(time.Hour)
	if *end != "" {
		var err error
		if o.end, err = time.Parse(time.RFC3339, *end); err != nil {
			return o, fmt.Errorf("-end: %w", err)
		}
	}
	if o.entities < checkSample || o.rows < o.entities || o.runs < 1 {
		return o, fmt.Errorf("need -entities ≥ %d, -rows ≥ -entities and -runs ≥ 1", checkSample)
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "materialize:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.child {
		err = childMain(ctx, o)
	} else {
		err = benchMain(ctx, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "materialize:", err)
		stop()
		os.Exit(1)
	}
}

// progressf tells a person watching what the benchmark is doing; stdout is
// kept for the report.
func progressf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format, args...)
}

// benchMain sets up the work directory and runs the benchmark.
func benchMain(ctx context.Context, o options) error {
	if o.dir == "" {
		dir, err := os.MkdirTemp("", "almanac-bench-materialize-")
		if err != nil {
			return fmt.Errorf("create work directory: %w", err)
		}
		defer os.RemoveAll(dir)
		o.dir = dir
	}
	for _, sub := range []string{"redis", "repo"} {
		if err := os.RemoveAll(filepath.Join(o.dir, sub)); err != nil {
			return fmt.Errorf("clear work directory: %w", err)
		}
		if err := os.MkdirAll(filepath.Join(o.dir, sub), 0o755); err != nil {
			return fmt.Errorf("create work directory: %w", err)
		}
	}
	rep := newReport(o)
	rs, err := redisproc.Start(ctx, filepath.Join(o.dir, "redis"))
	if err != nil {
		return err
	}
	defer rs.Stop()
	e, err := setUp(ctx, o, rs)
	if err != nil {
		return err
	}
	defer e.close()
	if err := measure(ctx, o, e, rep); err != nil {
		return err
	}
	if o.cpuprofile != "" {
		if rep.Profile, err = profile(ctx, o, e, o.cpuprofile); err != nil {
			return err
		}
	}
	if o.explain {
		progressf("timing the steps of the online phase apart\n")
		if rep.Steps, err = e.explain(ctx, filepath.Join(o.dir, "repo")); err != nil {
			return err
		}
	}
	rep.finish()
	return rep.write(os.Stdout)
}

// setUp generates the repository and opens what the parent's sides use.
func setUp(ctx context.Context, o options, rs *redisproc.Server) (*env, error) {
	repoDir := filepath.Join(o.dir, "repo")
	progressf("generating %d history rows over %d entities in %s\n", o.rows, o.entities, repoDir)
	if err := generate(ctx, repoDir, rs.Addr, newShape(o.rows, o.entities, o.end)); err != nil {
		return nil, err
	}
	return openEnv(o, rs.Addr, rs.PID())
}

// openEnv opens what every side uses: the applied repository in o.dir,
// DuckDB, Almanac's Redis store and a plain Redis client.
func openEnv(o options, redisAddr string, redisPID int) (*env, error) {
	e := &env{shape: newShape(o.rows, o.entities, o.end), redisPID: redisPID}
	var err error
	if e.cfg, e.defs, err = applied(filepath.Join(o.dir, "repo")); err != nil {
		return nil, err
	}
	if e.view = e.defs.View(viewName); e.view == nil {
		return nil, fmt.Errorf("applied registry has no view %q", viewName)
	}
	if e.db, err = duck.Open(duck.Options{}); err != nil {
		return nil, err
	}
	opts := redis.DefaultOptions()
	opts.Addrs, opts.Project = []string{redisAddr}, e.cfg.Project
	if e.store, err = redis.New(opts); err != nil {
		e.db.Close()
		return nil, err
	}
	e.client = goredis.NewClient(&goredis.Options{Addr: redisAddr, DisableIdentity: true})
	return e, nil
}

func (e *env) close() error {
	return errors.Join(e.client.Close(), e.store.Close(), e.db.Close())
}

// measure runs a checked warm-up of each side, then the timed runs in turns.
func measure(ctx context.Context, o options, e *env, rep *report) error {
	progressf("warm-up: materialize, read the records back, compare with the source\n")
	if _, err := runChild(ctx, o, e, false, ""); err != nil {
		return err
	}
	if err := e.dump(ctx); err != nil {
		return err
	}
	if err := e.checkAgainstSource(ctx, filepath.Join(o.dir, "repo")); err != nil {
		return fmt.Errorf("check materialized records against the source: %w", err)
	}
	if _, err := e.baseline(ctx, e.records); err != nil {
		return err
	}
	if _, err := e.storeWrite(ctx); err != nil {
		return err
	}
	for i := range o.runs {
		progressf("run %d/%d:", i+1, o.runs)
		b, err := e.baseline(ctx, e.records)
		if err != nil {
			return err
		}
		progressf(" baseline %.2fs;", b.Seconds)
		scan, err := e.baseline(ctx, e.scanOrder)
		if err != nil {
			return err
		}
		progressf(" baseline in SCAN order %.2fs;", scan.Seconds)
		s, err := e.storeWrite(ctx)
		if err != nil {
			return err
		}
		progressf(" Store.Write %.2fs;", s.Seconds)
		a, err := runChild(ctx, o, e, false, "")
		if err != nil {
			return err
		}
		progressf(" materialize %.2fs (online phase %.2fs);", a.Whole.Seconds, a.Online.Seconds)
		off, err := runChild(ctx, o, e, true, "")
		if err != nil {
			return err
		}
		progressf(" offline only %.2fs\n", off.Whole.Seconds)
		rep.add(b, scan, s, a, off)
	}
	return nil
}

// profile writes a CPU profile of the online phase of one more
// materialization to file and returns the top of "go tool pprof -top".
func profile(ctx context.Context, o options, e *env, file string) (string, error) {
	progressf("profiling one more materialization into %s\n", file)
	if _, err := runChild(ctx, o, e, false, file); err != nil {
		return "", err
	}
	top, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-symbolize=none", "-top", "-nodecount=35", file).Output()
	if err != nil {
		return "", fmt.Errorf("go tool pprof -top %s: %w", file, err)
	}
	return fmt.Sprintf("%s\n\n```\n%s\n```", file, strings.TrimSpace(string(top))), nil
}
