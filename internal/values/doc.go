// Package values is the table of value types (Kind: each scalar type's wire
// Value cases, representation, Go value, DuckDB type and drift profile) and
// checks and converts feature values of the wire type almanacv1.Value
// against the types of definitions.
package values
