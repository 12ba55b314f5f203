package offline

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/internal/fsutil"
	"github.com/almanac-fs/almanac/registry"
)

// Store is the offline store in one directory:
//
//	views/<view>/date=YYYY-MM-DD/part-<version>.parquet     feature history, Hive-partitioned
//	views/<view>/date=YYYY-MM-DD/part-<version>-<k>.parquet small files merged by an append
//	views/<view>/_snapshots/<version>.json                   committed states
//	datasets/<dataset>/profile.json                          the profile of a dataset's training set
//	drift/<dataset>.json                                     the last drift report of a dataset
//	logs/<service>/date=YYYY-MM-DD/part-<ms>-<n>.parquet     lookups the server logged (see FeatureLog)
//	dead_letters/<source>/date=YYYY-MM-DD/*.parquet          messages a source could not take
//
// Other packages ask the store where these are (ProfilePath,
// DriftReportPath, LogFiles, ...) rather than joining paths under its
// directory.
//
// A write stages new files, moves them into their partitions and then
// commits by writing the next snapshot atomically; readers only read the
// files their snapshot names, so they see a whole write or none of it. Files
// no longer named by a recent snapshot are removed after a grace period.
// Writers to one view are serialized by a file lock; readers take no lock.
type Store struct {
	dir    string
	now    func() time.Time
	retain time.Duration

	mu sync.Mutex
	// collected is when each view directory's unused files were last
	// removed: at most every retain/10, since it reads every snapshot kept.
	collected map[string]time.Time

	// failBeforeCommit, when set by tests, is called after the new files are
	// in place and before the snapshot is written.
	failBeforeCommit func() error
}

// Options adjusts Open. The zero value is valid.
type Options struct {
	Now func() time.Time // nil means time.Now
	// Retain is how long files replaced by a write are kept for readers
	// still using an older snapshot; 0 means 10 minutes, negative means
	// remove them at once.
	Retain time.Duration
}

// Errors of the offline store.
var (
	ErrCorrupt = errors.New("offline: corrupt snapshot")
	ErrNoData  = errors.New("offline: view has no history")
)

