package registry

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

// FuzzLoad checks that reading a definitions file as Load does never
// panics and gives either valid definitions, which survive the registry's
// wire form, or Problems, each with a file and a message. The seeds are the
// demo repository's definitions, each file and all of them in one, and
// small variants.
func FuzzLoad(f *testing.F) {
	demo, err := filepath.Glob(filepath.Join("..", "internal", "demo", "repo", "*.yaml"))
	if err != nil || len(demo) == 0 {
		f.Fatalf("demo definitions: %v", err)
	}
	var all []string
	for _, path := range demo {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		all = append(all, string(data))
	}
	f.Add([]byte(strings.Join(all, "\n---\n")))
	for _, s := range []string{
		goodDefs,
		nameDefs,
		"",
		"kind: Entity\nname: [driver\n",
		strings.Replace(goodDefs, "ttl: 2d", "ttl: 106752d", 1),
		strings.Replace(goodDefs, "ttl: 2d\n", "ttl: 2d\nttl: 3d\n", 1),
		strings.Replace(goodDefs, "ttl: 2d\n", "ttl: 2d\nstale_retention: 0\n", 1),
		strings.Replace(goodDefs, "ttl: 2d\n", "stale_retention: 106752d\n", 1),
		strings.Replace(goodDefs, "  - driver_stats\n", "  - driver_stats:\n", 1),
		"a: &a [*a]\n",
		"kind: FeatureView\nname: v\nentities: &e [driver, *e]\n",
		"kind: Source\nname: s\nformat: push\ntimestamp_field: ts\nschema: [{name: ts, type: list<timestamp>}]\n",
		"kind: FeatureService\nname: s\nfeatures: [a:b:c]\nmonitoring: {features: {\"a:b\": {psi_warn: -1}}}\nlogging: {sample_rate: 2}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var probs Problems
		defs := &Definitions{}
		readFile("features.yaml", data, defs, &probs)
		checkDefinitions(defs, &probs)
		if len(probs) > 0 {
			for _, p := range probs {
				if p.Pos.File == "" || p.Msg == "" {
					t.Errorf("problem without a file or a message: %q", p)
				}
			}
			return
		}
		for _, v := range defs.Views {
			if v.TTL < 0 || v.TTL > maxTTL {
				t.Errorf("view %q loaded with ttl %v", v.Name, v.TTL)
			}
			if v.StaleRetention < 0 || v.StaleRetention > maxTTL || v.TTL == 0 && v.StaleRetention != 0 {
				t.Errorf("view %q loaded with ttl %v and stale retention %v", v.Name, v.TTL, v.StaleRetention)
			}
		}
		wire := defs.ToProto("fuzz")
		back, err := DefinitionsFromProto(wire)
		if err != nil {
			t.Fatalf("definitions do not read back from the registry's wire form: %v", err)
		}
		if got := back.ToProto("fuzz"); !proto.Equal(got, wire) {
			t.Errorf("definitions change through the registry's wire form:\n got %v\nwant %v", got, wire)
		}
	})
}
