// Package cli is the skeleton of a benchmark command: a -quick preset of
// flags, a context ended by SIGINT or SIGTERM, the work directory, and
// progress lines on stderr (stdout is kept for the report).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Quick sets each flag named in presets that the command line left unset to
// its preset value.
func Quick(fs *flag.FlagSet, presets map[string]string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for name, value := range presets {
		if given[name] {
			continue
		}
		if err := fs.Set(name, value); err != nil {
			return fmt.Errorf("-quick sets -%s=%s: %w", name, value, err)
		}
	}
	return nil
}

// Main parses the command line with parse and calls run with a context
// that SIGINT and SIGTERM end. Errors are printed after the command's
// name; the process exits 2 for a bad command line, 1 for a failed run.
func Main[O any](name string, parse func(args []string) (O, error), run func(context.Context, O) error) {
	o, err := parse(os.Args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// WorkDir returns dir, created if missing, or when dir is empty a new
// temporary directory named after pattern (as os.MkdirTemp), which
// cleanup removes.
func WorkDir(dir, pattern string) (_ string, cleanup func(), err error) {
	if dir != "" {
		return dir, func() {}, os.MkdirAll(dir, 0o755)
	}
	if dir, err = os.MkdirTemp("", pattern); err != nil {
		return "", nil, fmt.Errorf("create work directory: %w", err)
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// Progressf tells a person watching what the benchmark is doing, on stderr.
func Progressf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format, args...)
}
