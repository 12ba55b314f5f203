package offline

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/almanac-fs/almanac/internal/fsutil"
	"github.com/almanac-fs/almanac/internal/values"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// LogColumn is one column of a logged lookup: a join key or a feature, with
// one value (and, for features, one status) per entity row.
type LogColumn struct {
	Name     string // join key name, or view__feature
	Type     registry.Type
	Key      bool
	Values   []*almanacv1.Value
	Statuses []almanacv1.FieldStatus // nil for join keys
}

// LogEntry is one served lookup of a feature service. The log reads its
// slices after Log returns: they must not change afterwards.
type LogEntry struct {
	Service string
	Time    time.Time
	Columns []LogColumn
	// Build, when set, builds Columns: the log calls it once, in its own
	// goroutine, so that whoever logs a lookup does not wait for its
	// columns to be built. Rows is then the lookup's number of rows, for
	// counting it if it is dropped. The log builds one entry at a time, in
	// that one goroutine, and is done with an entry's columns, and the
	// values they hold, before it builds the next: Build may reuse the
	// memory of the columns it built before.
	Build func() []LogColumn
	Rows  int
}

// LogOptions adjusts a FeatureLog. The zero value is valid.
type LogOptions struct {
	// Buffer is how many lookups wait to be written before new ones are
	// dropped; 0 means 10000.
	Buffer int
	// MaxRows and MaxAge rotate a service's file once it holds that many
	// rows or is that old; 0 means 5000 rows and 1 minute. Rows are
	// streamed to the file as they come, in row groups of bounded size, so
	// the log's memory does not grow with MaxRows.
	MaxRows int
	MaxAge  time.Duration
	// OnDrop, if set, is called with the rows of each dropped lookup.
	OnDrop func(rows int)
	Logger *slog.Logger
}

// pageBytes is the size at which a column's buffered values are encoded
// and compressed into a page. parquet-go preallocates a page's worth of
// values for some columns and keeps one open page per column, so small
// pages keep a wide log's memory small: with its 256 KiB default, a file
// of 50 features holds some 12 MB instead of 3.
const pageBytes = 8 << 10

// logCodec compresses the log's pages. Its fastest level needs a quarter
// of the default level's encoder memory and writes files about as small,
// served features being mostly incompressible floats. It is shared so its
// pool of encoders outlives each file.
var logCodec = &zstd.Codec{Level: zstd.SpeedFastest}

// rowGroupBytes bounds what a log file buffers in memory: once the rows
// written since the last row group, as parquet-go buffers them (encoded
// and compressed pages plus the values of each column's open page),
// reach this size, they are written to the file as a row group.
const rowGroupBytes = 4 << 20

// FeatureLog writes served feature vectors to Parquet under the offline
// store: logs/<service>/date=YYYY-MM-DD/part-<unix ms>-<n>.parquet, with a
// request_time column, the join keys, and per feature its value and its
// status (<view>__<feature> and <view>__<feature>__status). Log never
// blocks: lookups wait in a bounded buffer and are dropped when it is full.
// Rows are streamed to a hidden file (.part-....parquet.tmp) that is
// fsynced and renamed into place when it rotates, so every file under its
// final name is complete Parquet; a crash loses at most the rows of the
// files not yet rotated. The hidden files a crash leaves, which readers
// ignore, are removed when a log next starts on the directory: a log
// holds a lock on each hidden file it writes, so that those of a live log,
// in another process, are told apart and kept. It is safe for concurrent
// use.
type FeatureLog struct {
	dir     string
	opts    LogOptions
	entries chan LogEntry
	done    chan struct{}
	dropped atomic.Int64
	// mu guards closed: Log sends under its read lock, so that Close,
	// under its write lock, never closes entries while a send is under way.
	mu      sync.RWMutex
	closed  bool
	closing sync.Once
	err     error // the first write error, returned by Close

	// Used only by the writing goroutine.
	files   map[string]*logFile // the open file of each service
	columns columnBuffer
	seq     int // numbers the files this log creates
}

