package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	goredis "github.com/redis/go-redis/v9"

	"github.com/almanac-fs/almanac/online"
)

// Store is an online store on Redis or Redis Cluster. It is safe for
// concurrent use.
type Store struct {
	client  goredis.UniversalClient
	cluster bool // client is a *goredis.ClusterClient: keys of one command share a slot
	prefix  string
	batch   int
	now     func() time.Time
	closed  atomic.Bool
	// setFirst tells whether writes try SET NX before the script.
	setFirst setFirst
}

var _ online.Store = (*Store)(nil)

// New returns a Store with options opts. It does not connect: a Redis that
// is down makes calls fail with online.ErrUnavailable until it is back.
func New(opts Options) (*Store, error) {
	opts = opts.withDefaults()
	prefix := opts.prefix()
	if strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("redis online store: key prefix %q contains '{' or '}'", prefix)
	}
	if opts.WriteBatch < 0 {
		return nil, fmt.Errorf("redis online store: write batch %d is negative", opts.WriteBatch)
	}
	cluster := opts.Cluster || len(opts.Addrs) > 1
	if cluster && opts.DB != 0 {
		return nil, fmt.Errorf("redis online store: a Redis Cluster has only database 0, not %d", opts.DB)
	}
	client := goredis.NewUniversalClient(&goredis.UniversalOptions{
		Addrs:                 opts.Addrs,
		IsClusterMode:         cluster,
		Username:              opts.Username,
		Password:              opts.Password,
		DB:                    opts.DB,
		TLSConfig:             opts.TLS,
		PoolSize:              opts.PoolSize,
		DialTimeout:           opts.DialTimeout,
		ReadTimeout:           opts.ReadTimeout,
		WriteTimeout:          opts.WriteTimeout,
		MaxRetries:            opts.MaxRetries,
		MinRetryBackoff:       8 * time.Millisecond,
		MaxRetryBackoff:       512 * time.Millisecond,
		DialerRetries:         1,
		ContextTimeoutEnabled: true,
		DisableIdentity:       true,
	})
	return &Store{
		client:  client,
		cluster: cluster,
		prefix:  prefix,
		batch:   opts.WriteBatch,
		now:     opts.Now,
	}, nil
}

// Read returns the record of each lookup, in one pipelined round trip (per
// node, in a Cluster). A record that cannot be decoded fails the read with an
// error wrapping online.ErrCorrupt and naming its key.
func (s *Store) Read(ctx context.Context, lookups []online.Lookup) ([]online.Record, error) {
	k := readKeysPool.Get().(*readKeys)
	defer k.put()
	encoded, err := s.mget(ctx, lookups, k)
	if err != nil {
		return nil, err
	}
	return online.DecodeAll(lookups, encoded, func(i int) string { return fmt.Sprintf("redis key %q", k.keys[i]) })
}

// ReadEncoded implements online.EncodedReader: Read without decoding.
func (s *Store) ReadEncoded(ctx context.Context, lookups []online.Lookup) ([]string, error) {
	k := readKeysPool.Get().(*readKeys)
	defer k.put()
	return s.mget(ctx, lookups, k)
}

// readKeys holds the keys of a read, kept in readKeysPool from one read to
// the next.
type readKeys struct {
	buf  []byte   // every key, one after another
	ends []int    // where each key ends in buf
	keys []string // each key, sharing buf's bytes
}

var readKeysPool = sync.Pool{New: func() any { return new(readKeys) }}

// put gives k back to readKeysPool; its keys must not be used afterwards.
func (k *readKeys) put() { readKeysPool.Put(k) }

// mget reads the encoded record of each lookup ("" for none), in one
// pipelined round trip (per node, in a Cluster). It makes the lookups' keys
// in k.
func (s *Store) mget(ctx context.Context, lookups []online.Lookup, k *readKeys) ([]string, error) {
	if s.closed.Load() {
		return nil, online.ErrClosed
	}
	if len(lookups) == 0 {
		return []string{}, nil
	}
	// The keys are made in one buffer, then sliced from it once it no
	// longer moves.
	buf := k.buf[:0]
	ends := slices.Grow(k.ends[:0], len(lookups))
	for i, l := range lookups {
		var err error
		if buf, err = online.AppendStoreKey(buf, s.prefix, l.View.Name, l.Key); err != nil {
			return nil, fmt.Errorf("read view %q, lookup %d: %w", l.View.Name, i, err)
		}
		ends = append(ends, len(buf))
	}
	all := unsafe.String(unsafe.SliceData(buf), len(buf))
	keys := slices.Grow(k.keys[:0], len(lookups))
	start := 0
	for _, end := range ends {
		keys, start = append(keys, all[start:end]), end
	}
	k.buf, k.ends, k.keys = buf, ends, keys
	return s.mgetKeys(ctx, keys)
}

