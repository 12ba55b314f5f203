package registry

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ConfigFile is the name of a feature repository's settings file.
const ConfigFile = "almanac.yaml"

// Config is the content of almanac.yaml after defaults and environment
// overrides. Every setting can be overridden by an environment variable named
// ALMANAC_ and the setting's path in upper case: ALMANAC_ONLINE_STORE_ADDR
// overrides online_store.addr. List settings take comma-separated values.
type Config struct {
	Project      string       `yaml:"project"`
	Registry     string       `yaml:"registry"`
	OfflineStore OfflineStore `yaml:"offline_store"`
	OnlineStore  OnlineStore  `yaml:"online_store"`
	Serving      Serving      `yaml:"serving"`
	Pipelines    Pipelines    `yaml:"pipelines"`
	Push         Push         `yaml:"push"`

	// Dir is the repository's absolute directory; relative paths resolve
	// against it.
	Dir string `yaml:"-"`
}

// OfflineStore configures the Parquet offline store.
type OfflineStore struct {
	Path string `yaml:"path"`
}

// OnlineStore configures the online store backend.
type OnlineStore struct {
	Type        string   `yaml:"type"` // local or redis
	Path        string   `yaml:"path"` // local: the database file
	Addr        string   `yaml:"addr"`
	Addrs       []string `yaml:"addrs"` // Redis Cluster seed nodes
	PasswordEnv string   `yaml:"password_env"`
}

// Serving configures the feature server.
type Serving struct {
	GRPCAddr string `yaml:"grpc_addr"`
	HTTPAddr string `yaml:"http_addr"`
	// TLSCert and TLSKey, when set, make the gRPC server use TLS.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// TokensFile, when set, names a file of bearer tokens, one "TOKEN
	// SCOPE" per line (scope read or write); requests then need one.
	TokensFile string `yaml:"tokens_file"`
	// DriftInterval, when set (a duration such as 1h), makes the server
	// check every dataset with a feature service against that service's
	// lookups logged in the past interval, and export the scores.
	DriftInterval string `yaml:"drift_interval"`
	// OnlineTimeout bounds each online-store call of a lookup (a duration
	// such as 500ms), within the request's own deadline.
	OnlineTimeout string `yaml:"online_timeout"`
}

// Pipelines configures the SQL that plan, materialize and export run.
type Pipelines struct {
	// StatementTimeout bounds each SQL statement run for a feature view (a
	// duration such as 30m); a statement still running then is cancelled.
	StatementTimeout string `yaml:"statement_timeout"`
}

// Push configures push ingestion.
type Push struct {
	// MaxFuture is how far past now a pushed event time may be (a duration
	// such as 1h); later events are rejected before anything is written.
	MaxFuture string `yaml:"max_future"`
}

// Online store types.
const (
	OnlineLocal = "local"
	OnlineRedis = "redis"
)

// DefaultConfig returns the settings of a repository whose almanac.yaml
// names only its project.
func DefaultConfig(project string) Config {
	return Config{
		Project:      project,
		Registry:     ".almanac/registry",
		OfflineStore: OfflineStore{Path: ".almanac/offline"},
		OnlineStore:  OnlineStore{Type: OnlineLocal, Path: ".almanac/online.db", Addr: "127.0.0.1:6379"},
		Serving:      Serving{GRPCAddr: "127.0.0.1:6566", HTTPAddr: "127.0.0.1:8080", OnlineTimeout: "1s"},
		Pipelines:    Pipelines{StatementTimeout: "30m"},
		Push:         Push{MaxFuture: "1h"},
	}
}

// Abs resolves a path of the configuration against the repository directory.
func (c *Config) Abs(path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(c.Dir, path)
}

// ErrNoRepository is returned when a directory holds no almanac.yaml.
var ErrNoRepository = errors.New("registry: not a feature repository")

