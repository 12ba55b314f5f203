package registry

import "fmt"

// Format is how a source's rows arrive.
type Format string

// Source formats.
const (
	FormatParquet Format = "parquet"
	FormatCSV     Format = "csv"
	FormatPush    Format = "push"
)

// formatProps are the properties of a source format that definitions and
// pipelines depend on: a new format is one more entry of formats (and of
// sourceFormats, its protobuf enum).
type formatProps struct {
	// files: rows are read from the files that path names, which is then
	// required; a format without files refuses path.
	files bool
	// schema: rows come without their columns' types, so schema is required.
	schema bool
	// arrival, for a format without files, says how rows arrive instead.
	arrival string
	// noCreated, when set, says why created_timestamp_field is refused.
	noCreated string
}

// formats are the source formats, in the order messages list them.
var formats = []struct {
	format Format
	props  formatProps
}{
	{FormatParquet, formatProps{files: true}},
	{FormatCSV, formatProps{files: true}},
	{FormatPush, formatProps{schema: true, arrival: "rows arrive through push",
		noCreated: "orders rows of one event time by arrival (the later push wins), not by a created time"}},
}

// props returns the properties of f, and whether f is a known format.
func (f Format) props() (formatProps, bool) {
	for _, e := range formats {
		if e.format == f {
			return e.props, true
		}
	}
	return formatProps{}, false
}

// formatNames returns the names of the known formats.
func formatNames() []string {
	names := make([]string, len(formats))
	for i, e := range formats {
		names[i] = string(e.format)
	}
	return names
}

// HasFiles reports whether the source's rows are read from files, those
// Path names, so that views over it are materialized from them.
func (s *Source) HasFiles() bool {
	p, _ := s.Format.props()
	return p.files
}

// WithoutFiles says, for a source whose rows are not read from files, how
// they arrive instead ("push source: rows arrive through push"): why views
// over it have nothing to materialize. It returns "" for a source with
// files.
func (s *Source) WithoutFiles() string {
	p, _ := s.Format.props()
	if p.files {
		return ""
	}
	return fmt.Sprintf("%s source: %s", s.Format, p.arrival)
}
