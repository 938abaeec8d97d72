// Package chaosmesh installs Chaos Mesh's controller manager and chaos
// daemon into a Kubernetes cluster, as upstream's Helm chart
// (helm/chaos-mesh in the github.com/chaos-mesh/chaos-mesh module, v2.8
// line) does with its default values, minus the parts mcpsim does not
// use (dashboard, DNS server, Prometheus, cert-manager): the namespace,
// service accounts, (cluster) roles and bindings, the controller
// manager's Deployment and Service, the chaos-daemon DaemonSet (hostPID,
// privileged, on containerd) and its headless Service, the mutating and
// validating webhook configurations, and the certificates in Secrets.
// Names, labels, flags, environment and ports mirror the chart's
// templates; the differences are deliberate and commented where they
// are made (local images never pulled, managed-by mcpsim, the pod-failure
// pause image, runtime containerd).
//
// The objects are typed Go objects (client-go's API types) built here,
// not the chart rendered with the Helm SDK: helm.sh/helm/v3 requires its
// own k8s.io/{api,client-go} line plus k8s.io/kubectl and cli-runtime,
// which would move or conflict with mcpsim's Kubernetes client version,
// and brings a large dependency tree (ORAS, Sprig, Squirrel, Docker
// credential helpers, …) for a dozen objects. Typed objects
// are checked by the compiler and unit-testable without a cluster. The
// chart's randomness is replaced: certificates are generated with
// crypto/x509 as its _certs.tpl generates them with Sprig (a CA
// "chaos-mesh-ca" signing the webhook serving certificate and the
// daemon's gRPC server and client certificates; a second CA for the
// chaosd client), and the pods' "rollme" annotation is a hash of the
// certificates instead of a random string, so pods restart exactly when
// the certificates change.
//
// The CRDs are not copied into this repository: they are upstream's
// config/crd/bases of the pinned module, which `make images`
// (images/build-chaos-mesh.sh) copies next to the binaries
// ($MCPSIM_CACHE/chaos-mesh/crds). Everything is server-side applied
// (field manager "mcpsim"), so Install is idempotent.
//
// Every object is labelled app.kubernetes.io/managed-by=mcpsim and
// app.kubernetes.io/part-of=chaos-mesh (Selector), except the namespace
// (see Build).
package chaosmesh