// NewFeatureLog starts a log writing under the store's logs directory. The
// caller must Close it to write the last rows.
func (s *Store) NewFeatureLog(opts LogOptions) *FeatureLog {
	if opts.Buffer == 0 {
		opts.Buffer = 10000
	}
	if opts.MaxRows == 0 {
		opts.MaxRows = 5000
	}
	if opts.MaxAge == 0 {
		opts.MaxAge = time.Minute
	}
	l := &FeatureLog{
		dir:     s.logsDir(),
		opts:    opts,
		entries: make(chan LogEntry, opts.Buffer),
		done:    make(chan struct{}),
		files:   map[string]*logFile{},
	}
	go l.run()
	return l
}

// Log queues e to be written and reports whether it was taken; it never
// waits. An entry is dropped when the buffer is full or the log is closed.
func (l *FeatureLog) Log(e LogEntry) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if !l.closed {
		select {
		case l.entries <- e:
			return true
		default:
		}
	}
	rows := e.Rows
	if e.Build == nil && len(e.Columns) > 0 {
		rows = len(e.Columns[0].Values)
	}
	l.dropped.Add(int64(rows))
	if l.opts.OnDrop != nil {
		l.opts.OnDrop(rows)
	}
	return false
}

// Dropped returns the rows dropped because the buffer was full or the log
// closed.
func (l *FeatureLog) Dropped() int64 { return l.dropped.Load() }

// Close writes every queued lookup and waits for the files to be complete.
// Lookups logged afterwards are dropped.
func (l *FeatureLog) Close() error {
	l.closing.Do(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.closed = true
		close(l.entries)
	})
	<-l.done
	return l.err
}

// run removes the hidden files of logs that died, then writes the queued
// lookups until Close, rotating files as they fill up or age.
func (l *FeatureLog) run() {
	defer close(l.done)
	l.removeStale()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case e, ok := <-l.entries:
			if !ok {
				for service := range l.files {
					l.fail(l.rotate(service))
				}
				return
			}
			if e.Build != nil {
				e.Columns = e.Build()
			}
			l.fail(l.write(e))
		case now := <-tick.C:
			for service, f := range l.files {
				if now.Sub(f.opened) >= l.opts.MaxAge {
					l.fail(l.rotate(service))
				}
			}
		}
	}
}

// fail keeps the first error and logs every one.
func (l *FeatureLog) fail(err error) {
	if err == nil {
		return
	}
	if l.err == nil {
		l.err = err
	}
	if l.opts.Logger != nil {
		l.opts.Logger.Error("feature log", "err", err)
	}
}

// write appends the rows of e to its service's file, first rotating the
// file when it is full or e belongs elsewhere (another date, other
// columns). An entry that cannot be logged is skipped whole.
func (l *FeatureLog) write(e LogEntry) error {
	n, err := l.columns.build(e)
	if err != nil {
		return fmt.Errorf("feature log of %q: skip a lookup: %w", e.Service, err)
	}
	if n == 0 {
		return nil
	}
	y, m, d := e.Time.UTC().Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	f := l.files[e.Service]
	var schema *parquet.Schema
	if f != nil {
		same := f.sameColumns(e.Columns)
		if same {
			schema = f.schema
		}
		if !same || !f.day.Equal(day) || f.rows >= l.opts.MaxRows {
			l.fail(l.rotate(e.Service))
			f = nil
		}
	}
	if f == nil {
		if schema == nil {
			if schema, err = logSchema(e.Columns); err != nil {
				return fmt.Errorf("feature log of %q: %w", e.Service, err)
			}
		}
		l.seq++
		if f, err = createLogFile(l.dir, e, day, schema, l.seq); err != nil {
			return err
		}
		l.files[e.Service] = f
	}
	if err := f.write(l.columns.values, n); err != nil {
		delete(l.files, e.Service)
		f.abort()
		return err
	}
	return nil
}

// rotate completes the open file of a service and forgets it.
func (l *FeatureLog) rotate(service string) error {
	f := l.files[service]
	delete(l.files, service)
	return f.finish()
}

// logColumnSpec is what decides a log column's place and type in the file.
type logColumnSpec struct {
	name string
	typ  registry.Type
	key  bool
}

// logFile is a Parquet file of one service being written under a hidden
// name in dir, to be renamed to name when complete.
type logFile struct {
	service string
	cols    []logColumnSpec // the columns of the entries it holds
	schema  *parquet.Schema
	day     time.Time // the UTC date of its rows
	dir     string
	name    string
	tmp     string // the hidden path written until the file is complete
	file    *os.File
	w       *parquet.Writer
	rows    int
	flushed int64 // w.Size() after the last row group was written out
	opened  time.Time
}

// createLogFile starts the file of e's service for the rows of day.
func createLogFile(root string, e LogEntry, day time.Time, schema *parquet.Schema, seq int) (*logFile, error) {
	dir := filepath.Join(root, e.Service, datePrefix+day.Format(time.DateOnly))
	f := &logFile{
		service: e.Service,
		cols:    make([]logColumnSpec, len(e.Columns)),
		schema:  schema,
		day:     day,
		dir:     dir,
		name:    fmt.Sprintf("part-%d-%d.parquet", time.Now().UnixMilli(), seq),
		opened:  time.Now(),
	}
	for i, c := range e.Columns {
		f.cols[i] = logColumnSpec{name: c.Name, typ: c.Type, key: c.Key}
	}
	f.tmp = filepath.Join(dir, "."+f.name+".tmp")
	if err := mkdirSynced(dir); err != nil {
		return nil, fmt.Errorf("feature log of %q: %w", e.Service, err)
	}
	file, err := createLocked(f.tmp)
	if err != nil {
		return nil, fmt.Errorf("feature log of %q: %w", e.Service, err)
	}
	f.file = file
	// Readers prune by the column chunks' bounds, which the pages' bounds
	// make; the pages' own statistics, and a status column's bounds
	// (sorting its dictionary at every page), tell them nothing worth their
	// cost.
	opts := []parquet.WriterOption{schema, parquet.Compression(logCodec), parquet.PageBufferSize(pageBytes), parquet.DataPageStatistics(false)}
	for _, c := range e.Columns {
		if !c.Key {
			opts = append(opts, parquet.SkipPageBounds(c.Name+"__status"))
		}
	}
	f.w = parquet.NewWriter(file, opts...)
	return f, nil
}

// mkdirSynced creates dir and its missing parents, fsyncing each parent
// that gains an entry so that the directories survive a crash.
func mkdirSynced(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirSynced(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil
		}
		return err
	}
	return fsutil.SyncDir(parent)
}

// sameColumns reports whether entries with cols belong in f.
func (f *logFile) sameColumns(cols []LogColumn) bool {
	if len(cols) != len(f.cols) {
		return false
	}
	for i, c := range cols {
		if s := f.cols[i]; s.name != c.Name || s.typ != c.Type || s.key != c.Key {
			return false
		}
	}
	return true
}

// write adds rows to the file, given as the values of each of its
// columns (as columnBuffer.build makes them, in the order of the schema's
// leaves, which is that of f.w.ColumnWriters), writing out a row group
// when the buffered rows reach rowGroupBytes.
func (f *logFile) write(columns [][]parquet.Value, rows int) error {
	for i, c := range f.w.ColumnWriters() {
		if err := writeColumn(c, columns[i], rows); err != nil {
			return fmt.Errorf("write feature log of %q to %s: %w", f.service, f.tmp, err)
		}
	}
	f.rows += rows
	if size := f.w.Size(); size-f.flushed >= rowGroupBytes {
		if err := f.w.Flush(); err != nil {
			return fmt.Errorf("write feature log of %q to %s: %w", f.service, f.tmp, err)
		}
		f.flushed = f.w.Size()
	}
	return nil
}

// finish completes the file: footer, fsync, rename into place, fsync of
// the directory. The file is renamed before it is closed, which releases
// its lock, so that no other log takes it for a dead log's. On error the
// hidden file is removed.
func (f *logFile) finish() error {
	err := f.w.Close()
	if err == nil {
		err = f.file.Sync()
	}
	if err == nil {
		err = os.Rename(f.tmp, filepath.Join(f.dir, f.name))
	}
	if err != nil {
		os.Remove(f.tmp)
	}
	if err = errors.Join(err, f.file.Close()); err != nil {
		return fmt.Errorf("write feature log of %q to %s: %w", f.service, f.tmp, err)
	}
	if err := fsutil.SyncDir(f.dir); err != nil {
		return fmt.Errorf("write feature log of %q to %s: %w", f.service, filepath.Join(f.dir, f.name), err)
	}
	return nil
}

// abort gives up a file after a write error: its rows are lost, and the
// hidden file is removed so no incomplete file is left behind.
func (f *logFile) abort() {
	os.Remove(f.tmp)
	f.file.Close()
}

// createLocked creates the hidden file at path and takes an exclusive lock
// on it, held until the file is closed, which tells removeStale that a
// live log writes it. A log starting in another process may remove the
// file between its creation and the lock; it is then created again.
func createLocked(path string) (*os.File, error) {
	for range 3 {
		file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX); err != nil {
			os.Remove(path)
			file.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		created, err := file.Stat()
		if err != nil {
			os.Remove(path)
			file.Close()
			return nil, err
		}
		if named, err := os.Stat(path); err == nil && os.SameFile(created, named) {
			return file, nil
		}
		file.Close()
	}
	return nil, fmt.Errorf("create %s: removed by another process as it was created", path)
}

// removeStale removes the hidden files that logs which died while writing
// them left under the log's directory: files named as createLogFile names
// them that no live log holds the lock of. Failures are logged; they cost
// only disk space.
func (l *FeatureLog) removeStale() {
	removed := 0
	filepath.WalkDir(l.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !isLogTemp(d.Name()) {
			return nil
		}
		ok, err := removeUnlocked(path)
		if err != nil && l.opts.Logger != nil {
			l.opts.Logger.Warn("feature log: remove a file left by a log that died", "path", path, "err", err)
		}
		if ok {
			removed++
		}
		return nil
	})
	if removed > 0 && l.opts.Logger != nil {
		l.opts.Logger.Info("feature log: removed the incomplete files of logs that died", "files", removed, "dir", l.dir)
	}
}

// isLogTemp reports whether name is that of a log file being written:
// .part-<unix ms>-<n>.parquet.tmp.
func isLogTemp(name string) bool {
	mid, ok := strings.CutPrefix(name, ".part-")
	if !ok {
		return false
	}
	if mid, ok = strings.CutSuffix(mid, ".parquet.tmp"); !ok {
		return false
	}
	ms, n, ok := strings.Cut(mid, "-")
	return ok && digits(ms) && digits(n)
}

// digits reports whether s is a non-empty string of ASCII digits.
func digits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// removeUnlocked removes the file at path unless a live log holds its
// lock, and reports whether it did.
func removeUnlocked(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return false, nil
		}
		return false, err
	}
	// The lock is released when f is closed. Its holder may have renamed
	// the file into place just before: remove the path only if it still
	// names the file locked.
	locked, err := f.Stat()
	if err != nil {
		return false, err
	}
	if named, err := os.Lstat(path); err != nil || !os.SameFile(locked, named) {
		return false, nil
	}
	return true, os.Remove(path)
}

// logSchema is the Parquet schema of a log file for entries with cols:
// request_time, then the columns in order, each feature followed by its
// status. The value columns are optional and read back in DuckDB as the
// types duck.TypeName gives; request_time and timestamps are adjusted to
// UTC, so they read back as TIMESTAMP WITH TIME ZONE.
func logSchema(cols []LogColumn) (*parquet.Schema, error) {
	g := orderedGroup{Group: parquet.Group{}}
	if err := g.add("request_time", parquet.Encoded(parquet.Timestamp(parquet.Microsecond), &parquet.DeltaBinaryPacked)); err != nil {
		return nil, err
	}
	for _, c := range cols {
		node, err := valueNode(c.Type)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		if err := g.add(c.Name, parquet.Optional(node)); err != nil {
			return nil, err
		}
		if !c.Key {
			if err := g.add(c.Name+"__status", parquet.Encoded(parquet.String(), &parquet.RLEDictionary)); err != nil {
				return nil, err
			}
		}
	}
	return parquet.NewSchema("almanac_feature_log", g), nil
}

