// Command serving measures Almanac's online lookups against the floor of any
// gRPC feature server over Redis, in one run on one machine (DESIGN.md §7).
//
// It generates a feature repository (one entity, user_id; five feature views
// of ten features each, float64, int64 and string; a feature service over
// the fifty features), applies it, and writes the same rows for -entities
// users through Almanac's own online stores (online/redis.Store.Write into a
// redis-server it starts on a free loopback port, online/local.Store.Write
// into the embedded store). Then it starts, each in its own process:
//
//   - Almanac: the real "almanac serve" binary on Redis (and later on the
//     embedded store), so that its resident memory is its own
//     (/proc/PID/status VmRSS and VmHWM);
//   - the floor server: this binary re-run with -child floor, a bare gRPC
//     service with a hand-written grpc.ServiceDesc. It takes the very same
//     request message (almanac.v1.GetOnlineFeaturesRequest), builds the same
//     Redis keys as Almanac (online.AppendStoreKey), reads one pre-encoded
//     blob per (entity, view) with one MGET, and returns the bytes undecoded
//     in an almanac.v1.BytesList: same Redis, same round trips, same
//     loopback, none of the decoding and response building.
//
// Before anything is timed, a sample of entities is looked up on every server
// and checked against the values written (Almanac's values and statuses; the
// floor's blobs, decoded).
//
// The load generator is this process: closed-loop clients (one goroutine per
// client, one shared gRPC connection per server, as an application would
// hold) calling the generated client almanacv1.FeatureServerClient directly
// (not the SDK, so that no SDK conversion is measured), each request for
// random entities from a pre-built pool. Responses are received whole but
// not unmarshaled, from either server (see discardReplies; -decode
// unmarshals them): the load generator shares the cores with the servers,
// and decoding Almanac's typed response would charge the server for the
// client's work. After a warm-up, every latency of a fixed-length window is
// kept and sorted: p50, p99, max and requests/s (and entity rows/s). Almanac
// and the floor take turns at each point, the floor first; the machine's
// cores are shared by Redis, the servers and the load generator, as
// DESIGN.md §7 says, so the CPU each spent per request is reported too.
//
// Almanac runs as configured by default, which includes the served-feature
// log (a share of lookups written to Parquet through DuckDB);
// -log-sample-rate sets the feature service's logging.sample_rate, so that
// its cost can be told apart (0 turns it off).
//
// Points: 1 entity × 5 views × 10 features at 1, 8 and 32 clients; 100
// entities × 5 views × 10 features at 1 and 8 clients; Almanac on the
// embedded store, 1 entity at 1 and 8 clients, next to Almanac on Redis.
//
// With -cpuprofile DIR, a last phase runs Almanac's server in a child process
// of this binary (wired as cmd/almanac/serve.go wires it, plus
// net/http/pprof; "almanac serve" has no profiling endpoint),
// puts the 1-entity and 100-entity loads on it at 8 clients, and writes a
// CPU profile of each to DIR, with the top functions printed by
// "go tool pprof -top", and a profile of what the server allocated
// meanwhile (allocs-*.pprof; go tool pprof -sample_index=alloc_space).
//
// Usage (from the module root; it builds the almanac command into its work
// directory unless -almanac names a binary):
//
//	go run ./bench/serving                         # 10 s per point after a 2 s warm-up
//	go run ./bench/serving -quick                  # a smoke run of about a minute
//	go run ./bench/serving -cpuprofile /tmp/prof   # also profile Almanac under load
//	go run ./bench/serving -log-sample-rate 0      # without the served-feature log
//
// There are no thresholds: the report prints each ratio next to its §7
// target.
package main
