package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	host "github.com/almanac-fs/almanac/bench/internal/machine"

	"github.com/almanac-fs/almanac/registry"
)

// result is one point measured on one server.
type result struct {
	Entities          int
	Clients           int
	Requests          int
	Seconds           float64
	RequestsPerSecond float64
	RowsPerSecond     float64 // entity rows
	P50, P99, Max     time.Duration
	// CPU time per request of the server, Redis and the load generator,
	// which share the machine's cores.
	ServerCPU, RedisCPU, LoadgenCPU time.Duration
	PeakRSS                         int64 // the server's, sampled during the window
}

func newResult(pt point, ph phase, u usage, rss int64) result {
	n := len(ph.latencies)
	r := result{Entities: pt.entities, Clients: pt.clients, Requests: n, Seconds: ph.elapsed.Seconds(), PeakRSS: rss}
	if n == 0 {
		return r
	}
	r.RequestsPerSecond = float64(n) / r.Seconds
	r.RowsPerSecond = r.RequestsPerSecond * float64(pt.entities)
	r.P50, r.P99, r.Max = percentile(ph.latencies, 0.50), percentile(ph.latencies, 0.99), ph.latencies[n-1]
	r.ServerCPU, r.RedisCPU, r.LoadgenCPU = u.server/time.Duration(n), u.redis/time.Duration(n), u.loadgen/time.Duration(n)
	return r
}

// combine returns the median of each figure of rs, rounds of one point,
// but the highest of their maxima and peak RSS.
func combine(rs []result) result {
	c := rs[0]
	c.Requests, c.Seconds = 0, 0
	for _, r := range rs {
		c.Requests += r.Requests
		c.Seconds += r.Seconds
		c.Max, c.PeakRSS = max(c.Max, r.Max), max(c.PeakRSS, r.PeakRSS)
	}
	c.RequestsPerSecond = median(rs, func(r result) float64 { return r.RequestsPerSecond })
	c.RowsPerSecond = median(rs, func(r result) float64 { return r.RowsPerSecond })
	for _, f := range []struct {
		dst *time.Duration
		get func(result) time.Duration
	}{
		{&c.P50, func(r result) time.Duration { return r.P50 }},
		{&c.P99, func(r result) time.Duration { return r.P99 }},
		{&c.ServerCPU, func(r result) time.Duration { return r.ServerCPU }},
		{&c.RedisCPU, func(r result) time.Duration { return r.RedisCPU }},
		{&c.LoadgenCPU, func(r result) time.Duration { return r.LoadgenCPU }},
	} {
		*f.dst = median(rs, f.get)
	}
	return c
}

