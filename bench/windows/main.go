package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/almanac-fs/almanac/bench/internal/cli"
)

// options are the command line.
type options struct {
	duration time.Duration
	warmup   time.Duration
	rounds   int
	entities int64
	almanac  string
	dir      string
	seed     uint64
	// The export benchmark, instead of the lookups.
	export             bool
	events, entityRows int64
	runs               int
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("windows", flag.ContinueOnError)
	var o options
	quick := fs.Bool("quick", false, "smoke run: 1 round, 2 s per point after 0.5 s of warm-up, 200 entities; with -export 100k events, 10k entity rows, 1 run; unless set otherwise")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per point")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "warm-up before each measured window")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds over both services; each figure is the median of the rounds")
	fs.Int64Var(&o.entities, "entities", 2000, "users, each with 700 events over 7 days")
	fs.StringVar(&o.almanac, "almanac", "", "the almanac binary to run (default: built from this module into the work directory)")
	fs.StringVar(&o.dir, "dir", "", "work directory, kept afterwards (default: a temporary directory, removed)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the random users of the requests")
	fs.BoolVar(&o.export, "export", false, "measure the export of window features instead of lookups and bytes")
	fs.Int64Var(&o.events, "events", 10_000_000, "with -export: events in the offline store")
	fs.Int64Var(&o.entityRows, "entity-rows", 1_000_000, "with -export: entity rows exported")
	fs.IntVar(&o.runs, "runs", 3, "with -export: timed runs of each side")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *quick {
		err := cli.Quick(fs, map[string]string{"duration": "2s", "warmup": "500ms", "entities": "200", "rounds": "1", "events": "100000", "entity-rows": "10000", "runs": "1"})
		if err != nil {
			return o, err
		}
	}
	if o.duration <= 0 || o.warmup < 0 || o.rounds < 1 || o.entities < checkSample || o.events < 1 || o.entityRows < 1 || o.runs < 1 {
		return o, fmt.Errorf("need -duration > 0, -warmup ≥ 0, -rounds ≥ 1, -entities ≥ %d, and -events, -entity-rows and -runs ≥ 1", checkSample)
	}
	return o, nil
}

func main() { cli.Main("windows", parseFlags, benchMain) }

// progressf tells a person watching what the benchmark is doing.
var progressf = cli.Progressf

// benchMain sets up the work directory, runs the benchmark and prints its
// report.
func benchMain(ctx context.Context, o options) error {
	dir, cleanup, err := cli.WorkDir(o.dir, "almanac-bench-windows-")
	if err != nil {
		return err
	}
	defer cleanup()
	o.dir = dir
	if o.export {
		rep, err := runExport(ctx, o)
		if err != nil {
			return err
		}
		rep.write(os.Stdout)
		return nil
	}
	rep, err := run(ctx, o)
	if err != nil {
		return err
	}
	rep.write(os.Stdout)
	return nil
}
