//go:build tools

// Package kubernetes pins the Kubernetes release whose binaries the kind
// node image is built from. Its go.mod replaces every staging module with
// the published v0.34.x of the same name, which is how k8s.io/kubernetes
// builds outside its own repository.
package kubernetes

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubeadm"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
