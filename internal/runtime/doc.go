// Package runtime opens what a feature repository needs to serve: its
// settings' stores, DuckDB, the Pusher, the served-feature log and the
// feature server over them.
//
// "almanac serve", the serving benchmark's profiled server and package
// servertest all start from Open, so the server they run is put together
// one way. Listening, and what else each of them serves, is theirs.
package runtime
