package repo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/internal/fsutil"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/registry"
)

// Errors of Export.
var (
	// ErrOutputExists is returned when the output file exists and the
	// training set does not set Overwrite.
	ErrOutputExists = errors.New("repo: output file exists")
	// ErrOutputProtected is returned, whatever Overwrite says, when the
	// output is the export's own entity file or lies in the repository's
	// .almanac directory, registry or stores.
	ErrOutputProtected = errors.New("repo: output path not allowed")
	// ErrUnmatched is returned by a Strict export when some feature has no
	// value in any entity row.
	ErrUnmatched = errors.New("repo: features without a value in any row")
)

// ExportResult describes a written training set.
type ExportResult struct {
	offline.ExportResult
	// Unmatched are the features, by view, that no entity row has a
	// value of. A row's value is null when no row of the view matched it,
	// or when the row that matched holds null, so a feature is listed
	// when every row is null.
	Unmatched []Unmatched
}

// Unmatched are the features of one view that no row of a training set
// has a value of.
type Unmatched struct {
	View     string
	Features []string // "view:feature"
	// Reason says what likely left them empty and what to do about it.
	Reason string
}

// String describes u in one line.
func (u Unmatched) String() string {
	return fmt.Sprintf("%s (%s)", strings.Join(u.Features, ", "), u.Reason)
}

// checkOutput refuses an output path that is the export's entity file or
// lies in the repository's .almanac directory, registry or stores, and
// one that exists unless replace. Paths are compared with their symbolic
// links resolved, and an existing output with the entity file by identity,
// so that neither a link nor a second name of a file gets past the check.
func (r *Repo) checkOutput(out, entities string, replace bool) error {
	info, err := os.Lstat(out)
	exists := err == nil
	switch {
	case exists && info.IsDir():
		return fmt.Errorf("output %s is a directory; name a file to write", clip(out))
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("check output %s: %w", clip(out), unwrapPath(err))
	}
	real := realPath(out)
	if entities != "" {
		same := real == realPath(entities)
		if in, err := os.Stat(entities); err == nil && exists {
			if target, err := os.Stat(out); err == nil && os.SameFile(in, target) {
				same = true
			}
		}
		if same {
			return fmt.Errorf("output %s is the entity file %s: %w; write the training set to another file", clip(out), clip(entities), ErrOutputProtected)
		}
	}
	for _, p := range r.protected() {
		if within(real, realPath(p.path)) {
			return fmt.Errorf("output %s is in %s (%s): %w; write the training set outside it", clip(out), p.what, p.path, ErrOutputProtected)
		}
	}
	if exists && !replace {
		return fmt.Errorf("output %s: %w; choose another file or set Overwrite to replace it", clip(out), ErrOutputExists)
	}
	return nil
}

// protectedPath is a file or directory of the repository that no export
// may write.
type protectedPath struct{ what, path string }

// protected lists the repository's .almanac directory and the stores
// its settings may place elsewhere.
func (r *Repo) protected() []protectedPath {
	out := []protectedPath{
		{"the repository's .almanac directory", filepath.Join(r.cfg.Dir, ".almanac")},
		{"the registry", r.cfg.Abs(r.cfg.Registry)},
		{"the offline store", r.cfg.Abs(r.cfg.OfflineStore.Path)},
	}
	if r.cfg.OnlineStore.Type == registry.OnlineLocal {
		out = append(out, protectedPath{"the online store", r.cfg.Abs(r.cfg.OnlineStore.Path)})
	}
	return out
}

// realPath returns path made absolute with its symbolic links resolved as
// far as the path exists, following links whose target does not exist yet
// too, since the export may create it.
func realPath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	for range maxLinks {
		dir, rest := abs, ""
		for {
			if real, err := filepath.EvalSymlinks(dir); err == nil {
				return filepath.Join(real, rest)
			}
			if target, err := os.Readlink(dir); err == nil {
				if !filepath.IsAbs(target) {
					target = filepath.Join(filepath.Dir(dir), target)
				}
				abs = filepath.Join(target, rest)
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return abs
			}
			rest = filepath.Join(filepath.Base(dir), rest)
			dir = parent
		}
	}
	return abs
}

