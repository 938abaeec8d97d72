// Package hpa is the Kubernetes v1.34 HorizontalPodAutoscaler decision logic
// as a pure library: no informers, no clients, the clock passed in.
//
// It restates pkg/controller/podautoscaler of k8s.io/kubernetes v1.34.4
// (horizontal.go, replica_calculator.go, metrics/utilization.go) following
// the project's fidelity spec (docs/hpa-fidelity.md; section numbers
// in comments refer to it). The simulated cluster calls Controller.Reconcile
// directly; `mcpsim conformance hpa` runs the upstream reference cases
// through the same code.
//
// Quantities are int64 milli-units (millicores for CPU, value×1000 for custom
// metrics), as in the upstream code, so integer truncations happen where
// Kubernetes truncates.
package hpa
