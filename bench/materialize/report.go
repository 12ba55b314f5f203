package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	host "github.com/almanac-fs/almanac/bench/internal/machine"
)

// report is everything a run measured.
type report struct {
	Date        time.Time
	Machine     string
	LoadBefore  string
	LoadAfter   string
	Options     options
	HistoryRows int64
	Baseline    []measurement
	ScanOrder   []measurement // the baseline in Redis's SCAN order
	StoreWrite  []measurement
	Online      []measurement // the online phase of Almanac's runs
	Whole       []measurement // Almanac's whole runs
	OfflineOnly []measurement
	Profile     string
	Steps       []step
}

func newReport(o options) *report {
	return &report{Date: time.Now().UTC(), Machine: host.Describe(), LoadBefore: host.LoadAverages(), Options: o}
}

// add records one round of timed runs.
func (r *report) add(baseline, scanOrder, store measurement, almanac, offlineOnly almanacRun) {
	r.Baseline = append(r.Baseline, baseline)
	r.ScanOrder = append(r.ScanOrder, scanOrder)
	r.StoreWrite = append(r.StoreWrite, store)
	r.Online = append(r.Online, almanac.Online)
	r.Whole = append(r.Whole, almanac.Whole)
	r.OfflineOnly = append(r.OfflineOnly, offlineOnly.Whole)
	r.HistoryRows = almanac.HistoryRows
}

func (r *report) finish() { r.LoadAfter = host.LoadAverages() }

// summary is the medians of one line's runs.
type summary struct {
	Seconds                float64
	Rows                   int64
	CPUPerRow, RedisPerRow time.Duration
}

func summarize(ms []measurement) summary {
	s := summary{Rows: ms[0].Rows}
	secs := make([]float64, len(ms))
	cpu := make([]time.Duration, len(ms))
	rcpu := make([]time.Duration, len(ms))
	for i, m := range ms {
		secs[i] = m.Seconds
		cpu[i] = m.CPU / time.Duration(max(m.Rows, 1))
		rcpu[i] = m.RedisCPU / time.Duration(max(m.Rows, 1))
	}
	s.Seconds, s.CPUPerRow, s.RedisPerRow = median(secs), median(cpu), median(rcpu)
	return s
}

func (s summary) rowsPerSecond() float64 { return float64(s.Rows) / s.Seconds }

func median[T float64 | time.Duration](xs []T) T {
	xs = slices.Sorted(slices.Values(xs))
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// write prints the report as Markdown.
func (r *report) write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Materialization into Redis: Almanac vs pipelined writes (DESIGN.md §7)\n\n")
	fmt.Fprintf(&b, "- date: %s\n- machine: %s\n- load average (1, 5, 15 min) before: %s; after: %s\n",
		r.Date.Format(time.RFC3339), r.Machine, r.LoadBefore, r.LoadAfter)
	fmt.Fprintf(&b, "- %d history rows over %d entities, one view of %d features with a TTL; every line writes %d entity rows (the latest per entity) to an emptied Redis; median of %d runs\n\n",
		r.HistoryRows, r.Options.entities, len(features), r.Options.entities, len(r.Baseline))
	base := summarize(r.Baseline)
	online := summarize(r.Online)
	whole := summarize(r.Whole)
	offline := summarize(r.OfflineOnly)
	b.WriteString("| line | entity rows | seconds | entity rows/s | vs baseline | CPU µs/row, this process | CPU µs/row, Redis |\n")
	b.WriteString("| --- | ---: | ---: | ---: | --- | ---: | ---: |\n")
	line := func(name string, s summary, target string) {
		fmt.Fprintf(&b, "| %s | %d | %.2f | %.0f | %.2f×%s | %.1f | %.1f |\n", name, s.Rows, s.Seconds, s.rowsPerSecond(),
			s.rowsPerSecond()/base.rowsPerSecond(), target, micros(s.CPUPerRow), micros(s.RedisPerRow))
	}
	line("baseline: pipelined SET key record PXAT t of the pre-encoded records, in entity order", base, "")
	line("reference: the same commands in Redis's SCAN order (its own hash-table order, which no writer has)", summarize(r.ScanOrder), "")
	line("Almanac online/redis.Store.Write of the same rows (encode, newer-wins Lua)", summarize(r.StoreWrite), "")
	ratio := online.rowsPerSecond() / base.rowsPerSecond()
	line("**Almanac materialization, online phase** (latest-row query, rows, Store.Write)", online,
		fmt.Sprintf(" (target ≥ 0.60: %s)", verdict(ratio >= 0.6)))
	line("Almanac materialization, whole run (offline history + online)", whole, "")
	rounds := make([]string, len(r.Online))
	ratios := make([]float64, len(r.Online))
	for i := range r.Online {
		ratios[i] = r.Baseline[i].Seconds / r.Online[i].Seconds // the same rows: the ratio of rows/s
		rounds[i] = fmt.Sprintf("%.2f× (%.2f s / %.2f s)", ratios[i], r.Baseline[i].Seconds, r.Online[i].Seconds)
	}
	fmt.Fprintf(&b, "\nOnline phase vs baseline round by round (each round runs both, one after the other; baseline seconds / online phase seconds): %s; median %.2f×.\n",
		strings.Join(rounds, ", "), median(ratios))
	fmt.Fprintf(&b, "\nThe whole run also computed and wrote %d history rows to the offline store: %.0f history rows/s. ", r.HistoryRows, float64(r.HistoryRows)/whole.Seconds)
	fmt.Fprintf(&b, "The same run with --offline-only took %.2f s, so the online store added %.2f s to it (%.0f entity rows/s, %.2f× the baseline).\n\n",
		offline.Seconds, whole.Seconds-offline.Seconds, float64(whole.Rows)/(whole.Seconds-offline.Seconds),
		float64(whole.Rows)/(whole.Seconds-offline.Seconds)/base.rowsPerSecond())
	if len(r.Steps) > 0 {
		b.WriteString("## The online phase step by step (-explain)\n\nEach step run apart, in one goroutine, on a copy of the view's rows:\n\n| step | seconds |\n| --- | ---: |\n")
		for _, s := range r.Steps {
			fmt.Fprintf(&b, "| %s | %.2f |\n", s.Name, s.Seconds)
		}
		b.WriteString("\n")
	}
	if r.Profile != "" {
		fmt.Fprintf(&b, "## CPU profile of the online phase of one Almanac materialization\n\n%s\n", r.Profile)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "missed"
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