// median returns the median of get over rs.
func median[T int64 | float64 | time.Duration](rs []result, get func(result) T) T {
	xs := make([]T, len(rs))
	for i, r := range rs {
		xs[i] = get(r)
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// percentile returns the q-quantile of sorted latencies (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

// comparison is one point measured on Almanac and on the floor server: the
// medians of the rounds, and each round's ratios.
type comparison struct {
	Shape                       string
	Clients                     int
	Almanac, Floor              result
	P99Ratios, ThroughputRatios []float64
}

func newComparison(pt point, alms, floors []result) comparison {
	c := comparison{Shape: pt.shape(), Clients: pt.clients, Almanac: combine(alms), Floor: combine(floors)}
	for i := range alms {
		c.P99Ratios = append(c.P99Ratios, ratio(alms[i].P99.Seconds(), floors[i].P99.Seconds()))
		c.ThroughputRatios = append(c.ThroughputRatios, ratio(alms[i].RequestsPerSecond, floors[i].RequestsPerSecond))
	}
	return c
}

func (c comparison) p99Ratio() float64 { return ratio(c.Almanac.P99.Seconds(), c.Floor.P99.Seconds()) }
func (c comparison) throughputRatio() float64 {
	return ratio(c.Almanac.RequestsPerSecond, c.Floor.RequestsPerSecond)
}

// targets returns the §7 targets of the point: the highest p99 ratio and the
// lowest throughput ratio, 0 where §7 sets none.
func (c comparison) targets() (p99, throughput float64) {
	switch {
	case c.Almanac.Entities == 1 && c.Clients == 1:
		return 1.3, 0
	case c.Almanac.Entities == 1:
		return 0, 0.75
	}
	return 1.5, 0.75
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// memoryReport is the resident memory of the servers, at the end of their
// points.
type memoryReport struct {
	AlmanacRedis, AlmanacLocal, Floor procMemory
	// SteadyPeak is the highest RSS of "almanac serve" on Redis sampled
	// during the measured windows.
	SteadyPeak int64
	// AlmanacRedisMetrics are its own figures at the end.
	AlmanacRedisMetrics serverMetrics
}

// report is everything a run measured.
type report struct {
	Date          time.Time
	Machine       string
	LoadBefore    string
	LoadAfter     string
	Options       options
	FillSeconds   float64
	Redis         []comparison
	Local         []result
	Memory        memoryReport
	Profiles      []profileResult
	ResponseBytes []responseSize
}

// responseSize is the encoded size of one response of each server.
type responseSize struct {
	Entities       int
	Almanac, Floor int
}

func newReport(o options) *report {
	return &report{Date: time.Now().UTC(), Machine: host.Describe(), LoadBefore: host.LoadAverages(), Options: o}
}

// finish records what is known only at the end.
func (r *report) finish() {
	r.LoadAfter = host.LoadAverages()
	for _, c := range r.Redis {
		r.Memory.SteadyPeak = max(r.Memory.SteadyPeak, c.Almanac.PeakRSS)
	}
}

// redisResult returns Almanac's result on Redis at the same point as l.
func (r *report) redisResult(l result) (result, bool) {
	for _, c := range r.Redis {
		if c.Almanac.Entities == l.Entities && c.Clients == l.Clients {
			return c.Almanac, true
		}
	}
	return result{}, false
}

// write prints the report as Markdown.
func (r *report) write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Online serving: Almanac vs the floor server (DESIGN.md §7)\n\n")
	fmt.Fprintf(&b, "- date: %s\n- machine: %s\n- load average (1, 5, 15 min) before: %s; after: %s\n",
		r.Date.Format(time.RFC3339), r.Machine, r.LoadBefore, r.LoadAfter)
	fmt.Fprintf(&b, "- %d entities × %d views × %d features written in %.1f s; %s per point after %s of warm-up; %d round(s), figures are medians of the rounds (maxima: the highest), [low–high] the rounds' ratios\n",
		r.Options.entities, numViews, featuresPerView, r.FillSeconds, r.Options.duration, r.Options.warmup, r.Options.rounds)
	decoding := "responses received but not unmarshaled, on both servers"
	if r.Options.decode {
		decoding = "every response unmarshaled (-decode)"
	}
	fmt.Fprintf(&b, "- Almanac: `almanac serve` process; floor: its own process; load generator: this process, closed loop, generated gRPC client (not the SDK), one connection per server; %s\n", decoding)
	rate := fmt.Sprintf("Almanac's default (%g)", registry.DefaultLogSampleRate)
	if r.Options.logSampleRate >= 0 {
		rate = fmt.Sprintf("%g (-log-sample-rate)", r.Options.logSampleRate)
	}
	fmt.Fprintf(&b, "- served-feature log sample rate of the feature service: %s\n", rate)
	for _, s := range r.ResponseBytes {
		fmt.Fprintf(&b, "- response size, %d entities per request: Almanac %d bytes, floor %d bytes\n", s.Entities, s.Almanac, s.Floor)
	}
	b.WriteString("\n")
	r.writeComparisons(&b)
	r.writeCPU(&b)
	r.writeLocal(&b)
	r.writeMemory(&b)
	r.writeProfiles(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *report) writeComparisons(b *strings.Builder) {
	b.WriteString("## Almanac on Redis vs the floor server\n\n")
	b.WriteString("| shape | clients | Almanac req/s | floor req/s | throughput ratio (target) | Almanac p50 | floor p50 | Almanac p99 | floor p99 | p99 ratio (target) | Almanac max | floor max |\n")
	b.WriteString("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |\n")
	for _, c := range r.Redis {
		p99T, thrT := c.targets()
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			c.Shape, c.Clients, fmtRate(c.Almanac), fmtRate(c.Floor),
			verdict(c.throughputRatio(), c.ThroughputRatios, thrT, true), fmtDuration(c.Almanac.P50), fmtDuration(c.Floor.P50),
			fmtDuration(c.Almanac.P99), fmtDuration(c.Floor.P99), verdict(c.p99Ratio(), c.P99Ratios, p99T, false),
			fmtDuration(c.Almanac.Max), fmtDuration(c.Floor.Max))
	}
	b.WriteString("\nFor 100 entities the throughput ratio is also the rows/s ratio (rows/s = 100 × req/s).\n\n")
}

// verdict prints the ratio of the medians, the range of the rounds' ratios
// and the target, if any, with whether the ratio meets it.
func verdict(x float64, rounds []float64, target float64, atLeast bool) string {
	spread := ""
	if len(rounds) > 1 {
		spread = fmt.Sprintf(" [%.2f–%.2f]", slices.Min(rounds), slices.Max(rounds))
	}
	switch {
	case target == 0:
		return fmt.Sprintf("%.2f×%s (—)", x, spread)
	case atLeast:
		return fmt.Sprintf("%.2f×%s (≥ %.2f: %s)", x, spread, target, yesNo(x >= target))
	}
	return fmt.Sprintf("%.2f×%s (≤ %.1f×: %s)", x, spread, target, yesNo(x <= target))
}

func yesNo(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

func (r *report) writeCPU(b *strings.Builder) {
	b.WriteString("## CPU time per request (µs)\n\nThe two cores are shared by Redis, the server and the load generator, so CPU per request bounds throughput.\n\n")
	b.WriteString("| shape | clients | server measured | server CPU | Redis CPU | load generator CPU | sum | server RSS peak |\n")
	b.WriteString("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n")
	row := func(shape string, name string, x result) {
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %s | %s |\n", shape, x.Clients, name,
			fmtMicros(x.ServerCPU), fmtMicros(x.RedisCPU), fmtMicros(x.LoadgenCPU),
			fmtMicros(x.ServerCPU+x.RedisCPU+x.LoadgenCPU), fmtMiB(x.PeakRSS))
	}
	for _, c := range r.Redis {
		row(c.Shape, "Almanac", c.Almanac)
		row(c.Shape, "floor", c.Floor)
	}
	for _, l := range r.Local {
		row(point{l.Entities, l.Clients}.shape(), "Almanac, embedded", l)
	}
	b.WriteString("\n")
}

func (r *report) writeLocal(b *strings.Builder) {
	b.WriteString("## Almanac on the embedded store vs Almanac on Redis\n\n")
	b.WriteString("| shape | clients | embedded req/s | embedded p50 | embedded p99 | embedded max | Redis req/s | Redis p99 | p99 embedded / Redis (target < 1) |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, l := range r.Local {
		rr, ok := r.redisResult(l)
		if !ok {
			continue
		}
		x := ratio(l.P99.Seconds(), rr.P99.Seconds())
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %s | %s | %.2f× (%s) |\n",
			point{l.Entities, l.Clients}.shape(), l.Clients, fmtRate(l), fmtDuration(l.P50), fmtDuration(l.P99),
			fmtDuration(l.Max), fmtRate(rr), fmtDuration(rr.P99), x, yesNo(x < 1))
	}
	b.WriteString("\n")
}

func (r *report) writeMemory(b *strings.Builder) {
	m := r.Memory
	fmt.Fprintf(b, "## Memory\n\nHighest RSS of almanac serve on Redis sampled under load: %s (target < 150 MB: %s).\n\n",
		fmtMiB(m.SteadyPeak), yesNo(m.SteadyPeak < 150<<20))
	b.WriteString("| process, at the end of its points | RSS | anonymous | file-backed | peak (VmHWM) |\n| --- | ---: | ---: | ---: | ---: |\n")
	row := func(name string, p procMemory) {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", name, fmtMiB(p.RSS), fmtMiB(p.Anon), fmtMiB(p.File), fmtMiB(p.HWM))
	}
	row("almanac serve on Redis", m.AlmanacRedis)
	row("almanac serve on the embedded store", m.AlmanacLocal)
	row("floor server", m.Floor)
	met := m.AlmanacRedisMetrics
	fmt.Fprintf(b, "\nOf almanac serve's RSS on Redis, the Go runtime held %s (go_memstats_sys_bytes; heap in use %s); the rest is C memory (DuckDB, opened for Push and the served-feature log) and, file-backed, the pages of the mapped executable. ",
		fmtMiB(met.GoSys), fmtMiB(met.GoHeapInuse))
	fmt.Fprintf(b, "It handed %d entity rows to the served-feature log and dropped %d (buffer full). The embedded store's file-backed RSS also holds its memory-mapped bbolt file.\n\n",
		met.LoggedRows, met.DroppedLogRows)
}

func (r *report) writeProfiles(b *strings.Builder) {
	for _, p := range r.Profiles {
		fmt.Fprintf(b, "## CPU profile: Almanac server, %s, %d clients\n\n%s\n\n```\n%s\n```\n\n", p.Shape, p.Clients, p.File, p.Top)
	}
}

func fmtRate(x result) string { return fmt.Sprintf("%.0f", x.RequestsPerSecond) }

func fmtDuration(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func fmtMicros(d time.Duration) string {
	return fmt.Sprintf("%.0f", float64(d)/float64(time.Microsecond))
}

func fmtMiB(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }
