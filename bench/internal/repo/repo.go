// Package repo applies a benchmark's generated feature repository.
package repo

import (
	"context"
	"fmt"

	"github.com/almanac-fs/almanac/registry"
)

// Apply loads the feature repository in dir, without reading the
// environment (so that the machine's ALMANAC_ variables do not change a
// benchmark), and applies its definitions to the registry it configures.
func Apply(ctx context.Context, dir string) (*registry.Definitions, error) {
	noEnv := func(string) string { return "" }
	r, err := registry.Load(ctx, dir, registry.LoadOptions{Getenv: noEnv})
	if err != nil {
		return nil, fmt.Errorf("load generated repository: %w", err)
	}
	store := registry.OpenStore(r.Config.Abs(r.Config.Registry), registry.StoreOptions{})
	if _, _, err := registry.Apply(ctx, store, r.Config.Project, r.Defs, false); err != nil {
		return nil, fmt.Errorf("apply generated repository: %w", err)
	}
	return r.Defs, nil
}
