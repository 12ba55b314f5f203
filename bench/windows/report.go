package main

import (
	"fmt"
	"io"
	"time"
)

// report is what a run measured.
type report struct {
	o                 options
	Machine, Revision string
	Load              string // load averages at the end of the measurements
	Bytes             sizes
	Plain, Windowed   result
}

// write prints the report as Markdown tables.
func (r *report) write(w io.Writer) {
	fmt.Fprintf(w, "machine: %s\nrevision: %s\nload average (1, 5, 15 min) after the lookups: %s\n", r.Machine, r.Revision, r.Load)
	fmt.Fprintf(w, "users: %d, %d events each over %d days; lookups: 1 client, %d round(s) of %s after %s of warm-up, medians\n\n",
		r.o.entities, eventsPerDay*days, days, r.o.rounds, r.o.duration, r.o.warmup)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }
	us := func(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }
	fmt.Fprintln(w, "| 1 entity × 10 features | windowed | plain | windowed/plain | DESIGN §12 target |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | --- |")
	fmt.Fprintf(w, "| server CPU per request | %s | %s | **%.2f×** | ≤ 1.5× |\n", us(r.Windowed.CPU), us(r.Plain.CPU), ratio(r.Windowed.CPU, r.Plain.CPU))
	fmt.Fprintf(w, "| p99 | %s | %s | **%.2f×** | ≤ 1.3× |\n", ms(r.Windowed.P99), ms(r.Plain.P99), ratio(r.Windowed.P99, r.Plain.P99))
	fmt.Fprintf(w, "| p50 | %s | %s | %.2f× | |\n", ms(r.Windowed.P50), ms(r.Plain.P50), ratio(r.Windowed.P50, r.Plain.P50))
	fmt.Fprintf(w, "| requests/s | %.0f | %.0f | %.2f× | |\n", r.Windowed.PerSecond, r.Plain.PerSecond, r.Windowed.PerSecond/r.Plain.PerSecond)
	fmt.Fprintf(w, "| requests measured | %d | %d | | |\n\n", r.Windowed.Requests, r.Plain.Requests)
	b := r.Bytes
	fmt.Fprintf(w, "| bytes per user | bytes | %s / raw | %s / raw | DESIGN §12 target |\n", window7dView, windowView)
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | --- |")
	fmt.Fprintf(w, "| tile record of %s (count, sum, mean over 7d), STRLEN | %.0f | | | |\n", window7dView, b.Record7d)
	fmt.Fprintf(w, "| tile record of %s (the 10 features), STRLEN | %.0f | | | |\n", windowView, b.Record)
	fmt.Fprintf(w, "| tile record of %s, MEMORY USAGE | %.0f | | | |\n", windowView, b.RecordMemory)
	fmt.Fprintf(w, "| record of %s (10 float64), STRLEN, for scale | %.0f | | | |\n", plainView, b.Plain)
	fmt.Fprintf(w, "| raw events (%.0f), Parquet zstd as the offline store writes them | %.0f | **%.0f%%** | %.0f%% | ≤ 25%% |\n", b.Events, b.Parquet, 100*b.Record7d/b.Parquet, 100*b.Record/b.Parquet)
	fmt.Fprintf(w, "| raw events (%.0f), uncompressed rows of %d bytes | %.0f | **%.0f%%** | %.0f%% | ≤ 25%% |\n", b.Events, rawRowBytes, b.Uncompressed, 100*b.Record7d/b.Uncompressed, 100*b.Record/b.Uncompressed)
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }
