package registry

import "testing"

// TestSourceFormats checks what each source format says about its files:
// whether views over it are materialized from files, and if not, why.
func TestSourceFormats(t *testing.T) {
	for _, tc := range []struct {
		format      Format
		wantFiles   bool
		wantNoFiles string
	}{
		{FormatParquet, true, ""},
		{FormatCSV, true, ""},
		{FormatPush, false, "push source: rows arrive through push"},
	} {
		t.Run(string(tc.format), func(t *testing.T) {
			src := &Source{Name: "s", Format: tc.format}
			if got := src.HasFiles(); got != tc.wantFiles {
				t.Errorf("HasFiles() = %t, want %t", got, tc.wantFiles)
			}
			if got := src.WithoutFiles(); got != tc.wantNoFiles {
				t.Errorf("WithoutFiles() = %q, want %q", got, tc.wantNoFiles)
			}
		})
	}
	for _, e := range formats {
		if _, ok := sourceFormats[e.format]; !ok {
			t.Errorf("format %s has no protobuf SourceFormat in sourceFormats", e.format)
		}
	}
}