// valueNode is the Parquet node holding values of type t: the physical
// type of its kind's representation, a timestamp for values in ms.
func valueNode(t registry.Type) (parquet.Node, error) {
	k := values.KindOf(t.Elem)
	if k == nil {
		return nil, fmt.Errorf("unknown type %s", t)
	}
	var n parquet.Node
	switch {
	case k.Millis:
		n = parquet.Timestamp(parquet.Millisecond)
	case k.Rep == values.RepInt32:
		n = parquet.Leaf(parquet.Int32Type)
	case k.Rep == values.RepInt64:
		n = parquet.Leaf(parquet.Int64Type)
	case k.Rep == values.RepFloat32:
		n = parquet.Leaf(parquet.FloatType)
	case k.Rep == values.RepFloat64:
		n = parquet.Leaf(parquet.DoubleType)
	case k.Rep == values.RepBool:
		n = parquet.Leaf(parquet.BooleanType)
	case k.Rep == values.RepString:
		n = parquet.String()
	default:
		n = parquet.Leaf(parquet.ByteArrayType)
	}
	if t.List {
		return parquet.List(n), nil
	}
	if k.Rep == values.RepInt32 || k.Rep == values.RepInt64 {
		// Delta encoding packs integers into the bits their differences
		// need, which leaves zstd a fraction of the bytes to compress: the
		// log costs about a tenth less CPU (BenchmarkFeatureLogWrite) and
		// its files are no bigger.
		n = parquet.Encoded(n, &parquet.DeltaBinaryPacked)
	}
	return n, nil
}

// orderedGroup is a Parquet group whose fields keep the order they were
// added in; parquet.Group sorts them by name. The embedded parquet.Group
// holds the same fields by name and provides the methods that do not
// depend on order (GoType, unused here since the log writes
// parquet.Values, is a struct with the fields sorted by name).
type orderedGroup struct {
	parquet.Group
	fields []parquet.Field
}

// add appends a field, which must not share a name with another.
func (g *orderedGroup) add(name string, n parquet.Node) error {
	if _, dup := g.Group[name]; dup {
		return fmt.Errorf("two columns are named %q", name)
	}
	g.Group[name] = n
	g.fields = append(g.fields, parquet.Group{name: n}.Fields()[0])
	return nil
}

// Fields returns the fields in the order they were added.
func (g orderedGroup) Fields() []parquet.Field { return g.fields }

// String prints the group as a Parquet schema, fields in order.
func (g orderedGroup) String() string {
	var b strings.Builder
	parquet.PrintSchema(&b, "", g)
	return b.String()
}

// columnBuffer turns a lookup into the Parquet values of each column of
// its file, reusing its memory from one lookup to the next. The log writes
// them column by column, which parquet-go does faster than splitting rows
// into columns.
type columnBuffer struct {
	values [][]parquet.Value // by column of logSchema(e.Columns)
}

