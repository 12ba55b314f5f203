package servertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/almanac-fs/almanac/internal/duck"
)

// The fixture repository written by WriteRepo. Its data is relative to a
// present T (Options.Now); every row is before T except one, at T+1h, that
// materializing up to T must leave out.
//
//	entities  driver (driver_id int64), customer (customer_id int64)
//	views     driver_stats      ttl 2h   conv_rate float64, acc_rate float32, trips int64, city string
//	          driver_profile    no ttl   rating_count int32, active bool, photo bytes, signup_ts timestamp,
//	                                     tags list<string>, fares list<float64>, zones list<int64>
//	          driver_embedding  no ttl   embedding list<float32>
//	          customer_stats    ttl 24h  conv_rate float64, tier string
//	          driver_location   ttl 1h   lat float64, lon float64, status string (push source driver_location)
//	          driver_history    online: false, trips int64
//	services  driver_ranking_v1 (driver_stats, driver_embedding), driver_profile_v1 (driver_profile),
//	          pricing_v1 (customer_stats:tier, driver_stats:trips, driver_stats:city),
//	          dispatch_v1 (driver_location, driver_stats:acc_rate)
//
// What a lookup at T finds:
//
//	driver 1001  driver_stats at T-1h (conv_rate 0.91, acc_rate 0.95, trips 12, paris); profile and embedding
//	driver 1002  driver_stats at T-30m with acc_rate null (NULL_VALUE); profile with photo and fares null, tags empty
//	driver 1003  driver_stats at T-5h, past its TTL and stale retention when materialized: not stored (NOT_FOUND);
//	             no profile (NOT_FOUND); embedding from T-20d
//	driver 1004  two driver_stats rows at T-90m, the one created last wins (conv_rate 0.15, trips 6)
//	driver 1005  nothing anywhere (NOT_FOUND)
//	customer 501 at T-2h (0.42, gold); 502 at T-30h, stale (OUTSIDE_MAX_AGE); 503 at T-1h with conv_rate null
//
// Moving Env.Clock past a stored row's TTL makes it OUTSIDE_MAX_AGE: driver
// 1001's driver_stats after T+1h, customer 501's after T+22h.
const (
	Project = "fixture"

	// Feature services of the fixture.
	DriverRanking = "driver_ranking_v1"
	DriverProfile = "driver_profile_v1"
	Pricing       = "pricing_v1"
	Dispatch      = "dispatch_v1"

	// PushSource is the fixture's push source.
	PushSource = "driver_location"
)

// Drivers and Customers are the entity keys the fixture knows of, and a few
// it does not (1005, 504).
var (
	Drivers   = []int64{1001, 1002, 1003, 1004, 1005}
	Customers = []int64{501, 502, 503, 504}
)

const configYAML = `project: fixture
online_store:
  type: local
  path: .almanac/online.db
`

const definitionsYAML = `kind: Entity
name: driver
join_keys:
  - {name: driver_id, type: int64}
---
kind: Entity
name: customer
join_keys:
  - {name: customer_id, type: int64}
---
kind: Source
name: driver_stats
format: parquet
path: data/driver_stats.parquet
timestamp_field: event_ts
created_timestamp_field: created_ts
---
kind: Source
name: driver_profile
format: parquet
path: data/driver_profile.parquet
timestamp_field: event_ts
---
kind: Source
name: driver_embedding
format: parquet
path: data/driver_embedding.parquet
timestamp_field: event_ts
---
kind: Source
name: customer_stats
format: parquet
path: data/customer_stats.parquet
timestamp_field: event_ts
---
kind: Source
name: driver_location
format: push
timestamp_field: event_ts
schema:
  - {name: driver_id, type: int64}
  - {name: event_ts, type: timestamp}
  - {name: lat, type: float64}
  - {name: lon, type: float64}
  - {name: status, type: string}
---
kind: FeatureView
name: driver_stats
entities: [driver]
source: driver_stats
ttl: 2h
features:
  - {name: conv_rate, type: float64}
  - {name: acc_rate, type: float32}
  - {name: trips, type: int64}
  - {name: city, type: string}
---
kind: FeatureView
name: driver_profile
entities: [driver]
source: driver_profile
features:
  - {name: rating_count, type: int32}
  - {name: active, type: bool}
  - {name: photo, type: bytes}
  - {name: signup_ts, type: timestamp}
  - {name: tags, type: list<string>}
  - {name: fares, type: list<float64>}
  - {name: zones, type: list<int64>}
---
kind: FeatureView
name: driver_embedding
entities: [driver]
source: driver_embedding
features:
  - {name: embedding, type: list<float32>}
---
kind: FeatureView
name: customer_stats
entities: [customer]
source: customer_stats
ttl: 24h
features:
  - {name: conv_rate, type: float64}
  - {name: tier, type: string}
---
kind: FeatureView
name: driver_location
entities: [driver]
source: driver_location
ttl: 1h
features:
  - {name: lat, type: float64}
  - {name: lon, type: float64}
  - {name: status, type: string}
---
kind: FeatureView
name: driver_history
entities: [driver]
source: driver_stats
online: false
features:
  - {name: trips, type: int64}
---
kind: FeatureService
name: driver_ranking_v1
features:
  - driver_stats
  - driver_embedding
---
kind: FeatureService
name: driver_profile_v1
features:
  - driver_profile
---
kind: FeatureService
name: pricing_v1
features:
  - customer_stats:tier
  - driver_stats:trips
  - driver_stats:city
---
kind: FeatureService
name: dispatch_v1
features:
  - driver_location
  - driver_stats:acc_rate
`

