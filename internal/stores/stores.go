package stores

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/online"
	"github.com/almanac-fs/almanac/online/local"
	"github.com/almanac-fs/almanac/online/redis"
	"github.com/almanac-fs/almanac/registry"
)

// Registry opens the repository's registry (its registry setting).
func Registry(cfg *registry.Config) *registry.Store {
	return registry.OpenStore(cfg.Abs(cfg.Registry), registry.StoreOptions{})
}

// Offline opens the repository's offline store (offline_store.path).
func Offline(cfg *registry.Config) *offline.Store {
	return offline.Open(cfg.Abs(cfg.OfflineStore.Path), offline.Options{})
}

// OnlineOptions adjusts how Online opens a store. The zero value opens it as
// the settings say, on the real clock.
type OnlineOptions struct {
	// Now is the stores' clock for expiry; nil means time.Now.
	Now func() time.Time
	// Logger receives the embedded store's background errors; nil means
	// slog.Default().
	Logger *slog.Logger
	// NoSweep leaves expired records of the embedded store in place, for
	// tests whose clock moves: expiry is then only what Now says.
	NoSweep bool
}

// Online opens the online store the repository's settings name
// (online_store). The caller closes it.
func Online(cfg *registry.Config, opts OnlineOptions) (online.Store, error) {
	oc := cfg.OnlineStore
	switch oc.Type {
	case registry.OnlineLocal:
		lo := local.DefaultOptions(cfg.Abs(oc.Path))
		if opts.Now != nil {
			lo.Now = opts.Now
		}
		if opts.Logger != nil {
			lo.Logger = opts.Logger
		}
		if opts.NoSweep {
			lo.SweepInterval = -1
		}
		s, err := local.New(lo)
		if err != nil {
			return nil, fmt.Errorf("open the embedded online store: %w", err)
		}
		return s, nil
	case registry.OnlineRedis:
		ro := redis.DefaultOptions()
		ro.Project = cfg.Project
		ro.Addrs = oc.Addrs
		if len(ro.Addrs) == 0 {
			ro.Addrs = []string{oc.Addr}
		}
		if oc.PasswordEnv != "" {
			ro.Password = os.Getenv(oc.PasswordEnv)
		}
		if opts.Now != nil {
			ro.Now = opts.Now
		}
		s, err := redis.New(ro)
		if err != nil {
			return nil, fmt.Errorf("open the redis online store: %w", err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("unknown online store type %q", oc.Type)
}