// build fills b.values with the values of e's rows, in the columns of
// logSchema(e.Columns), and returns how many rows there are. It converts
// every value before any is written, so that a lookup that cannot be
// logged is skipped whole.
//
// It reads the lookup row by row, the order in which a server makes its
// values, and makes each value in its place in b.values, then sets its
// levels there: a parquet.Value, too big to live in registers, is copied
// through memory, and copying one just made stalls the CPU until the
// stores of its fields complete.
func (b *columnBuffer) build(e LogEntry) (int, error) {
	n := 0
	if len(e.Columns) > 0 {
		n = len(e.Columns[0].Values)
	}
	columns := 1 // request_time
	for _, c := range e.Columns {
		if len(c.Values) != n {
			return 0, fmt.Errorf("column %s has %d values, want %d", c.Name, len(c.Values), n)
		}
		columns++
		if !c.Key {
			if len(c.Statuses) != n {
				return 0, fmt.Errorf("column %s has %d statuses, want %d", c.Name, len(c.Statuses), n)
			}
			columns++
		}
	}
	for i, vals := range b.values {
		clear(vals) // drop references to the previous lookup's bytes
		b.values[i] = vals[:0]
	}
	b.values = slices.Grow(b.values[:0], columns)[:columns]
	// Columns of one value per row are sized up front, lists grow.
	b.values[0] = slices.Grow(b.values[0], n)[:n]
	col := 1
	for _, c := range e.Columns {
		if !c.Type.List {
			b.values[col] = slices.Grow(b.values[col], n)[:n]
		}
		col++
		if !c.Key {
			b.values[col] = slices.Grow(b.values[col], n)[:n]
			col++
		}
	}
	requestTime := parquet.Int64Value(e.Time.UnixMicro()).Level(0, 0, 0)
	for r := range b.values[0] {
		b.values[0][r] = requestTime
	}
	for r := range n {
		col := 1
		for _, c := range e.Columns {
			v, st := c.Values[r], almanacv1.FieldStatus_PRESENT
			if !c.Key {
				st = c.Statuses[r]
			}
			null := st != almanacv1.FieldStatus_PRESENT || v.GetVal() == nil
			switch vals := b.values[col]; {
			case c.Type.List:
				var err error
				if null {
					vals = append(vals, parquet.NullValue())
					vals[len(vals)-1].SetColumnIndex(col)
				} else {
					vals, err = appendList(vals, v, c.Type, col)
				}
				b.values[col] = vals
				if err != nil {
					return 0, fmt.Errorf("column %s, row %d: %w", c.Name, r, err)
				}
			case null:
				vals[r] = parquet.NullValue()
				vals[r].SetColumnIndex(col)
			default:
				x := &vals[r]
				if !setScalar(x, v, c.Type.Elem) {
					if err := setCoerced(x, v, c.Type); err != nil {
						return 0, fmt.Errorf("column %s, row %d: %w", c.Name, r, err)
					}
				}
				x.SetDefinitionLevel(1)
				x.SetColumnIndex(col)
			}
			col++
			if !c.Key {
				name := &b.values[col][r]
				if uint(st) < uint(len(statusValues)) {
					*name = statusValues[st]
				} else {
					*name = stringValue(st.String())
				}
				name.SetColumnIndex(col)
				col++
			}
		}
	}
	return n, nil
}

// setScalar sets *dst to the Parquet value of v, without levels, if v is a
// scalar of type t, and reports whether it is.
func setScalar(dst *parquet.Value, v *almanacv1.Value, t registry.Scalar) bool {
	vt, p := values.Unpack(v)
	if vt.List || vt.Elem != t || t == registry.Invalid {
		return false
	}
	*dst = parquetValue(values.KindOf(t).Rep, v, p)
	return true
}

// parquetValue is the Parquet value of v, a scalar of representation rep
// whose payload is p.
func parquetValue(rep values.Rep, v *almanacv1.Value, p values.Payload) parquet.Value {
	switch rep {
	case values.RepInt32:
		return parquet.Int32Value(int32(p.N))
	case values.RepInt64:
		return parquet.Int64Value(int64(p.N))
	case values.RepFloat32:
		return parquet.FloatValue(math.Float32frombits(uint32(p.N)))
	case values.RepFloat64:
		return parquet.DoubleValue(math.Float64frombits(p.N))
	case values.RepBool:
		return parquet.BooleanValue(p.N != 0)
	case values.RepString:
		return stringValue(p.S)
	}
	return parquet.ByteArrayValue(v.GetBytesVal())
}

