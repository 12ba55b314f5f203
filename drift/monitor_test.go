package drift

import (
	"bytes"
	"log/slog"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/almanac-fs/almanac/internal/duck"
	vals "github.com/almanac-fs/almanac/internal/values"
	"github.com/almanac-fs/almanac/offline"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// TestMonitorChecksLoggedLookups logs lookups of a service whose rate is
// shifted, lets the monitor check them against the dataset's profile, and
// reads the verdict from the metrics.
func TestMonitorChecksLoggedLookups(t *testing.T) {
	db, err := duck.Open(duck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := offline.Open(t.TempDir(), offline.Options{})
	defs := &registry.Definitions{
		Views: []*registry.FeatureView{{Name: "stats", Entities: []string{"driver"}, Online: true,
			Features: []registry.Field{{Name: "rate", Type: registry.TypeFloat64}, {Name: "trips", Type: registry.TypeInt64}}}},
		Entities: []*registry.Entity{{Name: "driver", JoinKeys: []registry.Field{{Name: "driver_id", Type: registry.TypeInt64}}}},
		Services: []*registry.FeatureService{{Name: "svc", Features: []registry.FeatureRef{{View: "stats"}}}},
		Datasets: []*registry.Dataset{{Name: "train", FeatureService: "svc", Features: []string{"stats:rate", "stats:trips"}}},
	}
	// The training set: rate ~ N(0.5, 0.1), trips ~ U{0..20}.
	base := writeData(t, baseShape, 4000, 1)
	profile, err := Compute(t.Context(), db, "(SELECT 0.5 + a / 10 AS rate, CAST(floor(abs(b) * 7) AS BIGINT) AS trips FROM "+base+")",
		[]Column{{Feature: "stats:rate", Name: "rate", Type: registry.TypeFloat64}, {Feature: "stats:trips", Name: "trips", Type: registry.TypeInt64}}, "train")
	if err != nil {
		t.Fatal(err)
	}
	if err := profile.Save(ProfilePath(store, "train")); err != nil {
		t.Fatal(err)
	}
	// Served: rate shifted up by 0.3, trips as in training.
	now := time.Now().UTC()
	log := store.NewFeatureLog(offline.LogOptions{})
	rng := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		const n = 10
		keys, rates, trips := make([]*almanacv1.Value, n), make([]*almanacv1.Value, n), make([]*almanacv1.Value, n)
		sts := make([]almanacv1.FieldStatus, n)
		for i := range n {
			keys[i] = vals.Int64(int64(rng.IntN(100)))
			rates[i] = vals.Float64(0.8 + rng.NormFloat64()/10)
			trips[i] = vals.Int64(int64(7 * math.Abs(rng.NormFloat64())))
			sts[i] = almanacv1.FieldStatus_PRESENT
		}
		log.Log(offline.LogEntry{Service: "svc", Time: now.Add(-time.Minute), Columns: []offline.LogColumn{
			{Name: "driver_id", Type: registry.TypeInt64, Key: true, Values: keys},
			{Name: "stats__rate", Type: registry.TypeFloat64, Values: rates, Statuses: sts},
			{Name: "stats__trips", Type: registry.TypeInt64, Values: trips, Statuses: sts},
		}})
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	m := &Monitor{Store: store, DB: db, Defs: func() *registry.Definitions { return defs }, Interval: time.Hour,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return now }}
	m.CheckAll(t.Context())

	reg := prometheus.NewRegistry()
	reg.MustRegister(&Collector{Store: store})
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	drifted := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "almanac_drift_drifted" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			drifted[labels["dataset"]+" "+labels["feature"]] = m.GetGauge().GetValue()
		}
	}
	if drifted["train stats:rate"] != 1 || drifted["train stats:trips"] != 0 || len(drifted) != 2 {
		t.Fatalf("almanac_drift_drifted = %v; want stats:rate drifted and stats:trips not\nlogs:\n%s", drifted, logs.String())
	}
}
