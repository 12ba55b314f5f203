package redis

import (
	"crypto/tls"
	"time"
)

// Options configures a Store. The zero value of every field means its
// default, as DefaultOptions returns.
type Options struct {
	// Addrs are the address ("host:port") of a single Redis server, or
	// seed nodes of a Redis Cluster. Default: 127.0.0.1:6379.
	Addrs []string
	// Cluster makes a single address the seed node of a Redis Cluster.
	// Several addresses always mean a Cluster.
	Cluster bool
	// Username and Password authenticate with Redis (AUTH); Username is for
	// Redis ACLs and may be empty with a Password.
	Username string
	Password string
	// DB selects the database of a single server. A Cluster has only 0.
	DB int
	// TLS, when set, makes connections use TLS with this configuration.
	TLS *tls.Config
	// PoolSize is the number of connections per node. Default: 10 per CPU.
	PoolSize int
	// DialTimeout bounds establishing a connection. Default: 5s.
	DialTimeout time.Duration
	// ReadTimeout and WriteTimeout bound each socket read and write; a
	// context deadline, when earlier, bounds them too. Defaults: 3s and
	// ReadTimeout. A call to a Redis that hangs (a frozen process) fails
	// only after every attempt has timed out, about (MaxRetries+1) times
	// ReadTimeout, unless its context ends first: callers that must answer
	// sooner give calls a deadline (the server does, serving.online_timeout).
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// Project names the feature repository's project; keys start with
	// "almanac:<project>:" so that several projects can share one Redis.
	Project string
	// KeyPrefix, when set, replaces the "almanac:<project>:" prefix of
	// every key. It may not contain '{' or '}', which would change the
	// keys' hash tags.
	KeyPrefix string
	// MaxRetries is how many times a command that failed on its connection
	// is sent again, after a backoff of 8ms doubling up to 512ms; -1: never.
	// Connecting is tried once per attempt, so that a Redis that is down
	// fails calls within a few hundred milliseconds. Default: 3 on a single
	// server; a Cluster client follows go-redis's own rules for retries
	// and redirects when it is 0.
	MaxRetries int
	// WriteBatch is how many rows Write sends per pipelined round trip.
	// Default: 1000.
	WriteBatch int
	// Now returns the current time, to leave out rows already past their
	// view's stale retention when written. Default: time.Now.
	Now func() time.Time
}

// DefaultOptions returns the options of a Store for a Redis server on
// 127.0.0.1:6379, with every default spelled out.
func DefaultOptions() Options {
	return Options{
		Addrs:        []string{"127.0.0.1:6379"},
		DialTimeout:  5 * time.Second,
		ReadTimeout:  3 * time.Second,
		WriteTimeout: 3 * time.Second,
		WriteBatch:   1000,
		Now:          time.Now,
	}
}

// withDefaults returns o with its zero fields set to their defaults.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if len(o.Addrs) == 0 {
		o.Addrs = d.Addrs
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = d.DialTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = d.ReadTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = o.ReadTimeout
	}
	if o.WriteBatch == 0 {
		o.WriteBatch = d.WriteBatch
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	return o
}

// prefix returns the prefix of every key.
func (o Options) prefix() string {
	switch {
	case o.KeyPrefix != "":
		return o.KeyPrefix
	case o.Project != "":
		return "almanac:" + o.Project + ":"
	}
	return "almanac:"
}
