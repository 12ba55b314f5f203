package offline

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/almanac-fs/almanac/registry"
)

// Snapshot is one committed state of a view's history: the files that hold
// it and the event-time ranges materialized into it. Snapshots are written
// once and never changed; the newest is the view's current state.
type Snapshot struct {
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	// TimestampColumn and CreatedColumn name the event-time and (optional)
	// created-time columns of the files.
	TimestampColumn string     `json:"timestamp_column"`
	CreatedColumn   string     `json:"created_column,omitempty"`
	Files           []File     `json:"files"`
	Materialized    []Interval `json:"materialized"`
	LastRun         *Run       `json:"last_run,omitempty"`
	// Appended are the IDs of the latest appends (Batch.ID), oldest first,
	// at most maxAppendIDs of them.
	Appended []string `json:"appended,omitempty"`

	dir string // the view's directory
}

// File is one Parquet file of a view's history.
type File struct {
	Path string `json:"path"` // relative to the view's directory
	Date string `json:"date"` // the UTC event date of every row: YYYY-MM-DD
	Rows int64  `json:"rows"`
	// Newest is the greatest event time in the file.
	Newest time.Time `json:"newest"`
	// Columns identifies the file's column names and types; files with the
	// same Columns can be merged. Empty in files written before it existed.
	Columns string `json:"columns,omitempty"`
}

// Interval is a range of event times [Start, End).
type Interval struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Run describes the write that produced a snapshot.
type Run struct {
	Start       time.Time   `json:"start"`
	End         time.Time   `json:"end"`
	RowsWritten int64       `json:"rows_written"`
	RowsDropped int64       `json:"rows_dropped"`
	Partitions  int         `json:"partitions"`
	Violations  []Violation `json:"violations,omitempty"`
}

// Violation is a data-quality expectation that a run's rows broke.
type Violation struct {
	Feature string `json:"feature,omitempty"` // empty for rules on the whole row
	Rule    string `json:"rule"`              // min, max, allowed_values, max_null_fraction, not_null_keys
	Rows    int64  `json:"rows"`              // rows breaking it
	Detail  string `json:"detail"`
}

// Paths returns the absolute paths of the snapshot's files.
func (s *Snapshot) Paths() []string {
	out := make([]string, len(s.Files))
	for i, f := range s.Files {
		out[i] = filepath.Join(s.dir, f.Path)
	}
	return out
}

// Rows returns the number of rows in the snapshot.
func (s *Snapshot) Rows() int64 {
	var n int64
	for _, f := range s.Files {
		n += f.Rows
	}
	return n
}

// Newest returns the greatest event time the view's history holds, or the
// zero time when it is empty.
func (s *Snapshot) Newest() time.Time {
	var n time.Time
	for _, f := range s.Files {
		if f.Newest.After(n) {
			n = f.Newest
		}
	}
	return n
}

// Watermark returns the end of the latest materialized range, or the zero
// time when nothing was materialized.
func (s *Snapshot) Watermark() time.Time {
	var w time.Time
	for _, iv := range s.Materialized {
		if iv.End.After(w) {
			w = iv.End
		}
	}
	return w
}

// mergeIntervals returns the union of ivs as sorted, non-overlapping ranges.
func mergeIntervals(ivs []Interval) []Interval {
	sorted := slices.Clone(ivs)
	slices.SortFunc(sorted, func(a, b Interval) int { return a.Start.Compare(b.Start) })
	var out []Interval
	for _, iv := range sorted {
		if n := len(out); n > 0 && !iv.Start.After(out[n-1].End) {
			if iv.End.After(out[n-1].End) {
				out[n-1].End = iv.End
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

const snapshotDir = "_snapshots"

func snapshotName(v int64) string { return fmt.Sprintf("%010d.json", v) }

// snapshotVersions lists the versions in a view's snapshot directory.
func snapshotVersions(viewDir string) ([]int64, error) {
	entries, err := os.ReadDir(filepath.Join(viewDir, snapshotDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	var out []int64
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(base, ".") {
			continue
		}
		if v, err := strconv.ParseInt(base, 10, 64); err == nil {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, cmp.Compare)
	return out, nil
}

func readSnapshot(viewDir string, v int64) (*Snapshot, error) {
	path := filepath.Join(viewDir, snapshotDir, snapshotName(v))
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	s, err := decodeSnapshot(path, data, v)
	if err != nil {
		return nil, err
	}
	s.dir = viewDir
	return s, nil
}

// decodeSnapshot decodes data, the snapshot of version v read from path,
// which errors name.
func decodeSnapshot(path string, data []byte, v int64) (*Snapshot, error) {
	s := &Snapshot{}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("%w: snapshot %s: %s", ErrCorrupt, path, clipDetail(err))
	}
	if s.Version != v {
		return nil, fmt.Errorf("%w: snapshot %s holds version %d", ErrCorrupt, path, s.Version)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("%w: snapshot %s: %v", ErrCorrupt, path, err)
	}
	return s, nil
}

// clipDetail bounds the message of a decoding error, which may quote a
// value of the file whole (a time, a number too big), to its first 240
// bytes.
func clipDetail(err error) string {
	s := err.Error()
	if len(s) <= 240 {
		return s
	}
	return strings.ToValidUTF8(s[:240], "") + "…"
}

// check reports what makes a decoded snapshot unusable: a file outside the
// view's directory, which readers would read and writers merge, a file
// without a valid date or with a negative row count.
func (s *Snapshot) check() error {
	for i, f := range s.Files {
		switch {
		case !filepath.IsLocal(f.Path):
			return fmt.Errorf("file %d: path %q is not inside the view's directory", i, registry.Clip(f.Path))
		case f.Rows < 0:
			return fmt.Errorf("file %s: %d rows", registry.Clip(f.Path), f.Rows)
		}
		if _, err := time.Parse(time.DateOnly, f.Date); err != nil {
			return fmt.Errorf("file %s: date %q is not YYYY-MM-DD", registry.Clip(f.Path), registry.Clip(f.Date))
		}
	}
	return nil
}
