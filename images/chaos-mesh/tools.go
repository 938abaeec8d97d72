//go:build tools

// Package chaosmesh pins the Chaos Mesh release whose chaos-controller-manager
// and chaos-daemon images/build-chaos-mesh.sh builds (see DEPENDENCIES.md,
// "Chaos Mesh builds offline").
package chaosmesh

import (
	_ "github.com/chaos-mesh/chaos-mesh/cmd/chaos-controller-manager"
	_ "github.com/chaos-mesh/chaos-mesh/cmd/chaos-daemon"
)
