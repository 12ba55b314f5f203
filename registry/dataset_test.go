package registry

import (
	"strings"
	"testing"
)

// TestRecordDatasetNameLength checks that dataset names are bounded like
// the names of definitions.
func TestRecordDatasetNameLength(t *testing.T) {
	s := OpenStore(t.TempDir(), StoreOptions{})
	for _, tc := range []struct {
		name, dataset, want string
	}{
		{"too long", strings.Repeat("d", MaxNameLength+1), "dataset name \"" + strings.Repeat("d", MaxNameLength+1) + "\" is 64 characters long; names have at most 63, try"},
		{"invalid", "Q2-training", `dataset name "Q2-training" must match [a-z_][a-z0-9_]*; try "q2_training"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RecordDataset(t.Context(), s, &Dataset{Name: tc.dataset}, false)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("RecordDataset: %v, want an error with %q", err, tc.want)
			}
		})
	}
}
