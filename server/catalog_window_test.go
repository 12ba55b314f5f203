package server

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// TestWindowViewsAreNotServedOnline checks that lookups of a view with
// window aggregations, whose tiles the online store does not hold yet,
// fail with FAILED_PRECONDITION naming the view, through a feature service
// or a feature list, while the rest of the registry is served.
func TestWindowViewsAreNotServedOnline(t *testing.T) {
	count := registry.Aggregation{Function: registry.AggCount, Windows: []time.Duration{time.Hour}}
	wfs, err := count.Features(0, registry.Type{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	driver := []registry.Field{{Name: "driver_id", Type: registry.TypeInt64}}
	defs := &registry.Definitions{
		Entities: []*registry.Entity{{Name: "driver", JoinKeys: driver}},
		Sources:  []*registry.Source{{Name: "trips", Format: registry.FormatParquet, Path: "trips.parquet", TimestampField: "event_ts"}},
		Views: []*registry.FeatureView{
			{Name: "trip_windows", Entities: []string{"driver"}, Source: "trips", Online: true,
				Aggregations: []registry.Aggregation{count}, Windows: wfs, Features: []registry.Field{wfs[0].Field}},
			{Name: "trip_fares", Entities: []string{"driver"}, Source: "trips", Online: true,
				Features: []registry.Field{{Name: "fare", Type: registry.TypeInt64}}},
		},
		Services: []*registry.FeatureService{
			{Name: "windows_v1", Features: []registry.FeatureRef{{View: "trip_windows"}}},
			{Name: "fares_v1", Features: []registry.FeatureRef{{View: "trip_fares"}}},
		},
	}
	cat, err := newCatalog(1, defs)
	if err != nil {
		t.Fatalf("a registry with a window view: %v", err)
	}
	service := func(name string) *almanacv1.GetOnlineFeaturesRequest {
		return &almanacv1.GetOnlineFeaturesRequest{Kind: &almanacv1.GetOnlineFeaturesRequest_FeatureService{FeatureService: name}}
	}
	features := func(refs ...string) *almanacv1.GetOnlineFeaturesRequest {
		return &almanacv1.GetOnlineFeaturesRequest{Kind: &almanacv1.GetOnlineFeaturesRequest_Features{Features: &almanacv1.FeatureList{Val: refs}}}
	}
	s := &Server{}
	for _, tc := range []struct {
		name string
		req  *almanacv1.GetOnlineFeaturesRequest
		want codes.Code
	}{
		{"service of the window view", service("windows_v1"), codes.FailedPrecondition},
		{"features of the window view", features("trip_fares:fare", "trip_windows:count_1h"), codes.FailedPrecondition},
		{"service of a plain view", service("fares_v1"), codes.OK},
		{"features of a plain view", features("trip_fares:fare"), codes.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.resolve(cat, tc.req)
			if got := status.Code(err); got != tc.want {
				t.Fatalf("resolve: %v, want %s", err, tc.want)
			}
			if err == nil {
				return
			}
			for _, want := range []string{`"trip_windows"`, "window aggregations, which are not served online yet"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %s", err, want)
				}
			}
		})
	}
}
