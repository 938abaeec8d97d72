//go:build tools

// Package coredns pins the CoreDNS release of the cluster DNS (kubeadm 1.34
// asks for CoreDNS v1.12.1).
package coredns

import _ "github.com/coredns/coredns"
