package registry

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
)

func loadDefs(t *testing.T, defs string) *Definitions {
	t.Helper()
	dir := writeRepo(t, map[string]string{"almanac.yaml": goodConfig, "defs.yaml": defs})
	repo, err := Load(context.Background(), dir, LoadOptions{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return repo.Defs
}

func TestApplyPlanCycle(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	store := OpenStore(t.TempDir(), StoreOptions{Now: func() time.Time { return clock }})

	defs := loadDefs(t, goodDefs)
	plan, reg, err := Apply(ctx, store, "rides", defs, false)
	if err != nil {
		t.Fatalf("first apply: %v", err)
	}
	if got, want := plan.Summary(), "4 to add, 0 to change, 0 to remove"; got != want {
		t.Errorf("first plan = %q, want %q", got, want)
	}
	if got, want := reg.GetVersion(), int64(1); got != want {
		t.Errorf("version = %d, want %d", got, want)
	}

	// The same definitions again: nothing to do, no new version.
	plan, reg, err = Apply(ctx, store, "rides", loadDefs(t, goodDefs), false)
	if err != nil || !plan.Empty() || reg.GetVersion() != 1 {
		t.Fatalf("second apply: plan %v, version %d, err %v; want empty plan, version 1", plan.Changes, reg.GetVersion(), err)
	}

	// A feature's type changes: exactly that change, refused without --yes.
	changed := loadDefs(t, strings.Replace(goodDefs, "{name: acc_rate, type: float32}", "{name: acc_rate, type: float64}", 1))
	cur, _ := store.Current()
	plan, err = MakePlan("rides", cur, changed)
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{{Kind: "feature view", Name: "driver_stats", Op: OpChange, Destructive: true, Note: noteOnlineRecords,
		Fields: []FieldChange{{Field: "features.acc_rate.type", Old: "float32", New: "float64", Destructive: true}}}}
	if !equalChanges(plan.Changes, want) {
		t.Fatalf("plan = %+v, want %+v", plan.Changes, want)
	}
	before := readDir(t, store.Dir())
	if _, _, err := Apply(ctx, store, "rides", changed, false); !errors.Is(err, ErrDestructive) {
		t.Fatalf("apply of a type change without --yes: %v, want ErrDestructive", err)
	}
	if after := readDir(t, store.Dir()); !equalDirs(before, after) {
		t.Fatal("a refused apply changed the stored registry")
	}
	clock = clock.Add(time.Hour)
	if _, reg, err = Apply(ctx, store, "rides", changed, true); err != nil || reg.GetVersion() != 2 {
		t.Fatalf("apply --yes: version %d, err %v; want version 2", reg.GetVersion(), err)
	}

	hist, err := store.History()
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[1].GetSummary() != "0 to add, 1 to change, 0 to remove" || !hist[1].GetCreatedAt().AsTime().Equal(clock) {
		t.Fatalf("history = %v", hist)
	}
	if hist[0].GetContentHash() == hist[1].GetContentHash() {
		t.Error("different content has the same hash")
	}
}

func TestPlanChanges(t *testing.T) {
	base := loadDefs(t, goodDefs)
	cur := base.ToProto("rides")
	cur.Version = 3
	for _, tc := range []struct {
		name string
		defs string
		want []Change
	}{
		{"same", goodDefs, nil},
		{"ttl changed", strings.Replace(goodDefs, "ttl: 2d", "ttl: 36h", 1), []Change{{Kind: "feature view", Name: "driver_stats", Op: OpChange,
			Fields: []FieldChange{{Field: "ttl", Old: "2d", New: "36h"}, {Field: "stale_retention", Old: "2d", New: "36h"}}}}},
		{"stale retention set", strings.Replace(goodDefs, "ttl: 2d", "ttl: 2d\nstale_retention: 6h", 1), []Change{{Kind: "feature view", Name: "driver_stats", Op: OpChange,
			Fields: []FieldChange{{Field: "stale_retention", Old: "2d", New: "6h"}}}}},
		{"stale retention zero", strings.Replace(goodDefs, "ttl: 2d", "ttl: 2d\nstale_retention: 0", 1), []Change{{Kind: "feature view", Name: "driver_stats", Op: OpChange,
			Fields: []FieldChange{{Field: "stale_retention", Old: "2d", New: "0"}}}}},
		{"stale retention as the ttl", strings.Replace(goodDefs, "ttl: 2d", "ttl: 2d\nstale_retention: 2d", 1), nil},
		{"ttl removed", strings.Replace(goodDefs, "ttl: 2d\n", "", 1), []Change{{Kind: "feature view", Name: "driver_stats", Op: OpChange,
			Fields: []FieldChange{{Field: "ttl", Old: "2d"}, {Field: "stale_retention", Old: "2d"}}}}},
		{"feature added", strings.Replace(goodDefs, "  - {name: embedding", "  - {name: trips, type: int64}\n  - {name: embedding", 1), []Change{{Kind: "feature view", Name: "driver_stats", Op: OpChange, Note: noteOnlineRecords,
			Fields: []FieldChange{
				{Field: "features", Old: "conv_rate, acc_rate, embedding", New: "conv_rate, acc_rate, trips, embedding"},
				{Field: "features.trips.type", New: "int64"}}}}},
		{"feature added, offline only", strings.Replace(strings.Replace(goodDefs, "  - {name: embedding", "  - {name: trips, type: int64}\n  - {name: embedding", 1), "ttl: 2d", "ttl: 2d\nonline: false", 1),
			[]Change{{Kind: "feature view", Name: "driver_stats", Op: OpChange,
				Fields: []FieldChange{
					{Field: "features", Old: "conv_rate, acc_rate, embedding", New: "conv_rate, acc_rate, trips, embedding"},
					{Field: "features.trips.type", New: "int64"},
					{Field: "online", Old: "true", New: "false"}}}}},
		{"feature removed", strings.Replace(goodDefs, "  - {name: embedding, type: list<float32>}\n", "", 1), []Change{{Kind: "feature view", Name: "driver_stats", Op: OpChange, Destructive: true, Note: noteOnlineRecords,
			Fields: []FieldChange{
				{Field: "features", Old: "conv_rate, acc_rate, embedding", New: "conv_rate, acc_rate"},
				{Field: "features.embedding.type", Old: "list<float32>", Destructive: true}}}}},
		{"features reordered", strings.Replace(goodDefs, "  - {name: conv_rate, type: float64}\n  - {name: acc_rate, type: float32}", "  - {name: acc_rate, type: float32}\n  - {name: conv_rate, type: float64}", 1),
			[]Change{{Kind: "feature view", Name: "driver_stats", Op: OpChange, Note: noteOnlineRecords,
				Fields: []FieldChange{{Field: "features", Old: "conv_rate, acc_rate, embedding", New: "acc_rate, conv_rate, embedding"}}}}},
		{"tag changed", strings.Replace(goodDefs, "team: pricing", "team: ranking", 1), []Change{{Kind: "feature view", Name: "driver_stats", Op: OpChange,
			Fields: []FieldChange{{Field: "tags.team", Old: "pricing", New: "ranking"}}}}},
		{"service removed", goodDefs[:strings.Index(goodDefs, "---\nkind: FeatureService")], []Change{{Kind: "feature service", Name: "ranking", Op: OpRemove, Destructive: true}}},
		{"entity added", goodDefs + "---\nkind: Entity\nname: customer\njoin_keys: [{name: customer_id, type: string}]\n", []Change{{Kind: "entity", Name: "customer", Op: OpAdd,
			Fields: []FieldChange{{Field: "join_keys.customer_id.type", New: "string"}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := MakePlan("rides", cur, loadDefs(t, tc.defs))
			if err != nil {
				t.Fatal(err)
			}
			if !equalChanges(plan.Changes, tc.want) {
				t.Errorf("changes:\n got %+v\nwant %+v", plan.Changes, tc.want)
			}
			if got, want := plan.FromVersion, int64(3); got != want {
				t.Errorf("from version = %d, want %d", got, want)
			}
		})
	}
}

func TestPlanText(t *testing.T) {
	cur := loadDefs(t, goodDefs).ToProto("rides")
	cur.Version = 1
	plan, err := MakePlan("rides", cur, loadDefs(t, strings.Replace(goodDefs, "{name: acc_rate, type: float32}", "{name: acc_rate, type: float64}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := plan.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `Plan for project "rides" (registry version 1 -> 2):

  ~ feature view driver_stats  (destructive)
      features.acc_rate.type: float32 -> float64  (destructive)
      note: the view's online values read as not found until it is materialized again (its features changed: names, types or order)

0 to add, 1 to change, 0 to remove. 1 destructive change(s) need --yes.
`
	if got := b.String(); got != want {
		t.Errorf("plan text:\n%s\nwant:\n%s", got, want)
	}
}

func TestStoreCorruptVersion(t *testing.T) {
	ctx := context.Background()
	store := OpenStore(t.TempDir(), StoreOptions{})
	if _, _, err := Apply(ctx, store, "rides", loadDefs(t, goodDefs), false); err != nil {
		t.Fatal(err)
	}
	path := store.path(1)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"truncated", data[:len(data)-10]},
		{"header only", data[:10]},
		{"flipped byte", append(append([]byte{}, data[:len(data)-1]...), data[len(data)-1]^0xff)},
		{"empty", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := store.Current(); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Current of a %s file: %v, want ErrCorrupt", tc.name, err)
			}
			changed := loadDefs(t, strings.Replace(goodDefs, "ttl: 2d", "ttl: 3d", 1))
			if _, _, err := Apply(ctx, store, "rides", changed, true); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Apply over a %s file: %v, want ErrCorrupt", tc.name, err)
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, tc.data) {
				t.Fatal("the corrupt file was replaced")
			}
			if vs, _ := store.versions(); len(vs) != 1 {
				t.Fatalf("versions after refused apply = %v, want [1]", vs)
			}
		})
	}
}

// TestStoreConcurrentApply runs applies from many goroutines, each taking the
// file lock on its own descriptor as separate processes would: every one must
// land as its own version and none may be lost or torn.
func TestStoreConcurrentApply(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			defs := loadDefs(t, strings.Replace(goodDefs, "ttl: 2d", "ttl: "+time.Duration(i+1).String(), 1))
			_, _, err := Apply(ctx, OpenStore(dir, StoreOptions{}), "rides", defs, false)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent apply: %v", err)
		}
	}
	store := OpenStore(dir, StoreOptions{})
	hist, err := store.History()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(hist), writers; got != want {
		t.Fatalf("%d versions after %d applies of different content, want %d", got, writers, want)
	}
	for i, h := range hist {
		if h.GetVersion() != int64(i+1) {
			t.Errorf("version %d at position %d", h.GetVersion(), i)
		}
	}
}

func TestStoreLockTimeout(t *testing.T) {
	dir := t.TempDir()
	holder := OpenStore(dir, StoreOptions{})
	waiter := OpenStore(dir, StoreOptions{LockTimeout: 50 * time.Millisecond})
	release := make(chan struct{})
	held := make(chan struct{})
	go holder.Update(context.Background(), func(*almanacv1.Registry) (*almanacv1.Registry, string, error) {
		close(held)
		<-release
		return nil, "", nil
	})
	<-held
	_, err := waiter.Update(context.Background(), func(*almanacv1.Registry) (*almanacv1.Registry, string, error) {
		t.Error("update ran while another writer held the lock")
		return nil, "", nil
	})
	close(release)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid ") {
		t.Fatalf("Update while locked: %v, want ErrLocked naming the holder", err)
	}
}

func equalChanges(a, b []Change) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Kind != y.Kind || x.Name != y.Name || x.Op != y.Op || x.Destructive != y.Destructive || x.Note != y.Note || len(x.Fields) != len(y.Fields) {
			return false
		}
		for j := range x.Fields {
			if x.Fields[j] != y.Fields[j] {
				return false
			}
		}
	}
	return true
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := make(map[string][]byte)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "LOCK" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = data
	}
	return out
}

func equalDirs(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func TestThresholds(t *testing.T) {
	defs := loadDefs(t, strings.Replace(goodDefs, "tags: {team: pricing}\n", `tags: {team: pricing}
monitoring:
  psi_drift: 0.3
  features:
    acc_rate: {psi_warn: 0.05, min_rows: 10}
`, 1)+"monitoring:\n  psi_warn: 0.15\n  features:\n    driver_stats:acc_rate: {psi_drift: 0.5}\n")
	view, svc := defs.View("driver_stats"), defs.Service("ranking")
	for _, tc := range []struct {
		name    string
		service *FeatureService
		feature string
		want    Thresholds
	}{
		{"defaults under the view's level", nil, "conv_rate", Thresholds{PSIWarn: DefaultPSIWarn, PSIDrift: 0.3, MinRows: DefaultMinRows}},
		{"view feature override", nil, "acc_rate", Thresholds{PSIWarn: 0.05, PSIDrift: 0.3, MinRows: 10}},
		{"service level over the view's", svc, "conv_rate", Thresholds{PSIWarn: 0.15, PSIDrift: 0.3, MinRows: DefaultMinRows}},
		{"service feature override last", svc, "acc_rate", Thresholds{PSIWarn: 0.15, PSIDrift: 0.5, MinRows: 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := defs.Thresholds(tc.service, view, tc.feature); got != tc.want {
				t.Errorf("Thresholds = %+v, want %+v", got, tc.want)
			}
		})
	}
	// The settings survive the registry's wire form.
	back, err := DefinitionsFromProto(defs.ToProto("rides"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := back.Thresholds(back.Service("ranking"), back.View("driver_stats"), "acc_rate"), (Thresholds{PSIWarn: 0.15, PSIDrift: 0.5, MinRows: 10}); got != want {
		t.Errorf("after a proto round trip: %+v, want %+v", got, want)
	}
}
