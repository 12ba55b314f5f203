package local

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
)

// Options configures a Store.
type Options struct {
	// Path is the database file, created with its directory when missing.
	Path string
	// LockTimeout is how long New waits for another process that has the
	// file open to close it. Default: 1s.
	LockTimeout time.Duration
	// SweepInterval is how often expired records (past their view's stale
	// retention) are removed in the background; negative: never (call Sweep). Default: 1m.
	SweepInterval time.Duration
	// Now returns the current time, for expiry. Default: time.Now.
	Now func() time.Time
	// Logger receives the errors of background sweeps. Default:
	// slog.Default().
	Logger *slog.Logger
}

// DefaultOptions returns the options of a Store in the file path, with every
// default spelled out.
func DefaultOptions(path string) Options {
	return Options{
		Path:          path,
		LockTimeout:   time.Second,
		SweepInterval: time.Minute,
		Now:           time.Now,
		Logger:        slog.Default(),
	}
}

// Buckets of the database.
var (
	// recordsBucket maps a store key (online.AppendStoreKey, no prefix) to
	// the record's expiry time (see appendExpiry) and its encoded record.
	recordsBucket = []byte("records")
	// expiryBucket indexes the records that expire, by expiry time: its keys
	// are the expiry time followed by the record's store key.
	expiryBucket = []byte("expiry")
)

const (
	// expirySize is the size of an encoded expiry time.
	expirySize = 8
	// never is the expiry time of records that do not expire.
	never = math.MaxInt64
	// sweepBatch is how many expired records one sweep transaction removes.
	sweepBatch = 10_000
)

// neverKey is the encoded expiry time of records that do not expire.
var neverKey = appendExpiry(nil, never)

// appendExpiry appends expiry time ms (since the Unix epoch) to dst, as 8
// big-endian bytes with the sign bit flipped, so that the bytes sort as the
// times do.
func appendExpiry(dst []byte, ms int64) []byte {
	return binary.BigEndian.AppendUint64(dst, expiryBits(ms))
}

func expiryBits(ms int64) uint64 { return uint64(ms) ^ 1<<63 }

// Store is an online store in a bbolt database file. It is safe for
// concurrent use; one process at a time may have the file open.
type Store struct {
	db     *bolt.DB
	now    func() time.Time
	closed atomic.Bool

	stopSweeper context.CancelFunc // nil without a background sweeper
	sweeperDone sync.WaitGroup
}

var (
	_ online.Store   = (*Store)(nil)
	_ online.Updater = (*Store)(nil)
)

// New opens the store in opts.Path, creating it when missing, and starts the
// background sweeper. It fails after opts.LockTimeout when another process
// has the file open.
func New(opts Options) (*Store, error) {
	d := DefaultOptions(opts.Path)
	if opts.Path == "" {
		return nil, errors.New("local online store: no file path")
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = d.LockTimeout
	}
	if opts.SweepInterval == 0 {
		opts.SweepInterval = d.SweepInterval
	}
	if opts.Now == nil {
		opts.Now = d.Now
	}
	if opts.Logger == nil {
		opts.Logger = d.Logger
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o755); err != nil {
		return nil, fmt.Errorf("open online store %s: %w", opts.Path, err)
	}
	db, err := bolt.Open(opts.Path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open online store %s: another process has it open (waited %v): %w", opts.Path, opts.LockTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open online store %s: %w", opts.Path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{recordsBucket, expiryBucket} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open online store %s: %w", opts.Path, err), db.Close())
	}
	s := &Store{db: db, now: opts.Now}
	if opts.SweepInterval > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		s.stopSweeper = cancel
		s.sweeperDone.Go(func() { s.sweepEvery(ctx, opts.SweepInterval, opts.Logger) })
	}
	return s, nil
}

// sweepEvery sweeps every interval until ctx is done.
func (s *Store) sweepEvery(ctx context.Context, interval time.Duration, log *slog.Logger) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		n, err := s.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("sweep expired online records", "path", s.db.Path(), "removed", n, "err", err)
		case n > 0:
			log.Debug("swept expired online records", "path", s.db.Path(), "removed", n)
		}
	}
}

// Read returns the record of each lookup, from one read transaction. A
// record that cannot be decoded fails the read with an error wrapping
// online.ErrCorrupt and naming its key.
func (s *Store) Read(ctx context.Context, lookups []online.Lookup) ([]online.Record, error) {
	keys, encoded, err := s.get(ctx, lookups)
	if err != nil {
		return nil, err
	}
	return online.DecodeAll(lookups, encoded, func(i int) string { return fmt.Sprintf("key %q", keys[i]) })
}

// ReadEncoded implements online.EncodedReader: Read without decoding.
func (s *Store) ReadEncoded(ctx context.Context, lookups []online.Lookup) ([]string, error) {
	_, encoded, err := s.get(ctx, lookups)
	return encoded, err
}

