package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// options are the command line.
type options struct {
	duration   time.Duration
	rounds     int
	warmup     time.Duration
	entities   int64
	almanac    string
	dir        string
	cpuprofile string
	seed       uint64
	decode     bool
	// logSampleRate is the feature service's served-feature log rate;
	// negative: Almanac's default.
	logSampleRate float64
	// child mode: "floor" (with redis) or "profiled" (with repo).
	child, redis, repo string
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("serving", flag.ContinueOnError)
	var o options
	quick := fs.Bool("quick", false, "smoke run of about a minute: 1 round, 2 s per point after 0.5 s of warm-up, 20,000 entities, unless set otherwise")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per point and server")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds over every point; each figure is the median of the rounds")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "warm-up before each measured window")
	fs.Int64Var(&o.entities, "entities", 100_000, "entities written to the online stores")
	fs.StringVar(&o.almanac, "almanac", "", "the almanac binary to run (default: built from this module into the work directory)")
	fs.StringVar(&o.dir, "dir", "", "work directory, kept afterwards (default: a temporary directory, removed)")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "also profile Almanac's server under load and write the CPU and allocation profiles into this directory")
	fs.BoolVar(&o.decode, "decode", false, "unmarshal every response in the load generator (by default responses are received but not decoded, on both servers)")
	fs.Float64Var(&o.logSampleRate, "log-sample-rate", -1, "the feature service's logging.sample_rate, the share of lookups written to the served-feature log (default: Almanac's default)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the random entities of the requests")
	fs.StringVar(&o.child, "child", "", "internal: run as the floor server (floor) or the profiled Almanac server (profiled)")
	fs.StringVar(&o.redis, "redis", "", "internal: Redis address of the floor server")
	fs.StringVar(&o.repo, "repo", "", "internal: repository of the profiled Almanac server")
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
			"duration": func() { o.duration = 2 * time.Second },
			"warmup":   func() { o.warmup = 500 * time.Millisecond },
			"entities": func() { o.entities = 20_000 },
			"rounds":   func() { o.rounds = 1 },
		} {
			if !set[name] {
				apply()
			}
		}
	}
	if o.duration <= 0 || o.warmup < 0 || o.rounds < 1 || o.entities < checkSample || o.logSampleRate > 1 {
		return o, fmt.Errorf("need -duration > 0, -warmup ≥ 0, -rounds ≥ 1, -entities ≥ %d and -log-sample-rate ≤ 1", checkSample)
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "serving:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch o.child {
	case "":
		err = benchMain(ctx, o)
	case "floor":
		err = floorMain(ctx, o.redis)
	case "profiled":
		err = profiledMain(ctx, o.repo)
	default:
		err = fmt.Errorf("unknown child mode %q", o.child)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "serving:", err)
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
		dir, err := os.MkdirTemp("", "almanac-bench-serving-")
		if err != nil {
			return fmt.Errorf("create work directory: %w", err)
		}
		defer os.RemoveAll(dir)
		o.dir = dir
	} else if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return fmt.Errorf("create work directory: %w", err)
	}
	rep, err := run(ctx, o)
	if err != nil {
		return err
	}
	return rep.write(os.Stdout)
}
