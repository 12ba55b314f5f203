package server_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/internal/servertest"
	"github.com/almanac-fs/almanac/sdk"
)

// TestFeatureLogSamplesLookups runs concurrent lookups of a service with
// the default sample rate (0.1) and checks that about a tenth of them reach
// the log, that every logged row is in a readable Parquet file, and that no
// lookup failed meanwhile.
func TestFeatureLogSamplesLookups(t *testing.T) {
	env := servertest.Start(t, servertest.Options{FeatureLog: true})
	c := dial(t, env.Addr)
	const workers, each = 8, 250
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				_, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: "driver_ranking_v1", Entities: drivers(int64(1001 + (w*each+i)%5))})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("lookup while logging: %v", err)
	}
	db, log := closedLog(t, env, "driver_ranking_v1")
	var rows int64
	if err := db.QueryRow("SELECT count(*) FROM " + log).Scan(&rows); err != nil {
		t.Fatalf("read the log: %v", err)
	}
	// 2000 lookups of one row each, each logged with probability 0.1: the
	// count is binomial with mean 200 and standard deviation about 13.4;
	// five of those either way fail by chance less than once in a million.
	if rows < 133 || rows > 267 {
		t.Errorf("logged %d of %d lookups, want about a tenth", rows, workers*each)
	}
	if got := env.FeatureLog.Dropped(); got != 0 {
		t.Errorf("dropped %d rows with an idle buffer", got)
	}

	// Every logged row of a driver holds what its lookup answered: the
	// fixture's drivers cover PRESENT, NULL_VALUE and NOT_FOUND.
	want, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: "driver_ranking_v1", Entities: drivers(1001, 1002, 1003, 1004, 1005)})
	if err != nil {
		t.Fatal(err)
	}
	q := fmt.Sprintf(`SELECT DISTINCT driver_id, driver_stats__conv_rate, driver_stats__conv_rate__status,
		driver_stats__acc_rate, driver_stats__acc_rate__status FROM %s ORDER BY driver_id`, log)
	logged, err := db.Query(q)
	if err != nil {
		t.Fatalf("read the log: %v", err)
	}
	defer logged.Close()
	seen := 0
	for logged.Next() {
		var id int64
		var conv, acc sql.NullFloat64
		var convStatus, accStatus string
		if err := logged.Scan(&id, &conv, &convStatus, &acc, &accStatus); err != nil {
			t.Fatal(err)
		}
		row := int(id - 1001)
		if row < 0 || row >= want.Len() || row != seen {
			t.Fatalf("logged driver %d, want each of 1001 to 1005 once with one set of values", id)
		}
		seen++
		for _, f := range []struct {
			name   string
			got    sql.NullFloat64
			status string
		}{{"conv_rate", conv, convStatus}, {"acc_rate", acc, accStatus}} {
			c, err := want.Cell(row, f.name)
			if err != nil {
				t.Fatal(err)
			}
			wantValue := sql.NullFloat64{Valid: c.Value != nil}
			switch x := c.Value.(type) {
			case float64:
				wantValue.Float64 = x
			case float32: // compare as float32
				wantValue.Float64 = float64(x)
				f.got.Float64 = float64(float32(f.got.Float64))
			}
			if f.got != wantValue || f.status != c.Status.String() {
				t.Errorf("driver %d, %s: logged %v (%s), lookup gave %v (%s)", id, f.name, f.got, f.status, wantValue, c.Status)
			}
		}
	}
	if err := logged.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != want.Len() {
		t.Errorf("logged %d drivers, want %d", seen, want.Len())
	}
}

// closedLog closes env's feature log and returns a DuckDB database, closed
// when the test ends, and the table expression of service's logged rows.
func closedLog(t *testing.T, env *servertest.Env, service string) (*duck.DB, string) {
	t.Helper()
	if err := env.FeatureLog.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(env.Offline.LogDir(service), "date=*", "*.parquet"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no log files: %v", err)
	}
	db, err := duck.Open(duck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, fmt.Sprintf("read_parquet(%s)", duck.QuoteList(files))
}
