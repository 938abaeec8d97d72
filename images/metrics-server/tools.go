//go:build tools

// Package metricsserver pins the metrics-server release that serves the
// Metrics API to the HPA.
package metricsserver

import _ "sigs.k8s.io/metrics-server/cmd/metrics-server"