// dataSQL returns the queries whose results are the fixture's Parquet
// files, by path. ts(d) is the timestamp literal of T+d; every verb names
// its argument.
func dataSQL(now time.Time) map[string]string {
	ts := func(d time.Duration) string {
		return fmt.Sprintf("TIMESTAMPTZ '%s'", now.Add(d).UTC().Format("2006-01-02 15:04:05.000Z07:00"))
	}
	h := time.Hour
	return map[string]string{
		"data/driver_stats.parquet": fmt.Sprintf(`SELECT * FROM (VALUES
	(1001::BIGINT, %[1]s, %[1]s, 0.50::DOUBLE, 0.80::FLOAT, 10::BIGINT, 'paris'),
	(1001, %[2]s, %[2]s, 0.91, 0.95, 12, 'paris'),
	(1001, %[3]s, %[3]s, 0.99, 0.99, 99, 'future'),
	(1002, %[4]s, %[4]s, 0.72, NULL, 7, 'lyon'),
	(1003, %[5]s, %[5]s, 0.33, 0.40, 3, 'nice'),
	(1004, %[6]s, %[7]s, 0.10, 0.20, 5, 'lille'),
	(1004, %[6]s, %[8]s, 0.15, 0.25, 6, 'lille')
) t(driver_id, event_ts, created_ts, conv_rate, acc_rate, trips, city)`,
			ts(-3*h), ts(-h), ts(h), ts(-30*time.Minute), ts(-5*h), ts(-90*time.Minute), ts(-85*time.Minute), ts(-80*time.Minute)),
		"data/driver_profile.parquet": fmt.Sprintf(`SELECT * FROM (VALUES
	(1001::BIGINT, %[1]s, 250::INTEGER, true, '\x01\x02\xFF'::BLOB, %[2]s, ['fast', 'friendly'], [12.5, 8.25]::DOUBLE[], [75001, 75002]::BIGINT[]),
	(1002, %[3]s, 12, false, NULL, %[4]s, []::VARCHAR[], NULL, [69001])
) t(driver_id, event_ts, rating_count, active, photo, signup_ts, tags, fares, zones)`,
			ts(-10*24*h), ts(-400*24*h), ts(-2*24*h), ts(-30*24*h)),
		"data/driver_embedding.parquet": fmt.Sprintf(`SELECT * FROM (VALUES
	(1001::BIGINT, %[1]s, [0.1, 0.2, 0.3, 0.4]::FLOAT[]),
	(1002, %[1]s, [0.5, 0.6, 0.7, 0.8]::FLOAT[]),
	(1003, %[2]s, [-0.25, 0, 0.25, 1]::FLOAT[])
) t(driver_id, event_ts, embedding)`, ts(-7*24*h), ts(-20*24*h)),
		"data/customer_stats.parquet": fmt.Sprintf(`SELECT * FROM (VALUES
	(501::BIGINT, %[1]s, 0.42::DOUBLE, 'gold'),
	(502, %[2]s, 0.10, 'silver'),
	(503, %[3]s, NULL, 'bronze')
) t(customer_id, event_ts, conv_rate, tier)`, ts(-2*h), ts(-30*h), ts(-h)),
	}
}

// WriteRepo writes the fixture feature repository (see Project) into dir,
// with its data relative to now: almanac.yaml, features.yaml and the
// Parquet files under data/.
func WriteRepo(ctx context.Context, dir string, now time.Time) error {
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return fmt.Errorf("servertest: %w", err)
	}
	for name, text := range map[string]string{"almanac.yaml": configYAML, "features.yaml": definitionsYAML} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return fmt.Errorf("servertest: %w", err)
		}
	}
	db, err := duck.Open(duck.Options{})
	if err != nil {
		return fmt.Errorf("servertest: %w", err)
	}
	defer db.Close()
	for path, query := range dataSQL(now) {
		copySQL := fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet)", query, duck.Quote(filepath.Join(dir, filepath.FromSlash(path))))
		if _, err := db.ExecContext(ctx, copySQL); err != nil {
			return fmt.Errorf("servertest: write %s: %w", path, err)
		}
	}
	return nil
}

// AppendDefinitions appends YAML documents to the fixture's definitions in
// dir (a new document separated by "---"); run Env.Apply to apply them.
func AppendDefinitions(dir, yaml string) error {
	f, err := os.OpenFile(filepath.Join(dir, "features.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("servertest: %w", err)
	}
	_, err = f.WriteString("---\n" + strings.TrimLeft(yaml, "\n"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("servertest: %w", err)
	}
	return nil
}
