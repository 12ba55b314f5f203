package registry

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func resolveDefs() *Definitions {
	f := func(name string) Field { return Field{Name: name, Type: Type{Elem: Float64}} }
	return &Definitions{
		Entities: []*Entity{{Name: "driver"}},
		Sources:  []*Source{{Name: "trips"}},
		Views: []*FeatureView{
			{Name: "driver_stats", Features: []Field{f("conv_rate"), f("acc_rate"), f("trips")}},
			{Name: "customer_profile", Features: []Field{f("age"), f("trips")}},
		},
		Services: []*FeatureService{{Name: "ranking", Features: []FeatureRef{
			{View: "driver_stats", Features: []string{"conv_rate"}},
			{View: "customer_profile"},
		}}},
		Datasets: []*Dataset{{Name: "train"}},
	}
}

func TestResolve(t *testing.T) {
	defs := resolveDefs()
	tests := []struct {
		name  string
		refs  []FeatureRef
		views []string
		want  []string // Ref FullName View Index of each feature
		err   string
	}{
		{
			name:  "features in request order",
			refs:  []FeatureRef{{View: "driver_stats", Features: []string{"trips", "conv_rate"}}},
			views: []string{"driver_stats"},
			want:  []string{"driver_stats:trips driver_stats__trips 0 2", "driver_stats:conv_rate driver_stats__conv_rate 0 0"},
		},
		{
			name:  "views in order of first use, features interleaved",
			refs:  []FeatureRef{{View: "customer_profile", Features: []string{"age"}}, {View: "driver_stats", Features: []string{"acc_rate"}}, {View: "customer_profile", Features: []string{"trips"}}},
			views: []string{"customer_profile", "driver_stats"},
			want:  []string{"customer_profile:age customer_profile__age 0 0", "driver_stats:acc_rate driver_stats__acc_rate 1 1", "customer_profile:trips customer_profile__trips 0 1"},
		},
		{
			name:  "whole view",
			refs:  []FeatureRef{{View: "customer_profile"}},
			views: []string{"customer_profile"},
			want:  []string{"customer_profile:age customer_profile__age 0 0", "customer_profile:trips customer_profile__trips 0 1"},
		},
		{
			name:  "repeats dropped, first place kept",
			refs:  []FeatureRef{{View: "driver_stats", Features: []string{"acc_rate"}}, {View: "driver_stats"}, {View: "driver_stats", Features: []string{"conv_rate", "acc_rate"}}},
			views: []string{"driver_stats"},
			want:  []string{"driver_stats:acc_rate driver_stats__acc_rate 0 1", "driver_stats:conv_rate driver_stats__conv_rate 0 0", "driver_stats:trips driver_stats__trips 0 2"},
		},
		{
			name:  "a feature service's list",
			refs:  defs.Service("ranking").Features,
			views: []string{"driver_stats", "customer_profile"},
			want:  []string{"driver_stats:conv_rate driver_stats__conv_rate 0 0", "customer_profile:age customer_profile__age 1 0", "customer_profile:trips customer_profile__trips 1 1"},
		},
		{
			name: "no references",
			err:  "no features requested",
		},
		{
			name: "misspelt view",
			refs: []FeatureRef{{View: "driver_stats"}, {View: "driver_stat", Features: []string{"conv_rate"}}},
			err:  `feature view "driver_stat" not found; did you mean "driver_stats"?`,
		},
		{
			name: "unknown view, nothing close",
			refs: []FeatureRef{{View: "zzzzzzzzzz"}},
			err:  `feature view "zzzzzzzzzz" not found`,
		},
		{
			name: "misspelt feature",
			refs: []FeatureRef{{View: "driver_stats", Features: []string{"conv_rat"}}},
			err:  `feature view "driver_stats" has no feature "conv_rat"; did you mean "conv_rate"?`,
		},
		{
			name: "feature of another view",
			refs: []FeatureRef{{View: "customer_profile", Features: []string{"conv_rate"}}},
			err:  `feature view "customer_profile" has no feature "conv_rate"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := defs.Resolve(tt.refs)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("got error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var views []string
			for _, v := range sel.Views {
				views = append(views, v.Name)
			}
			var got []string
			for _, f := range sel.Features {
				if f.Field.Name != sel.Views[f.View].Features[f.Index].Name {
					t.Errorf("%s: field %q is not feature %d of its view", f.Ref, f.Field.Name, f.Index)
				}
				got = append(got, fmt.Sprintf("%s %s %d %d", f.Ref, f.FullName, f.View, f.Index))
			}
			if !reflect.DeepEqual(views, tt.views) {
				t.Errorf("views: got %q, want %q", views, tt.views)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("features:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestSelectionOfView(t *testing.T) {
	sel, err := resolveDefs().Resolve([]FeatureRef{
		{View: "customer_profile", Features: []string{"trips"}},
		{View: "driver_stats", Features: []string{"acc_rate"}},
		{View: "customer_profile", Features: []string{"age"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range sel.OfView(0) {
		got = append(got, f.Ref)
	}
	if want := []string{"customer_profile:trips", "customer_profile:age"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLookups(t *testing.T) {
	defs := resolveDefs()
	tests := []struct {
		name   string
		lookup func(string) error
		arg    string
		want   string // "" when found
	}{
		{"entity", func(n string) error { _, err := defs.LookupEntity(n); return err }, "driver", ""},
		{"misspelt entity", func(n string) error { _, err := defs.LookupEntity(n); return err }, "drivers", `entity "drivers" not found; did you mean "driver"?`},
		{"misspelt source", func(n string) error { _, err := defs.LookupSource(n); return err }, "trip", `source "trip" not found; did you mean "trips"?`},
		{"view", func(n string) error { _, err := defs.LookupView(n); return err }, "driver_stats", ""},
		{"misspelt view", func(n string) error { _, err := defs.LookupView(n); return err }, "Driver_Stats", `feature view "Driver_Stats" not found; did you mean "driver_stats"?`},
		{"misspelt service", func(n string) error { _, err := defs.LookupService(n); return err }, "rankin", `feature service "rankin" not found; did you mean "ranking"?`},
		{"misspelt dataset", func(n string) error { _, err := defs.LookupDataset(n); return err }, "trian", `dataset "trian" not found; did you mean "train"?`},
		{"huge name is clipped", func(n string) error { _, err := defs.LookupView(n); return err }, strings.Repeat("x", 1000),
			`feature view "` + strings.Repeat("x", MaxQuoted) + `…(1000 bytes)" not found`},
		{"misspelt feature", func(n string) error { _, err := defs.View("driver_stats").LookupFeature(n); return err }, "trip",
			`feature view "driver_stats" has no feature "trip"; did you mean "trips"?`},
		{"describe", func(n string) error { _, err := defs.Describe(KindFeatureService, n); return err }, "rankng", `feature service "rankng" not found; did you mean "ranking"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.lookup(tt.arg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want found", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			var nf *NotFoundError
			if !errors.As(err, &nf) || !errors.Is(err, ErrNotFound) {
				t.Errorf("%v: not a *NotFoundError matching ErrNotFound", err)
			}
		})
	}
}

func TestFullName(t *testing.T) {
	if got, want := FullName("driver_stats", "conv_rate"), "driver_stats__conv_rate"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseFeatureRefs(t *testing.T) {
	got, err := ParseFeatureRefs([]string{"driver_stats:conv_rate", "customer_profile"})
	if err != nil {
		t.Fatal(err)
	}
	want := []FeatureRef{{View: "driver_stats", Features: []string{"conv_rate"}}, {View: "customer_profile"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := ParseFeatureRefs([]string{"a", "b:c:d"}); err == nil || !strings.Contains(err.Error(), `bad feature reference "b:c:d"`) {
		t.Errorf("got %v, want a bad reference", err)
	}
}
