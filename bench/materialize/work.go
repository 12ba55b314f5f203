package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/almanac-fs/almanac/bench/internal/machine"
	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/online"
	"github.com/almanac-fs/almanac/online/redis"
	"github.com/almanac-fs/almanac/pipelines"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// Writes to Redis go in batches of batchRows, batchWriters at once, as
// pipelines.Materializer writes the online store.
const (
	batchRows    = 1000
	batchWriters = 4
)

// env is what every side of the benchmark works with.
type env struct {
	shape shape
	cfg   *registry.Config
	defs  *registry.Definitions
	view  *registry.FeatureView
	// redisPID is Redis's process, whose CPU time is measured.
	redisPID int
	client   *goredis.Client // for flushing, counting, the dump and the baseline
	store    *redis.Store    // Almanac's
	db       *duck.DB
	// records are the keys, encoded records and expiry times Almanac
	// wrote, read back after the warm-up run, in entity order: the
	// baseline's input. scanOrder holds them in the order SCAN returned
	// them, Redis's own hash-table order, for the reference line.
	records, scanOrder []record
	// rows are the same records decoded: the Store.Write side's input.
	rows []online.Row
}

// record is one stored key as the baseline writes it.
type record struct {
	key, val string
	expireAt int64 // ms since the Unix epoch
	entity   int64 // the user of the key
}

// measurement is one timed run of one side.
type measurement struct {
	Seconds  float64       `json:"seconds"`
	Rows     int64         `json:"rows"` // entity rows written to Redis
	CPU      time.Duration `json:"cpu"`  // of this process
	RedisCPU time.Duration `json:"redis_cpu"`
}

// clock measures the elapsed and CPU time of this process and Redis.
type clock struct {
	began     time.Time
	cpu, rcpu time.Duration
	redisPID  int
}

func startClock(redisPID int) (clock, error) {
	c := clock{began: time.Now(), redisPID: redisPID}
	var err error
	if c.cpu, err = machine.ProcessCPU(os.Getpid()); err != nil {
		return c, err
	}
	c.rcpu, err = machine.ProcessCPU(redisPID)
	return c, err
}

func (c clock) stop(rows int64) (measurement, error) {
	m := measurement{Seconds: time.Since(c.began).Seconds(), Rows: rows}
	cpu, err := machine.ProcessCPU(os.Getpid())
	if err != nil {
		return m, err
	}
	rcpu, err := machine.ProcessCPU(c.redisPID)
	if err != nil {
		return m, err
	}
	m.CPU, m.RedisCPU = cpu-c.cpu, rcpu-c.rcpu
	return m, nil
}

// flush empties Redis.
func (e *env) flush(ctx context.Context) error {
	if err := e.client.FlushAll(ctx).Err(); err != nil {
		return fmt.Errorf("flush redis: %w", err)
	}
	return nil
}

// checkKeys checks that Redis holds one key per entity.
func (e *env) checkKeys(ctx context.Context, side string) error {
	n, err := e.client.DBSize(ctx).Result()
	if err != nil {
		return fmt.Errorf("count redis keys: %w", err)
	}
	if n != e.shape.Entities {
		return fmt.Errorf("%s left %d keys in redis, want one per entity, %d", side, n, e.shape.Entities)
	}
	return nil
}

// almanacRun is one materialization: the whole run, and its online phase
// timed from the latest-row query to the last write.
type almanacRun struct {
	Whole, Online measurement
	HistoryRows   int64
}