// LoadConfig reads dir/almanac.yaml, fills in defaults and applies environment
// overrides looked up with getenv (os.Getenv when nil). Mistakes are returned
// as Problems.
func LoadConfig(dir string, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve repository %s: %w", dir, err)
	}
	data, err := os.ReadFile(filepath.Join(abs, ConfigFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s; create one with \"almanac init %s\"", ErrNoRepository, dir, ConfigFile, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ConfigFile, err)
	}
	cfg := DefaultConfig("")
	var probs Problems
	docs := parseDocuments(ConfigFile, data, &probs)
	if len(docs) > 1 {
		probs.add(Pos{ConfigFile, docs[1].Line}, "", "%s holds one document; move definitions into another file", ConfigFile)
	}
	if len(docs) > 0 {
		decodeStrict(ConfigFile, docs[0], &cfg, "", &probs)
	}
	if err := applyEnv(reflect.ValueOf(&cfg).Elem(), "ALMANAC", getenv); err != nil {
		probs.add(Pos{}, "", "%v", err)
	}
	cfg.Dir = abs
	if cfg.Project == "" {
		probs.add(Pos{File: ConfigFile, Line: 1}, "", "project is required; add a line such as \"project: %s\"", SuggestName(filepath.Base(abs)))
	} else if !ValidName(cfg.Project) {
		probs.add(Pos{File: ConfigFile, Line: lineOf(docs, "project")}, "", "project: %s", NameProblem(cfg.Project))
	}
	switch cfg.OnlineStore.Type {
	case OnlineLocal, OnlineRedis:
	default:
		probs.add(Pos{File: ConfigFile, Line: lineOf(docs, "online_store", "type")}, "", "online_store.type %q is not known; use %q or %q", cfg.OnlineStore.Type, OnlineLocal, OnlineRedis)
	}
	for _, d := range []struct {
		path     []string
		value    string
		optional bool
		example  string
	}{
		{[]string{"serving", "drift_interval"}, cfg.Serving.DriftInterval, true, "1h"},
		{[]string{"serving", "online_timeout"}, cfg.Serving.OnlineTimeout, false, "500ms"},
		{[]string{"pipelines", "statement_timeout"}, cfg.Pipelines.StatementTimeout, false, "30m"},
		{[]string{"push", "max_future"}, cfg.Push.MaxFuture, false, "1h"},
	} {
		if d.optional && d.value == "" {
			continue
		}
		if iv, err := ParseDuration(d.value); err != nil || iv <= 0 {
			probs.add(Pos{File: ConfigFile, Line: lineOf(docs, d.path...)}, "", "%s %q: write a positive duration such as %s", strings.Join(d.path, "."), Clip(d.value), d.example)
		}
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// duration returns a setting LoadConfig has checked.
func duration(s string) time.Duration {
	d, _ := ParseDuration(s)
	return d
}

// OnlineTimeout is serving.online_timeout.
func (c *Config) OnlineTimeout() time.Duration { return duration(c.Serving.OnlineTimeout) }

// StatementTimeout is pipelines.statement_timeout.
func (c *Config) StatementTimeout() time.Duration { return duration(c.Pipelines.StatementTimeout) }

// MaxFuture is push.max_future.
func (c *Config) MaxFuture() time.Duration { return duration(c.Push.MaxFuture) }

func lineOf(docs []*yaml.Node, path ...string) int {
	if len(docs) == 0 {
		return 0
	}
	return nodeAt(docs[0], path...).Line
}

// applyEnv overrides the yaml-tagged fields of v from environment variables
// named prefix_FIELD, recursing into nested structs.
func applyEnv(v reflect.Value, prefix string, getenv func(string) string) error {
	t := v.Type()
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Struct:
			if err := applyEnv(f, name, getenv); err != nil {
				return err
			}
		case reflect.String:
			if s := getenv(name); s != "" {
				f.SetString(s)
			}
		case reflect.Slice:
			if s := getenv(name); s != "" {
				f.Set(reflect.ValueOf(strings.Split(s, ",")))
			}
		default:
			return fmt.Errorf("setting %s has a kind the environment cannot set", name)
		}
	}
	return nil
}
