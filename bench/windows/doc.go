// Command windows measures lookups and online storage of window
// aggregations (DESIGN.md §8) against plain views, in one run on one
// machine (DESIGN.md §12).
//
// It generates a feature repository with one entity (user_id), one push
// source (user_events: user_id, event_ts, fare and ten float64 columns) and
// two views over it: user_plain, ten plain float64 features, and
// user_windows, ten window features (count of rows, sum and mean of fare
// over 1h, 1d and 7d, and the count of fare's values over 7d) with the
// default hops (5m for 1h, 1h for 1d and 7d). Each has a feature service.
// A third view, user_windows_7d (count, sum and mean of fare over 7d, hop
// 1h), is only written, for its bytes.
//
// The events are generated with DuckDB (range and hash, so every run gets
// the same ones): for each of -entities users, 100 events a day over the 7
// days before the run's start, one in each 14.4-minute slot at a
// hash-chosen moment, fare null in 5% of them. Each user's tiles are built
// as materialize builds them (window.Set.Add in event order, Trim at the
// run's start, window.Codec) and written into a redis-server it starts
// through online/redis's Update; each user's plain record through Write.
//
// Then it measures:
//
//   - online bytes per entity: the tile records of user_windows_7d and
//     user_windows in Redis (STRLEN, and MEMORY USAGE of user_windows's
//     key, the mean over a sample of users) beside the same users' raw events, as Parquet files the way
//     the offline store writes them (zstd, one file per day, sorted by key
//     and time) and as plain uncompressed rows (8 bytes each for user_id,
//     event_ts and fare);
//   - lookups of 1 entity × 10 features from one "almanac serve" process
//     on that Redis: the windowed service and the plain service take
//     turns, each with one closed-loop client for -duration after
//     -warmup, in -rounds rounds; the report gives the medians of the
//     server's CPU time per request (from /proc/PID/stat) and of p50 and
//     p99, and the windowed/plain ratios.
//
// Before anything is timed, a sample of users is looked up on both
// services and checked: the plain values against what was written, the
// window values against window.Evaluate (DESIGN §8 over the raw events,
// without tiles) at the server's now, bracketed by the times before and
// after the request.
//
// With -export it measures instead the export of the same ten window
// features (offline.Store.Export) for -entity-rows entity rows over -events
// events (about 1,000 per driver at random times over 10 days, 100 a day;
// fare null in 5%; in an offline store written by offline.Store.Write),
// entity rows at random times over those days and the next, beside a
// hand-written
// DuckDB query over the same Parquet files: a range join of each entity
// row with its driver's events in its largest window, aggregated per entity
// row with a FILTER per feature (the query is written to DIR/baseline.sql).
// Both training sets are checked equal, row by row in entity order (float64
// within 1e-9 relative), before -runs timed runs of each, alternating.
//
// Usage (from the module root; it builds the almanac command into its work
// directory unless -almanac names a binary):
//
//	go run ./bench/windows                # 10 s per point after 2 s of warm-up, 3 rounds
//	go run ./bench/windows -quick         # a smoke run of about half a minute
//	go run ./bench/windows -export        # the export: 1M entity rows over 10M events
//	go run ./bench/windows -export -events 1000000 -entity-rows 100000   # a tenth of it
package main