// get reads the encoded record of each lookup ("" for none) and returns it
// with its key, from one read transaction.
func (s *Store) get(ctx context.Context, lookups []online.Lookup) (keys [][]byte, encoded []string, err error) {
	if s.closed.Load() {
		return nil, nil, online.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("read online store: %w", err)
	}
	keys = make([][]byte, len(lookups))
	encoded = make([]string, len(lookups))
	var buf []byte
	err = s.db.View(func(tx *bolt.Tx) error {
		records := tx.Bucket(recordsBucket)
		for i, l := range lookups {
			start := len(buf)
			var err error
			if buf, err = online.AppendStoreKey(buf, "", l.View.Name, l.Key); err != nil {
				return fmt.Errorf("read view %q, lookup %d: %w", l.View.Name, i, err)
			}
			keys[i] = buf[start:len(buf):len(buf)]
			v := records.Get(keys[i])
			if v == nil {
				continue
			}
			if len(v) < expirySize {
				return fmt.Errorf("read key %q: %w: %d bytes, shorter than the expiry time", keys[i], online.ErrCorrupt, len(v))
			}
			encoded[i] = string(v[expirySize:]) // a copy: it outlives the transaction
		}
		return nil
	})
	if err != nil {
		return nil, nil, s.fail(err)
	}
	return keys, encoded, nil
}

// Write stores rows of view, newer wins, in one write transaction: all of
// them or, on error, none.
func (s *Store) Write(ctx context.Context, view online.View, rows []online.Row) error {
	if s.closed.Load() {
		return online.ErrClosed
	}
	return online.WriteRows(ctx, s, view, rows)
}

