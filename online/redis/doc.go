// Package redis is the online store backend on Redis, a single node or a
// Redis Cluster, through one code path over go-redis's UniversalClient.
//
// # Key layout
//
// Each (entity, view) has one string key holding the entity's latest record
// in that view, encoded by online.Codec (13-byte header, null bitmap,
// untagged values: 95 bytes for ten float64 features):
//
//	<prefix>{<entity key>}:<view>        almanac:rides:{i4:1001}:driver_stats
//
// The prefix is Options.KeyPrefix, by default "almanac:<project>:". The
// entity key is online.AppendEntityKey's canonical encoding of the join key
// values. The braces make it the key's hash tag, so in a Cluster every view
// of one entity sits in one slot: all the views of an entity are one MGET on
// one node.
//
// A lookup is one pipelined round trip: one MGET of every key on a single
// node; in a Cluster one MGET per slot, which go-redis sends to each node in
// one pipeline, the nodes in parallel.
//
// A write stores the rows whose keys hold nothing with SET NX (PXAT), one
// pipeline per batch of Options.WriteBatch rows: any row is newer than none,
// and a first materialization costs Redis what plain SETs cost. The rows
// whose keys already hold a record go through a Lua script (EVALSHA, falling
// back to EVAL when a node does not have it yet) per group of up to 100
// rows, the calls pipelined; in a Cluster the rows of one call share a slot.
// The script reads the stored records with one MGET, compares each header
// with the new record's, and stores only the newer rows, with one MSET
// (online.Replaces states the rule), so newer wins atomically whatever the
// concurrency of writers. Where most keys already hold records, SET NX is
// skipped but for one batch in 16, which checks whether new keys came back.
// When the view has a TTL, each stored key expires at event time + TTL +
// stale retention (PXAT, PEXPIREAT, see online.View.Expiry), so stale
// records read OUTSIDE_MAX_AGE until then and Redis removes them by itself;
// rows already past that when written are not written.
//
// Update (online.Updater, for the tiles of aggregated views) is an
// optimistic compare-and-set on the same keys: one pipelined MGET of every
// key (per slot, in a Cluster), the caller's function on each record, then
// a Lua script per group of up to 100 keys of one slot, the calls
// pipelined, that sets each key still holding what was read (compared
// whole) and returns the others. Only those are read and tried again,
// after a short random wait, up to 32 attempts in all (then
// online.ErrContended). MSET drops any expiry a key had: updated records do
// not expire, as an aggregated view has no TTL.
package redis
