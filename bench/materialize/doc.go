// Command materialize measures Almanac's materialization into Redis against
// plain pipelined writes of the same records straight to Redis, in one run
// on one machine (DESIGN.md §7: target ≥ 60% of the baseline's rows/s).
//
// It generates a feature repository with DuckDB: one Parquet source of
// -rows history rows (default 1M) over -entities users (default 250k), an
// event time each within the last 7 days, and one feature view of ten
// features (four float64, one in twenty of them null, four int64, two
// strings) with a 30-day TTL, so every entity's latest row is written with a
// Redis expiry. It starts redis-server on a free loopback port and then,
// each time on an emptied Redis (FLUSHALL), runs:
//
//   - baseline: the records Almanac wrote (read back from Redis after the
//     warm-up run: the same keys, the same encoded bytes, the same expiry
//     times) written again with "SET key record PXAT expiry", pipelined, 1000
//     commands per round trip, 4 writers at once (as Almanac's
//     materialization writes 1000-row batches with 4 writers), in entity
//     order, as a pipeline reading its source by key would write them;
//   - reference: the same commands in the order SCAN read the keys back,
//     the order of Redis's own hash table, which makes each insert cheaper
//     for Redis (about 2.3 against 3.0 µs) and which no writer has: Redis
//     seeds its hash function at random when it starts;
//   - Store.Write: the same latest rows, decoded into online.Row values
//     beforehand, written by online/redis.Store.Write in the same batches and
//     writers: Almanac's encoding and newer-wins Lua script, without DuckDB;
//   - Almanac: pipelines.Materializer.Run over the event-time range, as
//     "almanac materialize START END" runs it, in a child process of this
//     binary (so that its heap and CPU time are its own, as the command's
//     are): compute the view's rows from the Parquet source, write the
//     offline history, then select the latest row per entity and write it to
//     Redis. The online phase (from the start of the latest-row query to the
//     last write, as the Materializer's progress reports them) is timed
//     apart from the whole run, and the same run with the online store left
//     out (--offline-only) is timed too.
//
// What is counted: rows/s of every line is entity rows written to Redis (one
// record per entity, the latest), so all lines count the same rows. The
// whole-run line also gives the history rows it processed. The ratio against
// the §7 target is the online phase's rows/s over the baseline's.
//
// Before anything is timed, the warm-up run's records of a sample of
// entities are decoded and compared with the latest row of each entity
// computed by DuckDB from the source, and every run is checked to leave one
// key per entity. Each line is run -runs times, in turns; the median is
// reported, with the CPU time per row of this process and of Redis. There
// are no thresholds.
//
// With -explain, the steps of the online phase (counting the entities, the
// latest-row query, reading its rows, converting their values) are also
// timed one by one, apart, to show where the phase's time goes; with
// -cpuprofile FILE, one more materialization's online phase is CPU-profiled.
//
// Usage (from the module root):
//
//	go run ./bench/materialize                            # 1M history rows, 250k entities, 3 runs
//	go run ./bench/materialize -quick                     # 200k rows over 50k entities, 1 run
//	go run ./bench/materialize -explain -cpuprofile /tmp/m.pprof   # where the online phase's time goes
package main
