package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parseDocuments splits data into its YAML documents, skipping empty ones.
// A syntax error is added to probs and ends the file: what follows it cannot
// be read reliably.
func parseDocuments(file string, data []byte, probs *Problems) []*yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			line, msg := splitYAMLError(err.Error())
			probs.add(Pos{File: file, Line: line}, "", "invalid YAML: %s; fix the syntax (indentation, quotes, a missing colon)", msg)
			return docs
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null" {
			continue
		}
		docs = append(docs, doc.Content[0])
	}
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// splitYAMLError takes the line number out of a yaml.v3 error message.
func splitYAMLError(msg string) (int, string) {
	m := yamlLineRE.FindStringSubmatch(msg)
	if m == nil {
		return 0, strings.TrimPrefix(msg, "yaml: ")
	}
	line, _ := strconv.Atoi(m[1])
	return line, m[2]
}

// nodeAt returns the node at path below n (mapping keys, or sequence indexes
// in decimal), or the deepest node on the way when the path does not exist,
// so that a problem can always point at the closest line.
func nodeAt(n *yaml.Node, path ...string) *yaml.Node {
	for _, p := range path {
		next := child(n, p)
		if next == nil {
			return n
		}
		n = next
	}
	return n
}

func child(n *yaml.Node, key string) *yaml.Node {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(key); err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i]
		}
	}
	return nil
}

// decodeStrict decodes n into out (a pointer to a struct with yaml tags),
// adding a problem for every unknown field and every value of the wrong type.
func decodeStrict(file string, n *yaml.Node, out any, object string, probs *Problems) {
	checkFields(file, n, reflect.TypeOf(out).Elem(), object, probs)
	err := n.Decode(out)
	var te *yaml.TypeError
	switch {
	case err == nil:
	case errors.As(err, &te):
		for _, e := range te.Errors {
			line, msg := splitYAMLError(e)
			probs.add(Pos{File: file, Line: line}, object, "%s", explainTypeError(n, line, msg))
		}
	default:
		line, msg := splitYAMLError(err.Error())
		probs.add(Pos{File: file, Line: line}, object, "%s", msg)
	}
}

// checkFields adds a problem for every mapping key below n that has no field
// in t.
func checkFields(file string, n *yaml.Node, t reflect.Type, object string, probs *Problems) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := yamlFields(t)
		names := make([]string, 0, len(fields))
		for name := range fields {
			names = append(names, name)
		}
		first := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i]
			if line, dup := first[key.Value]; dup {
				probs.add(Pos{File: file, Line: key.Line}, object, "field %q is given twice (first at line %d); remove one", Clip(key.Value), line)
				// Drop the repetition so that the rest of the document still decodes.
				n.Content = append(n.Content[:i], n.Content[i+2:]...)
				i -= 2
				continue
			}
			first[key.Value] = key.Line
			ft, ok := fields[key.Value]
			if !ok {
				probs.add(Pos{File: file, Line: key.Line}, object, "unknown field %q%s", Clip(key.Value), orFieldList(key.Value, names))
				continue
			}
			checkFields(file, n.Content[i+1], ft, object, probs)
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for _, item := range n.Content {
			checkFields(file, item, t.Elem(), object, probs)
		}
	}
}

func orFieldList(name string, names []string) string {
	if s := DidYouMean(name, names); s != "" {
		return s
	}
	slices.Sort(names)
	return "; known fields: " + strings.Join(names, ", ")
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := make(map[string]reflect.Type)
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag != "" && tag != "-" {
			fields[tag] = t.Field(i).Type
		}
	}
	return fields
}

var typeErrRE = regexp.MustCompile("^cannot unmarshal !!(\\w+) (?:`(.*)` )?into (.+)$")

// explainTypeError rewrites yaml.v3's "cannot unmarshal !!str `x` into bool"
// into what a person writing definitions needs: the field and what it wants.
func explainTypeError(root *yaml.Node, line int, msg string) string {
	m := typeErrRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	want := m[3]
	switch {
	case want == "bool":
		want = "true or false"
	case want == "string":
		want = "a single value"
	case strings.HasPrefix(want, "[]"):
		want = "a list"
	case strings.HasPrefix(want, "map["), strings.HasPrefix(want, "registry."):
		want = "a mapping of names to values"
	}
	got := m[2]
	switch m[1] {
	case "seq":
		got = "a list"
	case "map":
		got = "a mapping"
	default:
		got = strconv.Quote(got)
	}
	kind := map[string]yaml.Kind{"map": yaml.MappingNode, "seq": yaml.SequenceNode}[m[1]]
	if kind == 0 {
		kind = yaml.ScalarNode
	}
	if key := pathAtLine(root, line, kind); key != "" {
		return fmt.Sprintf("field %q: want %s, got %s", key, want, got)
	}
	return fmt.Sprintf("want %s, got %s", want, got)
}

// pathAtLine returns the path (features[0].type) of the deepest value of
// the given kind on line below n.
func pathAtLine(n *yaml.Node, line int, kind yaml.Kind) string {
	var walk func(n *yaml.Node, path string) (string, bool)
	walk = func(n *yaml.Node, path string) (string, bool) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := n.Content[i].Value
				if path != "" {
					p = path + "." + p
				}
				if found, ok := walk(n.Content[i+1], p); ok {
					return found, true
				}
				if v := n.Content[i+1]; v.Line == line && v.Kind == kind {
					return p, true
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				if found, ok := walk(c, p); ok {
					return found, true
				}
				if c.Line == line && c.Kind == kind {
					return p, true
				}
			}
		}
		return "", false
	}
	path, _ := walk(n, "")
	return path
}
