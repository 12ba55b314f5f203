package repo_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/almanac-fs/almanac/sdk/repo"
)

// A training pipeline in Go: apply the definitions of the repository in
// ./rides, materialize the last week, and read a training set for the
// labelled rows of labels.parquet as an Arrow table.
func Example() {
	ctx := context.Background()
	if _, err := repo.Apply(ctx, "rides", false); err != nil {
		log.Fatal(err)
	}
	r, err := repo.Open("rides")
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	end := time.Now().UTC().Truncate(time.Hour)
	results, err := r.Materialize(ctx, end.Add(-7*24*time.Hour), end, repo.MaterializeOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, res := range results {
		fmt.Printf("%s: %d rows offline, %d online\n", res.View, res.RowsWritten, res.OnlineRows)
	}

	tbl, _, err := r.Read(ctx, repo.TrainingSet{FeatureService: "driver_ranking_v1", EntityFile: "rides/labels.parquet"})
	if err != nil {
		log.Fatal(err)
	}
	defer tbl.Release()
	fmt.Println(tbl.NumRows(), "rows,", tbl.NumCols(), "columns")
}

// Export a training set to Parquet and record it as a dataset, which
// "almanac drift --dataset" then compares served features with.
func ExampleRepo_Export() {
	r, err := repo.Open("rides")
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	res, err := r.Export(context.Background(), repo.TrainingSet{
		Features:   []string{"driver_stats:conv_rate", "driver_stats:acc_rate"},
		EntityFile: "rides/labels.parquet",
		Dataset:    "ranking_2024_05",
	}, "rides/train.parquet")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Rows, res.Columns)
}