// setCoerced sets *dst to the Parquet value of v, a non-null value that
// is not of scalar type t, converted to t when values.Coerce can.
func setCoerced(dst *parquet.Value, v *almanacv1.Value, t registry.Type) error {
	v, err := values.Coerce(v, t)
	if err != nil {
		return err
	}
	if !setScalar(dst, v, t.Elem) {
		return fmt.Errorf("cannot log %s", values.Describe(v))
	}
	return nil
}

// appendList appends the Parquet values of v, a non-null value for a
// column of list type t, in column col of logSchema: one per element, or
// one null for an empty list.
func appendList(dst []parquet.Value, v *almanacv1.Value, t registry.Type, col int) ([]parquet.Value, error) {
	v, err := values.Coerce(v, t)
	if err != nil {
		return dst, err
	}
	k := values.KindOf(t.Elem)
	if k == nil {
		return dst, fmt.Errorf("cannot log %s", values.Describe(v))
	}
	start := len(dst)
	switch k.Rep {
	case values.RepInt32:
		for _, e := range values.Int32s(v) {
			dst = append(dst, parquet.Int32Value(e))
		}
	case values.RepInt64:
		for _, e := range values.Int64s(v) {
			dst = append(dst, parquet.Int64Value(e))
		}
	case values.RepFloat32:
		for _, e := range values.Float32s(v) {
			dst = append(dst, parquet.FloatValue(e))
		}
	case values.RepFloat64:
		for _, e := range values.Float64s(v) {
			dst = append(dst, parquet.DoubleValue(e))
		}
	case values.RepBool:
		for _, e := range values.Bools(v) {
			dst = append(dst, parquet.BooleanValue(e))
		}
	case values.RepString:
		for _, e := range values.Strings(v) {
			dst = append(dst, stringValue(e))
		}
	case values.RepBytes:
		for _, e := range values.ByteStrings(v) {
			dst = append(dst, parquet.ByteArrayValue(e))
		}
	}
	// Definition level 1 is an empty list, 2 an element; the repetition
	// level is 0 for a row's first value, 1 for the next ones.
	if len(dst) == start {
		return append(dst, parquet.NullValue().Level(0, 1, col)), nil
	}
	for i := start; i < len(dst); i++ {
		dst[i].SetRepetitionLevel(min(i-start, 1))
		dst[i].SetDefinitionLevel(2)
		dst[i].SetColumnIndex(col)
	}
	return dst, nil
}

// statusValues holds the name of each FieldStatus, indexed by number, as
// a Parquet value: FieldStatus.String finds it by protobuf reflection, too
// slow to call for every logged value.
var statusValues = func() []parquet.Value {
	var vals []parquet.Value
	for st := almanacv1.FieldStatus(0); ; st++ {
		if _, ok := almanacv1.FieldStatus_name[int32(st)]; !ok {
			return vals
		}
		vals = append(vals, stringValue(st.String()))
	}
}()

// rowsPerWrite bounds the rows written to a column at once. A column
// writer starts a new page only between writes, once its page holds
// pageBytes, so this bounds the pages of long lists, as parquet-go's
// WriteRows does with the same number.
const rowsPerWrite = 64

// writeColumn writes vals, the values of the given number of rows of
// column c, rowsPerWrite rows at a time.
func writeColumn(c *parquet.ColumnWriter, vals []parquet.Value, rows int) error {
	for len(vals) > 0 {
		end, n := min(len(vals), rowsPerWrite), min(rows, rowsPerWrite)
		if len(vals) != rows {
			// Lists with other than one value: each row starts with a
			// value of repetition level 0.
			end, n = 1, 1
			for ; end < len(vals); end++ {
				if vals[end].RepetitionLevel() == 0 {
					if n == rowsPerWrite {
						break
					}
					n++
				}
			}
		}
		if _, err := c.WriteRowValues(vals[:end]); err != nil {
			return err
		}
		vals, rows = vals[end:], rows-n
	}
	return nil
}

// stringValue is a Parquet BYTE_ARRAY value of s without copying it:
// parquet-go copies the bytes into its buffers and never writes to them.
func stringValue(s string) parquet.Value {
	return parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(s), len(s)))
}
