// Package windowtest loads the window aggregation cases of
// window/testdata, one edge case of DESIGN §8 per file, so that every
// evaluator (the window package's oracle and tiles, offline export, online
// lookups) runs the same cases.
//
// A case file is YAML:
//
//	description: a row exactly at t counts
//	interval: 5m                    # optional: the view's aggregation_interval
//	columns: {fare: float64, zone: string}   # the aggregated columns and their types
//	aggregations:                   # as written in a FeatureView
//	  - {function: count, windows: [1h]}
//	  - {column: fare, function: sum, windows: [1h, 1d]}
//	rows:                           # in arrival order
//	  - {key: 1, ts: "2024-05-01T10:00:00Z", fare: 1.5}
//	  - {ts: "2024-05-01T10:00:00Z", created: "2024-05-01T10:00:01Z", zone: a}
//	at:
//	  - {key: 1, t: "2024-05-01T10:00:00Z", want: {count_1h: 2, fare_sum_1h: 1.5, fare_sum_1d: 1.5}}
//	  - {key: 2, t: "2024-05-01T10:00:00Z", want: not_found}
//
// Rows: key is the entity's int64 key (1 when left out), ts the event time
// (RFC 3339, millisecond precision), created the optional created time,
// and every other field a column of columns; a column left out is null.
// Rows tied on ts and created are told apart by their order in the file,
// the later winning. at lists the expected values of the entity key at
// time t: want names every feature with its value (null for null, a list
// for last_n, RFC 3339 text for timestamps), or is not_found for an entity
// without a row at or before t.
package windowtest
