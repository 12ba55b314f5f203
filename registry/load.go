package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The kinds of definition documents.
const (
	KindEntity         = "Entity"
	KindSource         = "Source"
	KindFeatureView    = "FeatureView"
	KindFeatureService = "FeatureService"
	KindDataset        = "Dataset"
)

var definitionKinds = []string{KindEntity, KindSource, KindFeatureView, KindFeatureService}

// Repo is a loaded and validated feature repository.
type Repo struct {
	Config *Config
	Defs   *Definitions
	Files  []string // definition files read, relative to Config.Dir
}

// LoadOptions adjusts Load. The zero value is valid.
type LoadOptions struct {
	// Getenv looks up environment overrides of almanac.yaml; nil means os.Getenv.
	Getenv func(string) string
	// Schemas, when set, checks each feature view against the columns its
	// source or SQL really produces.
	Schemas SchemaResolver
}

// Load reads every definition in the feature repository at dir and validates
// them. When anything is wrong the error is Problems, listing every mistake
// with its file and line.
func Load(ctx context.Context, dir string, opts LoadOptions) (*Repo, error) {
	var probs Problems
	cfg, err := LoadConfig(dir, opts.Getenv)
	if p, ok := errors.AsType[Problems](err); ok {
		probs = append(probs, p...)
		abs, _ := filepath.Abs(dir)
		cfg = &Config{Dir: abs}
	} else if err != nil {
		return nil, err
	}
	files, err := definitionFiles(cfg.Dir)
	if err != nil {
		return nil, err
	}
	defs := &Definitions{}
	for _, file := range files {
		data, err := os.ReadFile(filepath.Join(cfg.Dir, file))
		if err != nil {
			return nil, fmt.Errorf("read definitions %s: %w", file, err)
		}
		readFile(file, data, defs, &probs)
	}
	checkDefinitions(defs, &probs)
	if len(probs) == 0 && opts.Schemas != nil {
		if err := checkSchemas(ctx, cfg, defs, opts.Schemas, &probs); err != nil {
			return nil, err
		}
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return &Repo{Config: cfg, Defs: defs, Files: files}, nil
}

// definitionFiles lists the YAML files below dir other than almanac.yaml,
// skipping hidden directories such as .almanac.
func definitionFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(path)
		if ext != ".yaml" && ext != ".yml" {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if rel != ConfigFile {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list definition files in %s: %w", dir, err)
	}
	slices.Sort(files)
	return files, nil
}

// readFile decodes the definition documents of file, holding data, into
// defs.
func readFile(file string, data []byte, defs *Definitions, probs *Problems) {
	for _, doc := range parseDocuments(file, data, probs) {
		readDocument(file, doc, defs, probs)
	}
}

// checkDefinitions checks that the repository defines something, when
// nothing else is wrong, and validates what it defines.
func checkDefinitions(defs *Definitions, probs *Problems) {
	if len(*probs) == 0 && len(defs.Entities)+len(defs.Sources)+len(defs.Views)+len(defs.Services) == 0 {
		probs.add(Pos{File: ConfigFile}, "", "the repository has no definitions; add a file such as features.yaml with documents of kind %s", strings.Join(definitionKinds, ", "))
	}
	validate(defs, probs)
}

// readDocument decodes one definition document into defs.
func readDocument(file string, doc *yaml.Node, defs *Definitions, probs *Problems) {
	at := func(path ...string) Pos { return Pos{File: file, Line: nodeAt(doc, path...).Line} }
	if doc.Kind != yaml.MappingNode {
		probs.add(at(), "", "a definition must be a mapping with a kind, such as \"kind: Entity\"")
		return
	}
	kindNode := child(doc, "kind")
	if kindNode == nil || kindNode.Value == "" {
		probs.add(at(), "", "definition has no kind; add \"kind:\" with one of %s", strings.Join(definitionKinds, ", "))
		return
	}
	d := decoder{file: file, doc: doc, probs: probs}
	switch kind := kindNode.Value; kind {
	case KindEntity:
		var r rawEntity
		if e := d.entity(&r); e != nil {
			defs.Entities = append(defs.Entities, e)
		}
	case KindSource:
		var r rawSource
		if s := d.source(&r); s != nil {
			defs.Sources = append(defs.Sources, s)
		}
	case KindFeatureView:
		var r rawView
		if v := d.view(&r); v != nil {
			defs.Views = append(defs.Views, v)
		}
	case KindFeatureService:
		var r rawService
		if s := d.service(&r); s != nil {
			defs.Services = append(defs.Services, s)
		}
	case KindDataset:
		probs.add(at("kind"), "", "datasets are not defined in files; \"almanac export --dataset NAME\" records them")
	default:
		probs.add(at("kind"), "", "unknown kind %q%s", Clip(kind), orList(kind, definitionKinds))
	}
}

func orList(s string, candidates []string) string {
	if hint := DidYouMean(s, candidates); hint != "" {
		return hint
	}
	return "; use one of " + strings.Join(candidates, ", ")
}
