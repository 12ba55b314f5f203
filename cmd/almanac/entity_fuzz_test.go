package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/sdk"
)

// keyTypes are the types FuzzParseEntities gives the join key driver_id,
// picked by its last argument; the zero Type stands for a repository
// whose definitions are unknown.
var keyTypes = []registry.Type{{}, registry.TypeString, registry.TypeBytes, registry.TypeInt32, registry.TypeInt64}

// defsWithKey returns definitions whose one entity has the join key
// driver_id of type t, or nil for the zero Type.
func defsWithKey(t registry.Type) *registry.Definitions {
	if t == (registry.Type{}) {
		return nil
	}
	return &registry.Definitions{Entities: []*registry.Entity{{Name: "driver", JoinKeys: []registry.Field{{Name: "driver_id", Type: t}}}}}
}

// TestParseEntities checks how --entity rows become typed entity columns,
// and that mistakes are refused naming the row, quoting a bounded part of
// it.
func TestParseEntities(t *testing.T) {
	long := "driver_id=" + strings.Repeat("9", 3<<20)
	for _, tc := range []struct {
		name    string
		rows    []string
		typ     registry.Type
		want    string // the columns, as fmt prints them
		wantErr string
	}{
		{"typed int64", []string{"driver_id=1001", "driver_id=-7"}, registry.TypeInt64, "map[driver_id:[1001 -7]]", ""},
		{"typed int32", []string{"driver_id=12"}, registry.TypeInt32, "map[driver_id:[12]]", ""},
		{"typed string of digits", []string{"driver_id=007"}, registry.TypeString, "map[driver_id:[007]]", ""},
		{"untyped", []string{"driver_id=12,zone=north"}, registry.Type{}, "map[driver_id:[12] zone:[north]]", ""},
		{"empty value", []string{"driver_id="}, registry.TypeString, "map[driver_id:[]]", ""},
		{"no equals sign", []string{"1001"}, registry.TypeInt64, "", `--entity "1001": write KEY=VALUE`},
		{"no key", []string{"=1001"}, registry.TypeInt64, "", "write KEY=VALUE"},
		{"key twice", []string{"driver_id=1,driver_id=2"}, registry.TypeInt64, "", "driver_id is given twice"},
		{"other keys", []string{"driver_id=1", "zone=2"}, registry.TypeInt64, "", "every row must give the same keys"},
		{"missing key", []string{"driver_id=1,zone=2", "driver_id=3"}, registry.TypeInt64, "", `join key "zone" is missing`},
		{"not an int32", []string{"driver_id=4294967296"}, registry.TypeInt32, "", `"4294967296" is not an int32: value out of range`},
		{"not an int64", []string{"driver_id=12a"}, registry.TypeInt64, "", `"12a" is not an int64: invalid syntax`},
		{"3 MB value", []string{long}, registry.TypeInt32, "", "(3145738 bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseEntities(tc.rows, defsWithKey(tc.typ))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one saying %q", err, tc.wantErr)
				}
				if len(err.Error()) > 300 {
					t.Errorf("got an error of %d bytes, want at most 300", len(err.Error()))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := fmt.Sprint(got); s != tc.want {
				t.Errorf("got %s, want %s", s, tc.want)
			}
		})
	}
}

// FuzzParseEntities checks that no --entity rows make parsing panic, that
// what parses has one value per row in every column, of the join key's
// type, and converts to a request, and that errors stay short whatever
// the rows' length.
func FuzzParseEntities(f *testing.F) {
	for _, seed := range []struct {
		a, b string
		typ  uint8
	}{
		{"driver_id=1001", "driver_id=1002", 4},
		{"driver_id=1001,customer_id=5", "customer_id=6,driver_id=1002", 0},
		{"driver_id=-2147483648", "", 3},
		{"driver_id=2147483648", "", 3},
		{"driver_id=9223372036854775808", "", 4},
		{"driver_id=\xff\xfe", "", 2},
		{"driver_id=a=b,,", "", 1},
		{"=", ",", 0},
		{"driver_id=1,driver_id=1", "", 4},
		{"driver_id=+0x1f", "driver_id=1_000", 4},
	} {
		f.Add(seed.a, seed.b, seed.typ)
	}
	f.Fuzz(func(t *testing.T, a, b string, typ uint8) {
		rows := []string{a}
		if b != "" {
			rows = append(rows, b)
		}
		kt := keyTypes[int(typ)%len(keyTypes)]
		got, err := parseEntities(rows, defsWithKey(kt))
		if err != nil {
			if max := 4*registry.MaxQuoted + 200; len(err.Error()) > max {
				t.Fatalf("got an error of %d bytes, want at most %d", len(err.Error()), max)
			}
			return
		}
		for key, col := range got {
			if len(col) != len(rows) {
				t.Fatalf("column %q has %d values, want %d", key, len(col), len(rows))
			}
			for _, v := range col {
				checkKeyValue(t, key, v, kt)
			}
		}
		if _, err := (sdk.Query{FeatureService: "s", Entities: got}).Request(); err != nil {
			t.Errorf("request of %v: %v", got, err)
		}
	})
}

// checkKeyValue checks that v, a value of key, has the Go type of the key's
// type kt if key is driver_id, else an int64 or a string that is not one.
func checkKeyValue(t *testing.T, key string, v any, kt registry.Type) {
	t.Helper()
	want := registry.Type{}
	if key == "driver_id" {
		want = kt
	}
	var ok bool
	switch want.Elem {
	case registry.String:
		_, ok = v.(string)
	case registry.Bytes:
		_, ok = v.([]byte)
	case registry.Int32:
		_, ok = v.(int32)
	case registry.Int64:
		_, ok = v.(int64)
	default:
		switch x := v.(type) {
		case int64:
			ok = true
		case string:
			_, err := strconv.ParseInt(x, 10, 64)
			ok = err != nil
		}
	}
	if !ok {
		t.Errorf("%s = %#v (%T), want a value of type %v", key, v, v, want)
	}
}
