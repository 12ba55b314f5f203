package offline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// viewDir is the directory of a view's history.
func (s *Store) viewDir(view string) string { return filepath.Join(s.dir, "views", view) }

// ProfilePath returns where the profile of dataset's training set is kept.
func (s *Store) ProfilePath(dataset string) string {
	return filepath.Join(s.dir, "datasets", dataset, "profile.json")
}

// DriftReportPath returns where the last drift report of dataset is kept.
func (s *Store) DriftReportPath(dataset string) string {
	return filepath.Join(s.dir, "drift", dataset+".json")
}

// DriftReportPaths returns the paths of every drift report kept, sorted.
func (s *Store) DriftReportPaths() ([]string, error) { return filepath.Glob(s.DriftReportPath("*")) }

// DeadLetterDir returns the directory of the messages of source that could
// not be taken, partitioned by the date they were received.
func (s *Store) DeadLetterDir(source string) string {
	return filepath.Join(s.dir, "dead_letters", source)
}

// logsDir is the directory of every service's logged lookups.
func (s *Store) logsDir() string { return filepath.Join(s.dir, "logs") }

// LogDir returns the directory of a service's logged lookups.
func (s *Store) LogDir(service string) string { return filepath.Join(s.logsDir(), service) }

// datePrefix starts the name of the directory of the files of one UTC date:
// date=YYYY-MM-DD.
const datePrefix = "date="

// LogFile is one complete file of a service's logged lookups.
type LogFile struct {
	Path string
	Date string // the UTC date of its lookups, YYYY-MM-DD
}

// LogFiles returns the complete files of service's logged lookups whose
// dates overlap [start, end), oldest first; a zero end leaves the window
// open. Hidden files, still being written or left by a log that died, are
// not among them. A service that logged nothing has no files.
func (s *Store) LogFiles(service string, start, end time.Time) ([]LogFile, error) {
	dir := s.LogDir(service)
	days, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list logged lookups of %q: %w", service, err)
	}
	first := start.UTC().Truncate(24 * time.Hour)
	var out []LogFile
	for _, d := range days { // sorted by name, so by date
		date, ok := strings.CutPrefix(d.Name(), datePrefix)
		day, err := time.Parse(time.DateOnly, date)
		if !ok || err != nil || !d.IsDir() || day.Before(first) || (!end.IsZero() && !day.Before(end)) {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, d.Name()))
		if err != nil {
			return nil, fmt.Errorf("list logged lookups of %q: %w", service, err)
		}
		for _, f := range files {
			if name := f.Name(); strings.HasSuffix(name, ".parquet") && !strings.HasPrefix(name, ".") {
				out = append(out, LogFile{Path: filepath.Join(dir, d.Name(), name), Date: date})
			}
		}
	}
	return out, nil
}
