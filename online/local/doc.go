// Package local is the embedded online store backend: one bbolt database
// file that needs no server, the default for development and small
// deployments.
//
// It keeps the key scheme and record encoding of every backend
// (online.AppendStoreKey without a prefix, online.Codec), each record behind
// its 8-byte expiry time, in bucket "records"; bucket "expiry" indexes the
// records of views with a TTL by expiry time (event time + TTL + stale
// retention, see online.View.Expiry), so that Sweep, run in the background
// every Options.SweepInterval, removes expired records without scanning the
// others. Until then, records older than the TTL read OUTSIDE_MAX_AGE.
//
// Update (online.Updater, for the tiles of aggregated views) reads, calls
// its function and stores each key in one write transaction, which bbolt
// runs one at a time; the records it stores never expire, and it removes
// the expiry index entry of a record it replaces, so Sweep leaves them.
package local