// materialize runs Almanac's materialization of the shape's range on an
// empty Redis; offlineOnly leaves the online store out.
// With profile set, the online phase is CPU-profiled into it.
func (e *env) materialize(ctx context.Context, offlineOnly bool, profile io.Writer) (almanacRun, error) {
	if err := e.flush(ctx); err != nil {
		return almanacRun{}, err
	}
	rec := &phaseRecorder{redisPID: e.redisPID, profile: profile}
	m := &pipelines.Materializer{
		Config:   e.cfg,
		Defs:     e.defs,
		Offline:  offline.Open(e.cfg.Abs(e.cfg.OfflineStore.Path), offline.Options{}),
		DB:       e.db,
		Progress: rec.report,
	}
	if !offlineOnly {
		m.Online = e.store
	}
	c, err := startClock(e.redisPID)
	if err != nil {
		return almanacRun{}, err
	}
	results, err := m.Run(ctx, []*registry.FeatureView{e.view}, e.shape.start, e.shape.end)
	if err != nil {
		return almanacRun{}, fmt.Errorf("materialize: %w", err)
	}
	var run almanacRun
	if run.Whole, err = c.stop(results[0].OnlineRows); err != nil {
		return run, err
	}
	run.HistoryRows = results[0].RowsWritten
	if offlineOnly {
		return run, nil
	}
	if run.Online, err = rec.online(results[0].OnlineRows); err != nil {
		return run, err
	}
	if run.Whole.Rows != e.shape.Entities {
		return run, fmt.Errorf("materialize wrote %d entities online, want %d", run.Whole.Rows, e.shape.Entities)
	}
	return run, e.checkKeys(ctx, "materialize")
}

// phaseRecorder takes the clock when the online phase starts and ends,
// and profiles the phase when profile is set. Materializer calls Progress
// from its writers concurrently.
type phaseRecorder struct {
	redisPID   int
	profile    io.Writer
	mu         sync.Mutex
	start      clock
	started    bool
	end        time.Time
	endCPU     time.Duration
	endRedis   time.Duration
	err        error
	onlineDone bool
}

func (r *phaseRecorder) report(p pipelines.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case p.Phase == pipelines.PhaseOnline && !r.started:
		r.started = true
		if r.profile != nil {
			r.err = pprof.StartCPUProfile(r.profile)
		}
		if r.err == nil {
			r.start, r.err = startClock(r.redisPID)
		}
	case p.Phase == pipelines.PhaseDone && r.started && !r.onlineDone:
		r.onlineDone = true
		r.end = time.Now()
		if r.profile != nil {
			pprof.StopCPUProfile()
		}
		cpu, err := machine.ProcessCPU(os.Getpid())
		rcpu, rerr := machine.ProcessCPU(r.redisPID)
		if err == nil {
			err = rerr
		}
		r.endCPU, r.endRedis, r.err = cpu, rcpu, err
	}
}

// online returns the measurement of the online phase.
func (r *phaseRecorder) online(rows int64) (measurement, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return measurement{}, r.err
	}
	if !r.onlineDone {
		return measurement{}, fmt.Errorf("materialize reported no online phase")
	}
	return measurement{
		Seconds:  r.end.Sub(r.start.began).Seconds(),
		Rows:     rows,
		CPU:      r.endCPU - r.start.cpu,
		RedisCPU: r.endRedis - r.start.rcpu,
	}, nil
}

// dump reads back every record Almanac wrote, with its expiry time, as the
// baseline's input, and decodes them as the Store.Write side's input.
func (e *env) dump(ctx context.Context) error {
	var keys []string
	iter := e.client.Scan(ctx, 0, keyPrefix+"*", 10_000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("scan redis keys: %w", err)
	}
	e.records = make([]record, 0, len(keys))
	for start := 0; start < len(keys); start += batchRows {
		batch, err := e.readRecords(ctx, keys[start:min(start+batchRows, len(keys))])
		if err != nil {
			return err
		}
		e.records = append(e.records, batch...)
	}
	// Inserting keys in the order of Redis's own hash table costs Redis
	// far less than in any order a writer meets them in (about 2.4 µs
	// against 4 µs a key on the machine of BENCHMARKS.md), so the baseline
	// writes them in entity order, as a pipeline reading its source by key
	// would; the SCAN order is kept for a reference line.
	e.scanOrder = slices.Clone(e.records)
	slices.SortFunc(e.records, func(a, b record) int { return cmp.Compare(a.entity, b.entity) })
	return e.decodeRecords()
}

