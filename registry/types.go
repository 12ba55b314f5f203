package registry

import (
	"fmt"
	"strings"
)

// Scalar is the element type of a feature value.
type Scalar uint8

// The scalar types a feature or join key can have.
const (
	Invalid Scalar = iota
	Int32
	Int64
	Float32
	Float64
	Bool
	String
	Bytes
	Timestamp
)

var scalarNames = [...]string{
	Invalid:   "invalid",
	Int32:     "int32",
	Int64:     "int64",
	Float32:   "float32",
	Float64:   "float64",
	Bool:      "bool",
	String:    "string",
	Bytes:     "bytes",
	Timestamp: "timestamp",
}

func (s Scalar) String() string {
	if int(s) < len(scalarNames) {
		return scalarNames[s]
	}
	return fmt.Sprintf("scalar(%d)", s)
}

// Type is the type of a feature or join key: a scalar or a list of scalars.
// The zero Type is invalid.
type Type struct {
	Elem Scalar
	List bool
}

// Scalar types, for convenience.
var (
	TypeInt32     = Type{Elem: Int32}
	TypeInt64     = Type{Elem: Int64}
	TypeFloat32   = Type{Elem: Float32}
	TypeFloat64   = Type{Elem: Float64}
	TypeBool      = Type{Elem: Bool}
	TypeString    = Type{Elem: String}
	TypeBytes     = Type{Elem: Bytes}
	TypeTimestamp = Type{Elem: Timestamp}
)

// ListOf returns the list type of s.
func ListOf(s Scalar) Type { return Type{Elem: s, List: true} }

// Valid reports whether t names a real type.
func (t Type) Valid() bool { return t.Elem > Invalid && t.Elem <= Timestamp }

// String returns the type as it is written in definitions: "int64", "list<float32>".
func (t Type) String() string {
	if t.List {
		return "list<" + t.Elem.String() + ">"
	}
	return t.Elem.String()
}

// TypeNames lists every type name accepted in definitions.
func TypeNames() []string {
	var names []string
	for s := Int32; s <= Timestamp; s++ {
		names = append(names, s.String())
	}
	for s := Int32; s <= Timestamp; s++ {
		names = append(names, ListOf(s).String())
	}
	return names
}

// ParseType parses a type as written in definitions.
func ParseType(s string) (Type, error) {
	name := strings.TrimSpace(s)
	list := false
	if inner, ok := strings.CutPrefix(name, "list<"); ok {
		elem, ok := strings.CutSuffix(inner, ">")
		if !ok {
			return Type{}, fmt.Errorf("unknown type %q", Clip(s))
		}
		name, list = strings.TrimSpace(elem), true
	}
	for sc := Int32; sc <= Timestamp; sc++ {
		if sc.String() == name {
			return Type{Elem: sc, List: list}, nil
		}
	}
	return Type{}, fmt.Errorf("unknown type %q", Clip(s))
}

// validJoinKeyType reports whether t can identify an entity.
func validJoinKeyType(t Type) bool {
	return !t.List && (t.Elem == Int32 || t.Elem == Int64 || t.Elem == String || t.Elem == Bytes)
}
