//go:build tools

// Package etcd pins the etcd release of the control plane (kubeadm 1.34
// asks for etcd 3.6.5).
package etcd

import _ "go.etcd.io/etcd/server/v3"