// maxLinks bounds the links realPath follows, as the kernel does, so that
// a cycle of links ends.
const maxLinks = 40

// within reports whether path is root or lies under it.
func within(path, root string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// unwrapPath returns the cause of a *fs.PathError, whose message would
// repeat a path that is quoted already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// clip bounds how much of a path a message quotes: whole when it is no
// longer than a path can be (4096 bytes on Linux), else its start.
func clip(path string) string {
	if len(path) <= 4096 {
		return path
	}
	return registry.Clip(path)
}

// tempOutput reserves a hidden file beside out for the training set to be
// written to before it is published.
func tempOutput(out string) (string, error) {
	dir := filepath.Dir(out)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create output directory: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("create output: %w", err)
	}
	return f.Name(), f.Close()
}

// publish moves the complete training set at tmp to out, durably: fsync,
// rename, fsync of the directory. Without replace, it checks once more
// that out does not exist, as an export may take long.
func publish(tmp, out string, replace bool) error {
	if !replace {
		if _, err := os.Lstat(out); err == nil {
			return fmt.Errorf("output %s: %w; choose another file or set Overwrite to replace it", clip(out), ErrOutputExists)
		}
	}
	f, err := os.Open(tmp)
	if err != nil {
		return fmt.Errorf("write %s: %w", clip(out), err)
	}
	err = errors.Join(f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(tmp, out)
	}
	if err == nil {
		err = fsutil.SyncDir(filepath.Dir(out))
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", clip(out), err)
	}
	return nil
}

// unmatched returns, by view, the features of the training set res
// written at path that hold no value in any of its rows, with what likely
// left them empty.
func (r *Repo) unmatched(ctx context.Context, path string, res *offline.ExportResult) ([]Unmatched, error) {
	if res.Rows == 0 || len(res.Features) == 0 {
		return nil, nil
	}
	// The feature columns come last, in the order of res.Features.
	cols := res.Columns[len(res.Columns)-len(res.Features):]
	counts := make([]int64, len(cols))
	exprs := make([]string, len(cols))
	dest := make([]any, len(cols))
	for i, c := range cols {
		exprs[i] = "count(" + duck.Ident(c) + ")"
		dest[i] = &counts[i]
	}
	q := fmt.Sprintf("SELECT %s FROM read_parquet(%s)", strings.Join(exprs, ", "), duck.Quote(path))
	if err := r.db.QueryRowContext(ctx, q).Scan(dest...); err != nil {
		return nil, fmt.Errorf("count the training set's values: %w", err)
	}
	var out []Unmatched
	byView := map[string]int{}
	for i, ref := range res.Features {
		if counts[i] > 0 {
			continue
		}
		view, _, _ := strings.Cut(ref, ":")
		k, ok := byView[view]
		if !ok {
			reason, err := r.unmatchedReason(view, res)
			if err != nil {
				return nil, err
			}
			k = len(out)
			byView[view] = k
			out = append(out, Unmatched{View: view, Reason: reason})
		}
		out[k].Features = append(out[k].Features, ref)
	}
	return out, nil
}

// unmatchedReason says why a view's features likely have no value in the
// rows of res.
func (r *Repo) unmatchedReason(view string, res *offline.ExportResult) (string, error) {
	snap, err := r.offline.Snapshot(view)
	if errors.Is(err, offline.ErrNoData) {
		return fmt.Sprintf("feature view %q has no history; materialize it", view), nil
	}
	if err != nil {
		return "", err
	}
	if snap.Rows() == 0 {
		return fmt.Sprintf("feature view %q has an empty history; check its source and materialize the range of these rows' event times", view), nil
	}
	ttl := ""
	if v := r.defs.View(view); v != nil && v.TTL > 0 {
		ttl = " within its ttl of " + registry.FormatDuration(v.TTL)
	}
	return fmt.Sprintf("feature view %q has no non-null value for these rows' join keys at or before their event times%s (its history ends at %s; the rows' times span %s .. %s); materialize the range they need or check their join keys",
		view, ttl, snap.Newest().Format(time.RFC3339), res.Start.Format(time.RFC3339), res.End.Format(time.RFC3339)), nil
}
