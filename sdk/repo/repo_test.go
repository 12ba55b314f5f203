package repo_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/internal/servertest"
	"github.com/almanac-fs/almanac/internal/stores"
	"github.com/almanac-fs/almanac/internal/values"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/online"
	"github.com/almanac-fs/almanac/pipelines"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/sdk/repo"
)

// fixture writes the servertest repository for the present now, applies
// it and opens it.
func fixture(t *testing.T, now time.Time) (string, *repo.Repo) {
	t.Helper()
	dir := t.TempDir()
	if err := servertest.WriteRepo(t.Context(), dir, now); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Open(dir); !errors.Is(err, repo.ErrNotApplied) {
		t.Fatalf("Open before apply: %v, want ErrNotApplied", err)
	}
	plan, err := repo.Apply(t.Context(), dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Empty() {
		t.Fatal("the first apply planned nothing")
	}
	r, err := repo.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return dir, r
}

// TestMaterializeWritesBothStores materializes the fixture through the
// package and finds its rows in the offline history and its latest values
// in the online store.
func TestMaterializeWritesBothStores(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	_, r := fixture(t, now)
	var phases []string
	results, err := r.Materialize(t.Context(), now.Add(-servertest.History), now, repo.MaterializeOptions{
		Views:    []string{"driver_stats"},
		Progress: func(p pipelines.Progress) { phases = append(phases, string(p.Phase)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].View != "driver_stats" || results[0].RowsWritten == 0 || results[0].OnlineRows == 0 {
		t.Fatalf("results = %+v, want driver_stats with rows written offline and online", results)
	}
	if !slices.Contains(phases, "done") {
		t.Errorf("progress phases %q, want them to end with done", phases)
	}
	store, err := stores.Online(r.Config(), stores.OnlineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	view := online.ViewOf(r.Definitions().View("driver_stats"))
	recs, err := store.Read(t.Context(), []online.Lookup{{View: &view, Key: []*almanacv1.Value{values.Int64(1001)}}})
	if err != nil {
		t.Fatal(err)
	}
	if !recs[0].Found || values.Go(recs[0].Values[0]) != 0.91 || !recs[0].EventTime.Equal(now.Add(-time.Hour)) {
		t.Errorf("online driver_stats of 1001: %+v, want conv_rate 0.91 at T-1h", recs[0])
	}
	if _, err := r.Materialize(t.Context(), now, now, repo.MaterializeOptions{}); err == nil {
		t.Error("Materialize of an empty range succeeded")
	}
	if _, err := r.Materialize(t.Context(), now.Add(-time.Hour), now, repo.MaterializeOptions{Views: []string{"driver_stat"}}); err == nil || !strings.Contains(err.Error(), `did you mean "driver_stats"`) {
		t.Errorf("Materialize of a misspelt view: %v, want an error suggesting driver_stats", err)
	}
}

// TestTrainingSets exports a training set from entity rows in a CSV file
// and reads the same one from entity rows in an Arrow table: both hold the
// point-in-time values and the label, row for row.
func TestTrainingSets(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	dir, r := fixture(t, now)
	if _, err := r.Materialize(t.Context(), now.Add(-servertest.History), now, repo.MaterializeOptions{OfflineOnly: true}); err != nil {
		t.Fatal(err)
	}
	// Driver 1001 has conv_rate 0.91 from T-1h (ttl 2h); 1003's only row,
	// at T-5h, is too old at T; 1005 has none; of 1004's two rows at
	// T-90m, the one created last holds 0.15.
	drivers := []int64{1001, 1003, 1005, 1004}
	times := []time.Time{now, now, now, now}
	labels := []bool{true, false, true, false}
	var csv strings.Builder
	csv.WriteString("driver_id,event_timestamp,label\n")
	for i := range drivers {
		fmt.Fprintf(&csv, "%d,%s,%t\n", drivers[i], times[i].Format(time.RFC3339), labels[i])
	}
	entityFile := filepath.Join(dir, "entities.csv")
	if err := os.WriteFile(entityFile, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	want := []string{"1001 true 0.91", "1003 false <nil>", "1005 true <nil>", "1004 false 0.15"}

	out := filepath.Join(dir, "train.parquet")
	res, err := r.Export(t.Context(), repo.TrainingSet{Features: []string{"driver_stats:conv_rate"}, EntityFile: entityFile, Dataset: "ranking_train"}, out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 4 || !slices.Equal(res.Features, []string{"driver_stats:conv_rate"}) {
		t.Errorf("export result %+v, want 4 rows of driver_stats:conv_rate", res)
	}
	if got := fileRows(t, out); !slices.Equal(got, want) {
		t.Errorf("exported rows %q, want %q", got, want)
	}

	tbl, res, err := r.Read(t.Context(), repo.TrainingSet{Features: []string{"driver_stats:conv_rate"}, Entities: entityTable(drivers, times, labels)})
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	if res.Rows != 4 || tbl.NumRows() != 4 {
		t.Errorf("read %d rows (result says %d), want 4", tbl.NumRows(), res.Rows)
	}
	if got := tableRows(t, tbl); !slices.Equal(got, want) {
		t.Errorf("read rows %q, want %q", got, want)
	}

	// The dataset was recorded with its profile; its name is then taken.
	reg, err := registry.OpenStore(r.Config().Abs(r.Config().Registry), registry.StoreOptions{}).Current()
	if err != nil {
		t.Fatal(err)
	}
	if ds := reg.GetDatasets(); len(ds) != 1 || ds[0].GetName() != "ranking_train" || ds[0].GetRowCount() != 4 {
		t.Errorf("datasets %v, want ranking_train of 4 rows", ds)
	}
	if _, err := os.Stat(filepath.Join(r.Config().Abs(r.Config().OfflineStore.Path), "datasets", "ranking_train", "profile.json")); err != nil {
		t.Errorf("profile of the dataset: %v", err)
	}
	again := repo.TrainingSet{Features: []string{"driver_stats:conv_rate"}, EntityFile: entityFile, Dataset: "ranking_train"}
	if _, err := r.Export(t.Context(), again, out); !errors.Is(err, registry.ErrExists) {
		t.Errorf("export to a recorded dataset's name: %v, want ErrExists", err)
	}
	again.Overwrite = true
	if _, err := r.Export(t.Context(), again, out); err != nil {
		t.Errorf("export with Overwrite: %v", err)
	}
}

// TestTrainingSetMistakes checks that a training set asked for wrongly is
// refused with a message saying what to fix, before any work.
func TestTrainingSetMistakes(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	dir, r := fixture(t, now)
	entities := entityTable([]int64{1001}, []time.Time{now}, []bool{true})
	defer entities.Release()
	for _, tc := range []struct {
		name string
		ts   repo.TrainingSet
		want string
	}{
		{"no features", repo.TrainingSet{Entities: entities}, "set FeatureService or Features"},
		{"service and features", repo.TrainingSet{FeatureService: servertest.DriverRanking, Features: []string{"driver_stats"}, Entities: entities}, "not both"},
		{"unknown service", repo.TrainingSet{FeatureService: "driver_ranking_v2", Entities: entities}, `did you mean "driver_ranking_v1"`},
		{"bad reference", repo.TrainingSet{Features: []string{"driver_stats:"}, Entities: entities}, "driver_stats:"},
		{"unknown feature", repo.TrainingSet{Features: []string{"driver_stats:conv"}, Entities: entities}, `no feature "conv"`},
		{"no entities", repo.TrainingSet{Features: []string{"driver_stats"}}, "set EntityFile or Entities"},
		{"two kinds of entities", repo.TrainingSet{Features: []string{"driver_stats"}, Entities: entities, EntityFile: "rows.csv"}, "not both"},
		{"entities without event time", repo.TrainingSet{Features: []string{"driver_stats"}, Entities: entities, TimestampColumn: "ts"}, `entity rows of the Entities table: no event-time column "ts"`},
		{"read into a dataset", repo.TrainingSet{Features: []string{"driver_stats"}, Entities: entities, Dataset: "x"}, "use Export"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tbl, _, err := r.Read(t.Context(), tc.ts)
			if err == nil {
				tbl.Release()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "rows.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rows.csv: %v", err)
	}
}

// entityTable builds entity rows: driver_id, event_timestamp and label.
func entityTable(drivers []int64, times []time.Time, labels []bool) arrow.Table {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "driver_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "label", Type: arrow.FixedWidthTypes.Boolean},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := range drivers {
		b.Field(0).(*array.Int64Builder).Append(drivers[i])
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(times[i].UnixMicro()))
		b.Field(2).(*array.BooleanBuilder).Append(labels[i])
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
}

// tableRows renders a training set's rows as "driver_id label conv_rate".
func tableRows(t *testing.T, tbl arrow.Table) []string {
	t.Helper()
	tr := array.NewTableReader(tbl, 0)
	defer tr.Release()
	col := func(rec arrow.RecordBatch, name string) arrow.Array {
		idx := rec.Schema().FieldIndices(name)
		if len(idx) != 1 {
			t.Fatalf("training set has no column %q: %s", name, rec.Schema())
		}
		return rec.Column(idx[0])
	}
	var out []string
	for tr.Next() {
		rec := tr.RecordBatch()
		ids, labels, conv := col(rec, "driver_id").(*array.Int64), col(rec, "label").(*array.Boolean), col(rec, "conv_rate").(*array.Float64)
		for i := range int(rec.NumRows()) {
			var v any
			if conv.IsValid(i) {
				v = conv.Value(i)
			}
			out = append(out, fmt.Sprintf("%d %t %v", ids.Value(i), labels.Value(i), v))
		}
	}
	return out
}

// fileRows renders the rows of a training-set file as tableRows does,
// reading it with DuckDB.
func fileRows(t *testing.T, path string) []string {
	t.Helper()
	db, err := duck.Open(duck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), "SELECT driver_id, label, conv_rate FROM read_parquet("+duck.Quote(path)+")")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id int64
		var label bool
		var conv any
		if err := rows.Scan(&id, &label, &conv); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d %t %v", id, label, conv))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSameMistakeSameMessage checks that a misspelt view, feature or
// feature service reads the same on every path that resolves it: a lookup
// on the feature server, an export from the offline store, a training set
// and a materialization through this package.
func TestSameMistakeSameMessage(t *testing.T) {
	env := servertest.Start(t, servertest.Options{})
	r, err := repo.Open(env.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	conn, err := grpc.NewClient(env.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := almanacv1.NewFeatureServerClient(conn)
	entities := entityTable([]int64{1001}, []time.Time{env.Now}, []bool{true})
	defer entities.Release()

	lookup := func(req *almanacv1.GetOnlineFeaturesRequest) string {
		req.Entities = map[string]*almanacv1.RepeatedValue{"driver_id": {Val: []*almanacv1.Value{values.Int64(1001)}}}
		_, err := client.GetOnlineFeatures(t.Context(), req)
		return status.Convert(err).Message()
	}
	export := func(refs []string) string {
		parsed, err := registry.ParseFeatureRefs(refs)
		if err != nil {
			t.Fatal(err)
		}
		_, err = env.Offline.Export(t.Context(), env.DB, offline.ExportRequest{Defs: r.Definitions(), Refs: parsed, EntityPath: "unused.parquet", OutPath: filepath.Join(t.TempDir(), "out.parquet")})
		return message(err)
	}
	read := func(ts repo.TrainingSet) string {
		ts.Entities = entities
		tbl, _, err := r.Read(t.Context(), ts)
		if err == nil {
			tbl.Release()
		}
		return message(err)
	}
	materialize := func(views ...string) string {
		_, err := r.Materialize(t.Context(), env.Now.Add(-time.Hour), env.Now, repo.MaterializeOptions{Views: views})
		return message(err)
	}
	for _, tc := range []struct {
		name  string
		paths map[string]string // path: its message
		want  string
	}{
		{
			name: "misspelt view",
			paths: map[string]string{
				"lookup":      lookup(&almanacv1.GetOnlineFeaturesRequest{Kind: &almanacv1.GetOnlineFeaturesRequest_Features{Features: &almanacv1.FeatureList{Val: []string{"driver_stat:conv_rate"}}}}),
				"export":      export([]string{"driver_stat:conv_rate"}),
				"training":    read(repo.TrainingSet{Features: []string{"driver_stat:conv_rate"}}),
				"materialize": materialize("driver_stat"),
			},
			want: `feature view "driver_stat" not found; did you mean "driver_stats"?`,
		},
		{
			name: "misspelt feature",
			paths: map[string]string{
				"lookup":   lookup(&almanacv1.GetOnlineFeaturesRequest{Kind: &almanacv1.GetOnlineFeaturesRequest_Features{Features: &almanacv1.FeatureList{Val: []string{"driver_stats:conv_rat"}}}}),
				"export":   export([]string{"driver_stats:conv_rat"}),
				"training": read(repo.TrainingSet{Features: []string{"driver_stats:conv_rat"}}),
			},
			want: `feature view "driver_stats" has no feature "conv_rat"; did you mean "conv_rate"?`,
		},
		{
			name: "misspelt feature service",
			paths: map[string]string{
				"lookup":   lookup(&almanacv1.GetOnlineFeaturesRequest{Kind: &almanacv1.GetOnlineFeaturesRequest_FeatureService{FeatureService: "driver_ranking_v2"}}),
				"training": read(repo.TrainingSet{FeatureService: "driver_ranking_v2"}),
			},
			want: `feature service "driver_ranking_v2" not found; did you mean "driver_ranking_v1"?`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for path, got := range tc.paths {
				if got != tc.want {
					t.Errorf("%s: got %q, want %q", path, got, tc.want)
				}
			}
		})
	}
}

// message is err's message, or "no error".
func message(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}