// mgetKeys reads the value of each of keys ("" for none), in one pipelined
// round trip (per node, in a Cluster).
func (s *Store) mgetKeys(ctx context.Context, keys []string) ([]string, error) {
	pipe := s.client.Pipeline()
	var groups [][]int // by command, the index of each key; nil: one command, in order
	var cmds []*goredis.SliceCmd
	if !s.cluster {
		cmds = []*goredis.SliceCmd{pipe.MGet(ctx, keys...)}
	} else {
		groups = s.group(keys)
		cmds = make([]*goredis.SliceCmd, len(groups))
		groupKeys := make([]string, 0, len(keys))
		for g, idx := range groups {
			from := len(groupKeys)
			for _, i := range idx {
				groupKeys = append(groupKeys, keys[i])
			}
			cmds[g] = pipe.MGet(ctx, groupKeys[from:]...)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, s.fail(fmt.Sprintf("read %d keys from redis", len(keys)), err)
	}
	encoded := make([]string, len(keys))
	for g, cmd := range cmds {
		for j, val := range cmd.Val() {
			i := j
			if groups != nil {
				i = groups[g][j]
			}
			if b, ok := val.(string); ok { // nil: missing
				encoded[i] = b
			}
		}
	}
	return encoded, nil
}

// group splits keys, by index, into the groups that one command may hold:
// all of them on a single node, one group per slot in a Cluster.
func (s *Store) group(keys []string) [][]int {
	if !s.cluster {
		idx := make([]int, len(keys))
		for i := range idx {
			idx[i] = i
		}
		return [][]int{idx}
	}
	bySlot := make(map[uint16]int)
	var groups [][]int
	for i, k := range keys {
		slot := keySlot(k)
		g, ok := bySlot[slot]
		if !ok {
			g = len(groups)
			bySlot[slot] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// Write stores rows of view, newer wins, in pipelined batches of
// Options.WriteBatch rows. Every row is encoded, and so checked, before any
// is sent.
func (s *Store) Write(ctx context.Context, view online.View, rows []online.Row) error {
	if s.closed.Load() {
		return online.ErrClosed
	}
	return online.WriteRows(ctx, s, view, rows)
}

// WriteEncoded implements online.EncodedWriter: Write for encoded rows.
func (s *Store) WriteEncoded(ctx context.Context, view online.View, rows []online.EncodedRow) error {
	if s.closed.Load() {
		return online.ErrClosed
	}
	c := online.CodecOf(&view)
	now := s.now()
	// The keys of the rows to write in one buffer, and their records and
	// expiry times (ms since the epoch, 0: never) as the commands' args.
	w := scratchPool.Get().(*writeScratch)
	defer w.release()
	w.keyEnds, w.args = w.keyEnds[:0], w.args[:0]
	keyBuf := w.keyBuf[:0]
	for i, row := range rows {
		eventTime, err := c.EventTime(row.Record)
		if err != nil {
			return fmt.Errorf("write view %q, row %d: %w", view.Name, i, err)
		}
		expireAt, expired := view.Expiry(eventTime, now)
		if expired {
			continue // past its stale retention: NOT_FOUND for any reader
		}
		if keyBuf, err = online.AppendStoreKey(keyBuf, s.prefix, view.Name, row.Key); err != nil {
			return fmt.Errorf("write view %q, row %d: %w", view.Name, i, err)
		}
		w.keyEnds = append(w.keyEnds, len(keyBuf))
		w.args = append(w.args, row.Record, expireAt)
		if i == 0 {
			keyBuf = slices.Grow(keyBuf, len(keyBuf)*len(rows)) // room for the other rows, if like the first
		}
	}
	w.keyBuf = keyBuf
	allKeys := string(keyBuf)
	w.keys = slices.Grow(w.keys[:0], len(w.keyEnds))[:len(w.keyEnds)]
	keys, args := w.keys, w.args
	keyStart := 0
	for i, end := range w.keyEnds {
		keys[i], keyStart = allKeys[keyStart:end], end
	}
	for start := 0; start < len(keys); start += s.batch {
		end := min(start+s.batch, len(keys))
		idx := slices.Grow(w.idx[:0], end-start)[:end-start]
		w.idx = idx
		for j := range idx {
			idx[j] = start + j
		}
		if s.setFirst.try() {
			var err error
			if idx, err = s.setNew(ctx, w, keys, args, idx); err != nil {
				return fmt.Errorf("write %d rows of view %q to redis: %w", end-start, view.Name, err)
			}
			s.setFirst.record(end-start, len(idx))
		}
		if len(idx) == 0 {
			continue
		}
		batchKeys := make([]string, len(idx))
		batchArgs := make([]any, 0, 2*len(idx))
		for j, i := range idx {
			batchKeys[j] = keys[i]
			batchArgs = append(batchArgs, args[2*i], args[2*i+1])
		}
		calls, _ := s.calls(batchKeys, batchArgs)
		if _, err := s.runScript(ctx, newerWins, calls); err != nil {
			return fmt.Errorf("write %d rows of view %q to redis: %w", end-start, view.Name, err)
		}
	}
	return nil
}

// setNew stores, in one pipeline of SET NX, the rows idx (indexes of keys,
// with their record and expiry at args[2i] and args[2i+1]) whose key holds
// nothing: any row is newer than none. It returns the rows whose key already
// held a record, which the newer-wins script must compare. The commands'
// memory comes from w.
func (s *Store) setNew(ctx context.Context, w *writeScratch, keys []string, args []any, idx []int) ([]int, error) {
	pipe := s.client.Pipeline()
	w.setCmds = slices.Grow(w.setCmds[:0], len(idx))[:len(idx)]
	// The arguments of every command, SET key value NX [PXAT expireAt],
	// in one slab; the value and expiry are passed boxed as they are.
	w.setArgs = slices.Grow(w.setArgs[:0], 6*len(idx))[:6*len(idx)]
	for j, i := range idx {
		cmd := w.setArgs[6*j : 6*j+4 : 6*j+6]
		cmd[0], cmd[1], cmd[2], cmd[3] = "set", keys[i], args[2*i], "nx"
		if args[2*i+1].(int64) > 0 {
			cmd = append(cmd, "pxat", args[2*i+1])
		}
		w.setCmds[j] = goredis.NewBoolCmd(ctx, cmd...)
		_ = pipe.Process(ctx, w.setCmds[j])
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, s.fail("set new keys", err)
	}
	held := idx[:0]
	for j, i := range idx {
		if !w.setCmds[j].Val() {
			held = append(held, i)
		}
	}
	return held, nil
}

// writeScratch is the memory of one WriteEncoded call, kept in scratchPool
// for the next, so that a stream of writes (a materialization) allocates
// little beyond what go-redis needs per command.
type writeScratch struct {
	keyBuf  []byte
	keyEnds []int
	keys    []string
	args    []any
	idx     []int
	setArgs []any
	setCmds []*goredis.BoolCmd
}

var scratchPool = sync.Pool{New: func() any { return new(writeScratch) }}

// release puts w back in scratchPool, dropping its references to the
// written records and commands.
func (w *writeScratch) release() {
	clear(w.keys[:cap(w.keys)])
	clear(w.args[:cap(w.args)])
	clear(w.setArgs[:cap(w.setArgs)])
	clear(w.setCmds[:cap(w.setCmds)])
	scratchPool.Put(w)
}

// setFirst decides whether a write batch tries SET NX before the newer-wins
// script. SET NX stores a row whose key holds nothing, the whole of a first
// materialization, at the cost of a plain SET, where the script costs Redis
// about twice as much; but where keys already hold records every SET NX is
// a wasted command. So batches try it while at least half of the rows of
// the last trying batch were new, and otherwise one batch in probeEvery
// tries again, to notice when new keys come back.
type setFirst struct {
	skip    atomic.Bool  // the last trying batch found mostly held keys
	batches atomic.Int64 // batches since skipping began
}

const probeEvery = 16

func (f *setFirst) try() bool {
	return !f.skip.Load() || f.batches.Add(1)%probeEvery == 0
}

// record notes that of rows rows tried, held were already held.
func (f *setFirst) record(rows, held int) {
	f.skip.Store(2*held > rows)
}

// keysPerCall is the most keys one call of a script sets, so that one
// call does not hold Redis for long.
const keysPerCall = 100

// scriptCall is one call of a script.
type scriptCall struct {
	keys []string
	args []any
}

// runScript runs calls of script in one pipeline, by EVALSHA, and again by
// EVAL those that a node did not have the script for. It returns the
// command of each call, answered.
func (s *Store) runScript(ctx context.Context, script *namedScript, calls []scriptCall) ([]*goredis.Cmd, error) {
	pipe := s.client.Pipeline()
	cmds := make([]*goredis.Cmd, len(calls))
	for i, call := range calls {
		cmds[i] = script.EvalSha(ctx, pipe, call.keys, call.args...)
	}
	_, err := pipe.Exec(ctx)
	if err == nil {
		return cmds, nil
	}
	var retry []int
	for i, cmd := range cmds {
		switch err := cmd.Err(); {
		case err == nil:
		case goredis.HasErrorPrefix(err, "NOSCRIPT"):
			retry = append(retry, i)
		default:
			return nil, s.fail("run "+script.name+" script", err)
		}
	}
	pipe = s.client.Pipeline()
	for _, i := range retry {
		cmds[i] = script.Eval(ctx, pipe, calls[i].keys, calls[i].args...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, s.fail("load and run "+script.name+" script", err)
	}
	return cmds, nil
}

// calls splits keys, with the two args of key i at args[2i] and
// args[2i+1], into the calls of a script: the keys of one call share a slot
// in a Cluster, and are at most keysPerCall. It returns, for each call, the
// index of each of its keys.
func (s *Store) calls(keys []string, args []any) ([]scriptCall, [][]int) {
	var calls []scriptCall
	var idx [][]int
	for _, group := range s.group(keys) {
		for len(group) > 0 {
			n := min(len(group), keysPerCall)
			call := scriptCall{keys: make([]string, n), args: make([]any, 2*n)}
			for j, i := range group[:n] {
				call.keys[j] = keys[i]
				call.args[2*j], call.args[2*j+1] = args[2*i], args[2*i+1]
			}
			calls, idx = append(calls, call), append(idx, group[:n])
			group = group[n:]
		}
	}
	return calls, idx
}

// Ping reports whether Redis answers (every node, for a Cluster).
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return online.ErrClosed
	}
	var err error
	if c, ok := s.client.(*goredis.ClusterClient); ok {
		err = c.ForEachShard(ctx, func(ctx context.Context, n *goredis.Client) error { return n.Ping(ctx).Err() })
	} else {
		err = s.client.Ping(ctx).Err()
	}
	if err != nil {
		return s.fail("ping redis", err)
	}
	return nil
}

// Close closes the connections to Redis. Calls after it return
// online.ErrClosed.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return online.ErrClosed
	}
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("close redis client: %w", err)
	}
	return nil
}

// fail wraps err from doing what, marking it online.ErrClosed when the store
// was closed meanwhile and online.ErrUnavailable when Redis cannot serve.
func (s *Store) fail(what string, err error) error {
	switch {
	case errors.Is(err, goredis.ErrClosed):
		return fmt.Errorf("%s: %w: %w", what, online.ErrClosed, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", what, err)
	case unavailable(err):
		return fmt.Errorf("%s: %w: %w", what, online.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// unavailable reports whether err means that Redis cannot serve now: an
// error of the connection (refused, reset, timed out, pool exhausted) or a
// reply saying so.
func unavailable(err error) bool {
	var reply goredis.Error
	if !errors.As(err, &reply) {
		return true
	}
	for _, prefix := range []string{"LOADING", "BUSY", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN"} {
		if goredis.HasErrorPrefix(err, prefix) {
			return true
		}
	}
	return false
}
