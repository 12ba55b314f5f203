// Package ui is the feature server's web UI: HTML pages of the served registry version's features, labels and datasets.
package ui