// Open returns the store in dir. Nothing is created until a write.
func Open(dir string, opts Options) *Store {
	s := &Store{dir: dir, now: opts.Now, retain: opts.Retain, collected: make(map[string]time.Time)}
	if s.now == nil {
		s.now = time.Now
	}
	switch {
	case s.retain == 0:
		s.retain = 10 * time.Minute
	case s.retain < 0:
		s.retain = 0
	}
	return s
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Snapshot returns the current snapshot of view, or an error wrapping
// ErrNoData when nothing was written to it yet.
func (s *Store) Snapshot(view string) (*Snapshot, error) {
	dir := s.viewDir(view)
	vs, err := snapshotVersions(dir)
	if err != nil {
		return nil, fmt.Errorf("view %q: %w", view, err)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("view %q: %w", view, ErrNoData)
	}
	snap, err := readSnapshot(dir, vs[len(vs)-1])
	if err != nil {
		return nil, fmt.Errorf("view %q: %w", view, err)
	}
	return snap, nil
}

// maxAppendIDs is how many append IDs a snapshot keeps: enough to cover the
// retries of every push in flight, few enough to keep snapshots small.
const maxAppendIDs = 256

// Batch is one write: the rows of a view for the event times [Start, End),
// replacing whatever the view held for that range, or, with Append, added to
// what it holds.
type Batch struct {
	View       string
	Start, End time.Time
	// Append adds the rows without replacing anything (pushed rows); Start
	// and End are then only recorded with the run, and the watermark does
	// not move.
	Append bool
	// Until, if set, is when the rows were read. Rows with later event
	// times can still arrive, so the range is recorded as materialized up
	// to Until at most, and ranges recorded as reaching past it are
	// dropped: an older almanac recorded a future End as it was, and what
	// such a run covered is unknown.
	Until time.Time
	// ID, with Append, names the rows, for instance by a hash of their
	// content. An append whose ID is among the view's latest maxAppendIDs
	// appends is skipped, so retrying one that failed after its commit does
	// not add its rows twice.
	ID string
	// Conn is the DuckDB connection on which Table holds the rows, with
	// the columns and types to store.
	Conn  *sql.Conn
	Table string
	// TimestampColumn names the event-time column (TIMESTAMPTZ) of Table;
	// CreatedColumn the optional created-time column.
	TimestampColumn, CreatedColumn string
	// SortBy are the columns rows are sorted by within a file (the join
	// keys), before the event and created times.
	SortBy []string
	// OrderColumn, if set, names a BIGINT column of Table, not stored, that
	// orders rows tied on join keys, event time and created time, the
	// greatest last: the files keep that order, so that Export takes the
	// last of them (see Export).
	OrderColumn string
	// AfterCommit, if set, is called with the next snapshot once the rows
	// are committed, or with the current one when an append is skipped as
	// a repeat, while writers to the view are still locked out: what it
	// does, such as writing the rows to the online store, is then ordered
	// as the commits are. Its error is returned; the commit stands.
	AfterCommit func(*Snapshot) error
	// RowsDropped and Violations are recorded with the run.
	RowsDropped int64
	Violations  []Violation
	// Progress, if set, is called after each partition with the rows
	// written so far.
	Progress func(rows int64)
}

// Write replaces the range [b.Start, b.End) of b.View's history with the rows
// of b.Table and commits. Writing the same rows twice leaves the same
// content. On error nothing is committed and the previous snapshot stays
// current, unless the error is b.AfterCommit's. An append with the ID of one
// of the latest appends commits nothing and returns the current snapshot.
func (s *Store) Write(ctx context.Context, b Batch) (*Snapshot, error) {
	dir := s.viewDir(b.View)
	if err := os.MkdirAll(filepath.Join(dir, snapshotDir), 0o755); err != nil {
		return nil, fmt.Errorf("create view directory: %w", err)
	}
	unlock, err := fsutil.Lock(ctx, filepath.Join(dir, "_lock"), 10*time.Minute)
	if err != nil {
		return nil, fmt.Errorf("write history of view %q: %w", b.View, err)
	}
	defer unlock()

	cur, err := s.Snapshot(b.View)
	switch {
	case errors.Is(err, ErrNoData):
		cur = &Snapshot{dir: dir}
	case err != nil:
		return nil, err
	}
	if b.Append && b.ID != "" && slices.Contains(cur.Appended, b.ID) {
		return cur, afterCommit(b, cur)
	}
	next := &Snapshot{Version: cur.Version + 1, TimestampColumn: b.TimestampColumn, CreatedColumn: b.CreatedColumn, dir: dir}
	w := &writer{store: s, b: b, cur: cur, next: next, staging: filepath.Join(dir, "_staging", fmt.Sprint(next.Version))}
	defer os.RemoveAll(filepath.Join(dir, "_staging"))
	if err := w.stage(ctx); err != nil {
		return nil, fmt.Errorf("write history of view %q: %w", b.View, err)
	}
	if err := w.publish(); err != nil {
		return nil, fmt.Errorf("commit history of view %q: %w", b.View, err)
	}
	s.collect(dir, next)
	return next, afterCommit(b, next)
}

// materialized returns the ranges recorded as materialized once b, a
// replacing write, is committed over a history that recorded cur.
func materialized(cur []Interval, b Batch) []Interval {
	iv := Interval{b.Start.UTC(), b.End.UTC()}
	if b.Until.IsZero() {
		return mergeIntervals(append(slices.Clone(cur), iv))
	}
	until := b.Until.UTC()
	out := slices.DeleteFunc(slices.Clone(cur), func(iv Interval) bool { return iv.End.After(until) })
	if iv.End.After(until) {
		iv.End = until
	}
	if iv.Start.Before(iv.End) {
		out = append(out, iv)
	}
	return mergeIntervals(out)
}

// afterCommit calls b.AfterCommit, if set, with snap.
func afterCommit(b Batch, snap *Snapshot) error {
	if b.AfterCommit == nil {
		return nil
	}
	return b.AfterCommit(snap)
}

// writer carries one Write through its steps.
type writer struct {
	store   *Store
	b       Batch
	cur     *Snapshot
	next    *Snapshot
	staging string
	staged  []File
	touched map[string]bool
	// dropped are the current files merged into staged ones.
	dropped map[string]bool
	rows    int64
}

// Pushed rows arrive in many small appends, each of which would add a file
// to its partitions. An append therefore merges a partition's small files
// (under smallFileRows rows, with the same columns) once mergeFanIn of them
// are of one size tier (tiers grow eightfold): a partition keeps at most
// mergeFanIn-1 small files a tier, and a row is rewritten once a tier.
const (
	mergeFanIn    = 8
	smallFileRows = 1 << 20
)

// sizeTier is the size tier of a file of n rows: ⌊log8 n⌋, roughly.
func sizeTier(n int64) int { return bits.Len64(uint64(n)) / 3 }

// stage writes the new file of every touched partition into the staging
// directory: the batch's rows of that date plus the rows the current files
// hold for it outside the batch's range.
func (w *writer) stage(ctx context.Context) error {
	b := w.b
	dates, err := w.batchDates(ctx)
	if err != nil {
		return err
	}
	w.touched = make(map[string]bool)
	w.dropped = make(map[string]bool)
	for d := range dates {
		w.touched[d] = true
	}
	for _, f := range w.cur.Files {
		if b.Append {
			break
		}
		day, err := time.Parse(time.DateOnly, f.Date)
		if err != nil {
			return fmt.Errorf("%w: file %s has date %q", ErrCorrupt, f.Path, f.Date)
		}
		if day.Before(b.End) && day.Add(24*time.Hour).After(b.Start) {
			w.touched[f.Date] = true
		}
	}
	cols, err := duck.Describe(ctx, b.Conn, "SELECT * FROM "+duck.Ident(b.Table))
	if err != nil {
		return fmt.Errorf("describe rows: %w", err)
	}
	cols = slices.DeleteFunc(cols, func(c registry.Column) bool { return c.Name == b.OrderColumn })
	casts := make([]string, len(cols))
	h := fnv.New64a()
	for i, c := range cols {
		casts[i] = fmt.Sprintf("CAST(%s AS %s) AS %[1]s", duck.Ident(c.Name), c.DBType)
		fmt.Fprintf(h, "%s %s\x00", c.Name, c.DBType)
	}
	columns := fmt.Sprintf("%016x", h.Sum64())
	order := make([]string, 0, len(b.SortBy)+3)
	for _, c := range append(slices.Clone(b.SortBy), b.TimestampColumn, b.CreatedColumn, tieColumn) {
		if c != "" {
			order = append(order, duck.Ident(c))
		}
	}
	tie := "0"
	if b.OrderColumn != "" {
		tie = duck.Ident(b.OrderColumn)
	}
	ts := duck.Ident(b.TimestampColumn)
	for _, date := range slices.Sorted(maps.Keys(w.touched)) {
		q := fmt.Sprintf("SELECT *, %s AS %s FROM %s WHERE %s >= TIMESTAMPTZ '%s' AND %[4]s < TIMESTAMPTZ '%[5]s' + INTERVAL 1 DAY",
			tie, duck.Ident(tieColumn), duck.Ident(b.Table), ts, date)
		var keep []string
		for _, f := range w.cur.Files {
			if f.Date == date && !b.Append {
				keep = append(keep, filepath.Join(w.cur.dir, f.Path))
			}
		}
		if len(keep) > 0 {
			kept, err := positioned(ctx, b.Conn, keep)
			if err != nil {
				return fmt.Errorf("read partition %s: %w", date, err)
			}
			q += fmt.Sprintf(" UNION ALL BY NAME SELECT * FROM (%s) WHERE NOT (%s >= %s AND %[2]s < %[4]s)",
				kept, ts, timeLiteral(b.Start), timeLiteral(b.End))
		}
		rel := filepath.Join("date="+date, fmt.Sprintf("part-%010d.parquet", w.next.Version))
		path := filepath.Join(w.staging, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		copyQ := fmt.Sprintf("COPY (SELECT %s FROM (%s) ORDER BY %s) TO %s (FORMAT parquet, COMPRESSION zstd)",
			strings.Join(casts, ", "), q, strings.Join(order, ", "), duck.Quote(path))
		res, err := b.Conn.ExecContext(ctx, copyQ)
		if err != nil {
			return fmt.Errorf("write partition %s: %w", date, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("write partition %s: %w", date, err)
		}
		if n == 0 {
			if err := os.Remove(path); err != nil {
				return err
			}
			continue
		}
		// The newest event time is the batch's, unless the partition keeps
		// older rows outside the range: then it is read back from the file.
		newest := dates[date]
		if len(keep) > 0 {
			if err := b.Conn.QueryRowContext(ctx, fmt.Sprintf("SELECT max(%s) FROM read_parquet(%s)", ts, duck.Quote(path))).Scan(&newest); err != nil {
				return fmt.Errorf("read back partition %s: %w", date, err)
			}
		}
		w.staged = append(w.staged, File{Path: rel, Date: date, Rows: n, Newest: newest.UTC(), Columns: columns})
		w.rows += n
		if b.Append {
			if err := w.merge(ctx, date, order); err != nil {
				return fmt.Errorf("merge small files of partition %s: %w", date, err)
			}
		}
		if b.Progress != nil {
			b.Progress(w.rows)
		}
	}
	return nil
}

// merge merges the small files of date, the one just staged and the current
// ones, while mergeFanIn of them are of one size tier. The merged files are
// staged; the current ones merged are dropped from the next snapshot.
//
// Of rows tied on keys and times, the one of the later file wins (see
// Export), and files are ordered by name, that is by the version of the
// write that made them: a merged file holds rows of the versions it merged
// and takes the version of the write that merges, so it must not hold rows
// older than a file it leaves. A merge therefore takes the oldest file of
// the tier and every file after it, among the small files with the staged
// file's columns that come after the partition's last other file.
func (w *writer) merge(ctx context.Context, date string, order []string) error {
	type small struct {
		path string // absolute
		file File
	}
	staged := w.staged[len(w.staged)-1]
	var smalls []small
	for _, f := range w.cur.Files { // sorted by path: oldest first
		switch {
		case f.Date != date || w.dropped[f.Path]:
		case f.Columns != staged.Columns || f.Rows >= smallFileRows:
			smalls = nil
		default:
			smalls = append(smalls, small{filepath.Join(w.cur.dir, f.Path), f})
		}
	}
	if staged.Rows >= smallFileRows {
		return nil
	}
	smalls = append(smalls, small{filepath.Join(w.staging, staged.Path), staged})
	for k := 1; ; k++ {
		count := make(map[int]int)
		for _, s := range smalls {
			count[sizeTier(s.file.Rows)]++
		}
		tier := -1
		for t, n := range count {
			if n >= mergeFanIn && (tier < 0 || t < tier) {
				tier = t
			}
		}
		if tier < 0 {
			return nil
		}
		first := slices.IndexFunc(smalls, func(s small) bool { return sizeTier(s.file.Rows) == tier })
		group := smalls[first:]
		paths := make([]string, len(group))
		merged := File{Path: filepath.Join("date="+date, fmt.Sprintf("part-%010d-%d.parquet", w.next.Version, k)), Date: date, Columns: staged.Columns}
		for i, s := range group {
			paths[i] = s.path
			if s.file.Newest.After(merged.Newest) {
				merged.Newest = s.file.Newest
			}
		}
		rows, err := positioned(ctx, w.b.Conn, paths)
		if err != nil {
			return err
		}
		path := filepath.Join(w.staging, merged.Path)
		res, err := w.b.Conn.ExecContext(ctx, fmt.Sprintf("COPY (SELECT * EXCLUDE (%s) FROM (%s) ORDER BY %s) TO %s (FORMAT parquet, COMPRESSION zstd)",
			duck.Ident(tieColumn), rows, strings.Join(order, ", "), duck.Quote(path)))
		if err != nil {
			return err
		}
		if merged.Rows, err = res.RowsAffected(); err != nil {
			return err
		}
		for _, s := range group {
			if strings.HasPrefix(s.path, w.staging) {
				w.staged = slices.DeleteFunc(w.staged, func(f File) bool { return f.Path == s.file.Path })
				if err := os.Remove(s.path); err != nil {
					return err
				}
			} else {
				w.dropped[s.file.Path] = true
			}
		}
		smalls = append(smalls[:first:first], small{path, merged})
		w.staged = append(w.staged, merged)
	}
}

// tieColumn orders rows tied on join keys, event time and created time,
// the winner last, in the queries that write and read files; it is never
// stored. No feature can have its name.
const tieColumn = "almanac$tie"

// positioned returns a query of the rows of files, given oldest first, with
// tieColumn numbering them by file, then by position in the file.
func positioned(ctx context.Context, conn interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, files []string) (string, error) {
	scan := fmt.Sprintf("read_parquet(%s, union_by_name = true, hive_partitioning = false)", duck.QuoteList(files))
	cols, err := duck.Describe(ctx, conn, "SELECT * FROM "+scan)
	if err != nil {
		return "", err
	}
	hidden := slices.ContainsFunc(cols, func(c registry.Column) bool {
		return strings.EqualFold(c.Name, "file_index") || strings.EqualFold(c.Name, "file_row_number")
	})
	if !hidden {
		return fmt.Sprintf("SELECT *, (CAST(file_index AS BIGINT) << 40) | file_row_number AS %s FROM %s", duck.Ident(tieColumn), scan), nil
	}
	// A stored column hides DuckDB's virtual column of that name: number
	// the rows of each file as a scan of it alone returns them, in order.
	parts := make([]string, len(files))
	for i, f := range files {
		parts[i] = fmt.Sprintf("SELECT *, (CAST(%d AS BIGINT) << 40) | row_number() OVER () AS %s FROM read_parquet(%s, hive_partitioning = false)",
			i, duck.Ident(tieColumn), duck.Quote(f))
	}
	return strings.Join(parts, " UNION ALL BY NAME "), nil
}

// batchDates returns the UTC dates of the batch's rows with the newest
// event time of each. Dates are computed from epoch microseconds, which is
// far cheaper than formatting every timestamp, flooring the division:
// DuckDB's // truncates, which filed each row before 1970 a day late.
func (w *writer) batchDates(ctx context.Context) (map[string]time.Time, error) {
	const usPerDay = 24 * 60 * 60 * 1_000_000
	rows, err := w.b.Conn.QueryContext(ctx, fmt.Sprintf("SELECT (epoch_us(%[1]s) - (epoch_us(%[1]s) %% %[2]d + %[2]d) %% %[2]d) // %[2]d AS d, max(%[1]s) FROM %[3]s GROUP BY d",
		duck.Ident(w.b.TimestampColumn), usPerDay, duck.Ident(w.b.Table)))
	if err != nil {
		return nil, fmt.Errorf("list dates: %w", err)
	}
	defer rows.Close()
	dates := map[string]time.Time{}
	for rows.Next() {
		var day int64
		var newest time.Time
		if err := rows.Scan(&day, &newest); err != nil {
			return nil, fmt.Errorf("list dates: %w", err)
		}
		dates[time.UnixMicro(day*usPerDay).UTC().Format(time.DateOnly)] = newest.UTC()
	}
	return dates, rows.Err()
}

// publish moves the staged files into their partitions and writes the next
// snapshot, which commits them.
func (w *writer) publish() error {
	for _, f := range w.staged {
		dst := filepath.Join(w.next.dir, f.Path)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(w.staging, f.Path), dst); err != nil {
			return err
		}
		if err := fsutil.SyncDir(filepath.Dir(dst)); err != nil {
			return err
		}
	}
	if w.store.failBeforeCommit != nil {
		if err := w.store.failBeforeCommit(); err != nil {
			return err
		}
	}
	for _, f := range w.cur.Files {
		if (w.b.Append || !w.touched[f.Date]) && !w.dropped[f.Path] {
			w.next.Files = append(w.next.Files, f)
		}
	}
	w.next.Files = append(w.next.Files, w.staged...)
	slices.SortFunc(w.next.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	w.next.Materialized = w.cur.Materialized
	w.next.Appended = w.cur.Appended
	switch {
	case !w.b.Append:
		w.next.Materialized = materialized(w.cur.Materialized, w.b)
	case w.b.ID != "":
		ids := append(slices.Clone(w.cur.Appended), w.b.ID)
		w.next.Appended = ids[max(0, len(ids)-maxAppendIDs):]
	}
	w.next.CreatedAt = w.store.now().UTC()
	w.next.LastRun = &Run{Start: w.b.Start.UTC(), End: w.b.End.UTC(), RowsWritten: w.rows, RowsDropped: w.b.RowsDropped, Partitions: len(w.touched), Violations: w.b.Violations}
	data, err := json.MarshalIndent(w.next, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(filepath.Join(w.next.dir, snapshotDir, snapshotName(w.next.Version)), data)
}

// collect removes snapshots older than the retention period (never the
// current one) and data files that no remaining snapshot names and that are
// older than the retention period: files replaced by a write, or left by a
// write that died before its commit. Failures are ignored: the files are
// tried again after a later write. It does its work at most once every
// tenth of the retention period per view, since it reads every snapshot
// kept.
func (s *Store) collect(dir string, cur *Snapshot) {
	now := s.now()
	s.mu.Lock()
	due := now.Sub(s.collected[dir]) >= s.retain/10
	if due {
		s.collected[dir] = now
	}
	s.mu.Unlock()
	if !due {
		return
	}
	cutoff := now.Add(-s.retain)
	live := make(map[string]bool)
	for _, f := range cur.Files {
		live[f.Path] = true
	}
	versions, _ := snapshotVersions(dir)
	for _, v := range versions {
		if v == cur.Version {
			continue
		}
		snap, err := readSnapshot(dir, v)
		if err == nil && snap.CreatedAt.After(cutoff) {
			for _, f := range snap.Files {
				live[f.Path] = true
			}
			continue
		}
		if err == nil {
			os.Remove(filepath.Join(dir, snapshotDir, snapshotName(v)))
		}
	}
	parts, _ := filepath.Glob(filepath.Join(dir, "date=*", "*.parquet"))
	for _, p := range parts {
		rel, err := filepath.Rel(dir, p)
		if err != nil || live[rel] {
			continue
		}
		if info, err := os.Stat(p); err == nil && !info.ModTime().After(cutoff) {
			os.Remove(p)
			os.Remove(filepath.Dir(p)) // only succeeds once the partition is empty
		}
	}
}

func timeLiteral(t time.Time) string {
	return "TIMESTAMPTZ " + duck.Quote(t.UTC().Format("2006-01-02 15:04:05.000000+00"))
}