func (e *env) readRecords(ctx context.Context, keys []string) ([]record, error) {
	pipe := e.client.Pipeline()
	gets := make([]*goredis.StringCmd, len(keys))
	exps := make([]*goredis.DurationCmd, len(keys))
	for i, k := range keys {
		gets[i] = pipe.Get(ctx, k)
		exps[i] = pipe.PExpireTime(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read records back: %w", err)
	}
	out := make([]record, len(keys))
	for i, k := range keys {
		exp := exps[i].Val()
		if exp <= 0 {
			return nil, fmt.Errorf("key %q has no expiry time; the view has a TTL", k)
		}
		id, err := entityOf(k)
		if err != nil {
			return nil, err
		}
		out[i] = record{key: k, val: gets[i].Val(), expireAt: exp.Milliseconds(), entity: id}
	}
	return out, nil
}

// decodeRecords turns the dumped records into online rows.
func (e *env) decodeRecords() error {
	view := online.ViewOf(e.view)
	codec := online.NewCodec(&view)
	e.rows = make([]online.Row, len(e.records))
	for i, r := range e.records {
		rec, err := codec.DecodeRecord(r.val)
		if err != nil {
			return fmt.Errorf("decode %q: %w", r.key, err)
		}
		e.rows[i] = online.Row{
			Key:       []*almanacv1.Value{{Val: &almanacv1.Value_Int64Val{Int64Val: r.entity}}},
			EventTime: rec.EventTime,
			Values:    rec.Values,
		}
	}
	return nil
}

// entityOf returns the user of a key such as "almanac:bench:{i2:42}:user_activity".
func entityOf(key string) (int64, error) {
	_, rest, ok := strings.Cut(key, "{i")
	if ok {
		_, rest, ok = strings.Cut(rest, ":")
	}
	num, _, ok2 := strings.Cut(rest, "}")
	if !ok || !ok2 {
		return 0, fmt.Errorf("key %q is not a user's key", key)
	}
	id, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("key %q: %w", key, err)
	}
	return id, nil
}

// baseline writes records, the dumped ones in some order, to an empty
// Redis with pipelined "SET key record PXAT expiry" commands.
func (e *env) baseline(ctx context.Context, records []record) (measurement, error) {
	if err := e.flush(ctx); err != nil {
		return measurement{}, err
	}
	c, err := startClock(e.redisPID)
	if err != nil {
		return measurement{}, err
	}
	err = inBatches(ctx, records, func(ctx context.Context, batch []record) error {
		pipe := e.client.Pipeline()
		for _, r := range batch {
			pipe.Do(ctx, "SET", r.key, r.val, "PXAT", r.expireAt)
		}
		_, err := pipe.Exec(ctx)
		return err
	})
	if err != nil {
		return measurement{}, fmt.Errorf("baseline: %w", err)
	}
	m, err := c.stop(int64(len(records)))
	if err != nil {
		return m, err
	}
	return m, e.checkKeys(ctx, "baseline")
}

// storeWrite writes the decoded rows to an empty Redis with Almanac's
// online/redis.Store.Write.
func (e *env) storeWrite(ctx context.Context) (measurement, error) {
	if err := e.flush(ctx); err != nil {
		return measurement{}, err
	}
	view := online.ViewOf(e.view)
	c, err := startClock(e.redisPID)
	if err != nil {
		return measurement{}, err
	}
	err = inBatches(ctx, e.rows, func(ctx context.Context, batch []online.Row) error {
		return e.store.Write(ctx, view, batch)
	})
	if err != nil {
		return measurement{}, fmt.Errorf("store write: %w", err)
	}
	m, err := c.stop(int64(len(e.rows)))
	if err != nil {
		return m, err
	}
	return m, e.checkKeys(ctx, "Store.Write")
}

// inBatches calls write on batches of batchRows items, batchWriters at
// once, and returns the first error.
func inBatches[T any](ctx context.Context, items []T, write func(context.Context, []T) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	batches := make(chan []T)
	var wg sync.WaitGroup
	for range batchWriters {
		wg.Go(func() {
			for b := range batches {
				if err := write(ctx, b); err != nil {
					cancel(err)
				}
			}
		})
	}
	for start := 0; start < len(items) && ctx.Err() == nil; start += batchRows {
		select {
		case batches <- items[start:min(start+batchRows, len(items))]:
		case <-ctx.Done():
		}
	}
	close(batches)
	wg.Wait()
	return context.Cause(ctx)
}