// WriteEncoded implements online.EncodedWriter: Write for encoded rows, in
// one write transaction.
func (s *Store) WriteEncoded(ctx context.Context, view online.View, rows []online.EncodedRow) error {
	if s.closed.Load() {
		return online.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write view %q: %w", view.Name, err)
	}
	c := online.CodecOf(&view)
	now := s.now()
	// Prepare every row before the transaction: keys in keyBuf; expiry
	// times and records, as stored, in valBuf; expiry index keys in
	// indexBuf.
	var keyBuf, valBuf, indexBuf []byte
	type pending struct {
		keyEnd, valStart, valEnd, indexEnd int
	}
	todo := make([]pending, 0, len(rows))
	for i, row := range rows {
		eventTime, err := c.EventTime(row.Record)
		if err != nil {
			return fmt.Errorf("write view %q, row %d: %w", view.Name, i, err)
		}
		expireAt, expired := view.Expiry(eventTime, now)
		if expired {
			continue // past its stale retention: NOT_FOUND for any reader
		}
		keyStart, valStart := len(keyBuf), len(valBuf)
		if keyBuf, err = online.AppendStoreKey(keyBuf, "", view.Name, row.Key); err != nil {
			return fmt.Errorf("write view %q, row %d: %w", view.Name, i, err)
		}
		if expireAt == 0 {
			valBuf = appendExpiry(valBuf, never)
		} else {
			valBuf = appendExpiry(valBuf, expireAt)
			indexBuf = appendExpiry(indexBuf, expireAt)
			indexBuf = append(indexBuf, keyBuf[keyStart:]...)
		}
		valBuf = append(valBuf, row.Record...)
		todo = append(todo, pending{keyEnd: len(keyBuf), valStart: valStart, valEnd: len(valBuf), indexEnd: len(indexBuf)})
	}
	if len(todo) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		records, expiry := tx.Bucket(recordsBucket), tx.Bucket(expiryBucket)
		var keyStart, indexStart int
		var oldIndex []byte
		for i, p := range todo {
			if i%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			key, val, index := keyBuf[keyStart:p.keyEnd], valBuf[p.valStart:p.valEnd], indexBuf[indexStart:p.indexEnd]
			keyStart, indexStart = p.keyEnd, p.indexEnd
			old := records.Get(key)
			if len(old) >= expirySize {
				if !online.Replaces(val[expirySize:], old[expirySize:]) {
					continue
				}
				var err error
				if oldIndex, err = unindex(expiry, key, old, oldIndex); err != nil {
					return err
				}
			}
			if err := records.Put(key, val); err != nil {
				return fmt.Errorf("put key %q: %w", key, err)
			}
			if len(index) > 0 {
				if err := expiry.Put(index, nil); err != nil {
					return fmt.Errorf("put expiry of key %q: %w", key, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write %d rows of view %q: %w", len(todo), view.Name, s.fail(err))
	}
	return nil
}

// unindex removes from the expiry index the entry of key, whose stored
// value is old, when old expires; scratch is memory it may reuse, and it
// returns it.
func unindex(expiry *bolt.Bucket, key, old, scratch []byte) ([]byte, error) {
	if bytes.Equal(old[:expirySize], neverKey) {
		return scratch, nil
	}
	scratch = append(append(scratch[:0], old[:expirySize]...), key...)
	if err := expiry.Delete(scratch); err != nil {
		return scratch, fmt.Errorf("delete expiry of key %q: %w", key, err)
	}
	return scratch, nil
}

// Update implements online.Updater, in one write transaction: all of keys
// or, on error, none. The records it stores never expire, whatever the
// view's TTL, and the sweeper leaves them.
func (s *Store) Update(ctx context.Context, view online.View, keys [][]*almanacv1.Value, fn func(i int, old string) (string, error)) error {
	if s.closed.Load() {
		return online.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("update view %q: %w", view.Name, err)
	}
	// Every key before the transaction, so that a bad one writes nothing.
	var keyBuf []byte
	ends := make([]int, len(keys))
	for i, k := range keys {
		var err error
		if keyBuf, err = online.AppendStoreKey(keyBuf, "", view.Name, k); err != nil {
			return fmt.Errorf("update view %q, key %d: %w", view.Name, i, err)
		}
		ends[i] = len(keyBuf)
	}
	if len(keys) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		records, expiry := tx.Bucket(recordsBucket), tx.Bucket(expiryBucket)
		// Each stored value is made anew: bbolt keeps it until the
		// transaction ends.
		var oldIndex []byte
		start := 0
		for i, end := range ends {
			if i%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			key := keyBuf[start:end:end]
			start = end
			var old string
			stored := records.Get(key)
			if stored != nil {
				if len(stored) < expirySize {
					return fmt.Errorf("read key %q: %w: %d bytes, shorter than the expiry time", key, online.ErrCorrupt, len(stored))
				}
				old = string(stored[expirySize:])
			}
			rec, err := fn(i, old)
			if err != nil {
				return fmt.Errorf("key %d: %w", i, err)
			}
			if rec == "" {
				continue
			}
			if stored != nil {
				if oldIndex, err = unindex(expiry, key, stored, oldIndex); err != nil {
					return err
				}
			}
			val := append(append(make([]byte, 0, expirySize+len(rec)), neverKey...), rec...)
			if err := records.Put(key, val); err != nil {
				return fmt.Errorf("put key %q: %w", key, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update %d keys of view %q: %w", len(keys), view.Name, s.fail(err))
	}
	return nil
}

// Sweep removes the records expired by the store's clock, and returns how
// many it removed. It removes them in transactions of up to 10,000.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	if s.closed.Load() {
		return 0, online.ErrClosed
	}
	nowKey := appendExpiry(nil, s.now().UnixMilli())
	removed := 0
	for {
		if err := ctx.Err(); err != nil {
			return removed, fmt.Errorf("sweep online store: %w", err)
		}
		n, done := 0, false
		err := s.db.Update(func(tx *bolt.Tx) error {
			records, expiry := tx.Bucket(recordsBucket), tx.Bucket(expiryBucket)
			var expired [][]byte
			c := expiry.Cursor()
			// Index keys sort as their expiry times do; a key whose time is
			// now's is longer than nowKey and so not expired.
			for k, _ := c.First(); k != nil && len(expired) < sweepBatch && bytes.Compare(k, nowKey) < 0; k, _ = c.Next() {
				expired = append(expired, k)
			}
			for _, k := range expired {
				// The index holds the expiry time of each record it names,
				// unless the record was removed or replaced since.
				if len(k) > expirySize {
					key := k[expirySize:]
					if old := records.Get(key); len(old) >= expirySize && bytes.Equal(old[:expirySize], k[:expirySize]) {
						if err := records.Delete(key); err != nil {
							return fmt.Errorf("delete key %q: %w", key, err)
						}
						n++
					}
				}
				if err := expiry.Delete(k); err != nil {
					return fmt.Errorf("delete expiry index key %q: %w", k, err)
				}
			}
			done = len(expired) < sweepBatch
			return nil
		})
		if err != nil {
			return removed, fmt.Errorf("sweep online store: %w", s.fail(err))
		}
		removed += n
		if done {
			return removed, nil
		}
	}
}

// Close stops the background sweeper and closes the database file, once
// running transactions end. Calls after it return online.ErrClosed.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return online.ErrClosed
	}
	if s.stopSweeper != nil {
		s.stopSweeper()
		s.sweeperDone.Wait()
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close online store %s: %w", s.db.Path(), err)
	}
	return nil
}

// fail marks err online.ErrClosed when the database was closed meanwhile.
func (s *Store) fail(err error) error {
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("%w: %w", online.ErrClosed, err)
	}
	return err
}
