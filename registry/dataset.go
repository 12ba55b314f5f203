package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
)

// ErrExists is returned when recording a dataset whose name is taken.
var ErrExists = errors.New("registry: already exists")

// RecordDataset stores ds in the registry as a new version. A dataset with
// the same name is replaced only when overwrite is set.
func RecordDataset(ctx context.Context, s *Store, ds *Dataset, overwrite bool) (*almanacv1.Registry, error) {
	if !ValidName(ds.Name) {
		return nil, fmt.Errorf("dataset %s", NameProblem(ds.Name))
	}
	return s.Update(ctx, func(cur *almanacv1.Registry) (*almanacv1.Registry, string, error) {
		if cur == nil {
			return nil, "", fmt.Errorf("record dataset %q: %w; run \"almanac apply\" first", ds.Name, ErrNoVersion)
		}
		next := proto.CloneOf(cur)
		i := slices.IndexFunc(next.Datasets, func(d *almanacv1.Dataset) bool { return d.GetName() == ds.Name })
		switch {
		case i >= 0 && !overwrite:
			return nil, "", fmt.Errorf("dataset %q: %w; choose another name or pass --overwrite", ds.Name, ErrExists)
		case i >= 0:
			next.Datasets[i] = ds.proto()
		default:
			next.Datasets = append(next.Datasets, ds.proto())
			slices.SortFunc(next.Datasets, func(a, b *almanacv1.Dataset) int { return strings.Compare(a.GetName(), b.GetName()) })
		}
		return next, fmt.Sprintf("dataset %s recorded", ds.Name), nil
	})
}
