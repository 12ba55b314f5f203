// Package stores opens the stores a feature repository's settings name: its
// registry, its offline store and its online store.
//
// It needs no server, so that package sdk/repo can open a repository the
// same way as the feature server (package runtime) does.
package stores
