// Package onlinestore opens the online store a repository's settings name.
package onlinestore

import (
	"fmt"
	"os"

	"github.com/almanac-fs/almanac/online"
	"github.com/almanac-fs/almanac/online/local"
	"github.com/almanac-fs/almanac/online/redis"
	"github.com/almanac-fs/almanac/registry"
)

// Open opens the online store the repository's settings name.
func Open(cfg *registry.Config) (online.Store, error) {
	oc := cfg.OnlineStore
	switch oc.Type {
	case registry.OnlineLocal:
		s, err := local.New(local.DefaultOptions(cfg.Abs(oc.Path)))
		if err != nil {
			return nil, fmt.Errorf("open the embedded online store: %w", err)
		}
		return s, nil
	case registry.OnlineRedis:
		opts := redis.DefaultOptions()
		opts.Project = cfg.Project
		opts.Addrs = oc.Addrs
		if len(opts.Addrs) == 0 {
			opts.Addrs = []string{oc.Addr}
		}
		if oc.PasswordEnv != "" {
			opts.Password = os.Getenv(oc.PasswordEnv)
		}
		s, err := redis.New(opts)
		if err != nil {
			return nil, fmt.Errorf("open the redis online store: %w", err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("unknown online store type %q", oc.Type)
}
