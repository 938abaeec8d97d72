package kind

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"

	"github.com/mcpsim/mcpsim/pkg/cluster/metricsapi"
)

// MetricsServerImage is the locally built metrics-server (make images).
const MetricsServerImage = "mcpsim/metrics-server:v0.8.0"

const msName, msNamespace = "metrics-server", "kube-system"

// installMetricsServer installs metrics-server as its upstream manifest
// (components.yaml of v0.8.0) does, with --kubelet-insecure-tls (kind's
// kubelets serve self-signed certificates). The objects are written out as
// typed client-go objects rather than applied from the upstream YAML: that
// manifest names a registry image and must be patched (local image, never
// pull, extra flag), and the APIService must wait for the rollout. The APIService is created only
// after the Deployment is available: applied together, the aggregator kept
// answering 404 for metrics.k8s.io (docs/kind-offline.md #8).
func (c *Cluster) installMetricsServer(ctx context.Context) error {
	core, rbac := c.Client.CoreV1(), c.Client.RbacV1()
	labels := map[string]string{"k8s-app": msName}
	meta := metav1.ObjectMeta{Name: msName, Namespace: msNamespace, Labels: labels}
	create := func(what string, err error) error {
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %s: %w", what, err)
		}
		return nil
	}
	if err := create("service account", ignore2(core.ServiceAccounts(msNamespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: meta}, metav1.CreateOptions{}))); err != nil {
		return err
	}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "system:metrics-server", Labels: labels}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"nodes/metrics"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"pods", "nodes"}, Verbs: []string{"get", "list", "watch"}},
	}}
	if err := create("cluster role", ignore2(rbac.ClusterRoles().Create(ctx, role, metav1.CreateOptions{}))); err != nil {
		return err
	}
	subject := []rbacv1.Subject{{Kind: "ServiceAccount", Name: msName, Namespace: msNamespace}}
	bindings := []*rbacv1.ClusterRoleBinding{
		{ObjectMeta: metav1.ObjectMeta{Name: "system:metrics-server", Labels: labels}, RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:metrics-server"}, Subjects: subject},
		{ObjectMeta: metav1.ObjectMeta{Name: "metrics-server:system:auth-delegator", Labels: labels}, RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:auth-delegator"}, Subjects: subject},
	}
	for _, b := range bindings {
		if err := create("cluster role binding "+b.Name, ignore2(rbac.ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{}))); err != nil {
			return err
		}
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "metrics-server-auth-reader", Namespace: msNamespace, Labels: labels},
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "extension-apiserver-authentication-reader"}, Subjects: subject}
	if err := create("role binding", ignore2(rbac.RoleBindings(msNamespace).Create(ctx, rb, metav1.CreateOptions{}))); err != nil {
		return err
	}
	svc := &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{Selector: labels,
		Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("https")}}}}
	if err := create("service", ignore2(core.Services(msNamespace).Create(ctx, svc, metav1.CreateOptions{}))); err != nil {
		return err
	}
	dep := &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
			ServiceAccountName: msName,
			PriorityClassName:  "system-cluster-critical",
			Containers: []corev1.Container{{
				Name: msName, Image: MetricsServerImage, ImagePullPolicy: corev1.PullNever,
				Args: []string{"--cert-dir=/tmp", "--secure-port=10250", "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
					"--kubelet-use-node-status-port", "--metric-resolution=15s", "--kubelet-insecure-tls"},
				Ports: []corev1.ContainerPort{{Name: "https", ContainerPort: 10250, Protocol: corev1.ProtocolTCP}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("https"), Scheme: corev1.URISchemeHTTPS}},
					InitialDelaySeconds: 5, PeriodSeconds: 5, FailureThreshold: 3},
				Resources:       corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: mustQ("100m"), corev1.ResourceMemory: mustQ("200Mi")}},
				SecurityContext: &corev1.SecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](1000), ReadOnlyRootFilesystem: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false)},
				VolumeMounts:    []corev1.VolumeMount{{Name: "tmp-dir", MountPath: "/tmp"}},
			}},
			Volumes: []corev1.Volume{{Name: "tmp-dir", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		}},
	}}
	onControlPlane(&dep.Spec.Template.Spec)
	if err := create("deployment", ignore2(c.Client.AppsV1().Deployments(msNamespace).Create(ctx, dep, metav1.CreateOptions{}))); err != nil {
		return err
	}
	if err := c.WaitAvailable(ctx, msNamespace, msName, 3*time.Minute); err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	apiService := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": "v1beta1.metrics.k8s.io", "labels": map[string]any{"k8s-app": msName}},
		"spec": map[string]any{"service": map[string]any{"name": msName, "namespace": msNamespace}, "group": "metrics.k8s.io", "version": "v1beta1",
			"insecureSkipTLSVerify": true, "groupPriorityMinimum": int64(100), "versionPriority": int64(100)},
	}}
	gvr := schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}
	if _, err := dyn.Resource(gvr).Create(ctx, apiService, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the metrics.k8s.io APIService: %w", err)
	}
	return c.waitMetricsAPI(ctx, 3*time.Minute)
}

func ignore2[T any](_ T, err error) error { return err }

// WaitAvailable waits until a Deployment has all its replicas available.
func (c *Cluster) WaitAvailable(ctx context.Context, ns, name string, timeout time.Duration) error {
	var d *appsv1.Deployment
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		var err error
		d, err = c.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil && d.Spec.Replicas != nil && d.Status.AvailableReplicas >= *d.Spec.Replicas && d.Status.ObservedGeneration >= d.Generation, nil
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("deployment %s/%s not available after %s: %s", ns, name, timeout, c.podProblems(ctx, ns, d))
	}
	return err
}

// podProblems describes why a Deployment's pods are not ready.
func (c *Cluster) podProblems(ctx context.Context, ns string, d *appsv1.Deployment) string {
	if d == nil || d.Spec.Selector == nil {
		return "deployment not found"
	}
	sel, _ := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return err.Error()
	}
	out := ""
	for _, p := range pods.Items {
		out += fmt.Sprintf("\n  pod %s: %s", p.Name, p.Status.Phase)
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil {
				out += fmt.Sprintf(" (%s: %s)", w.Reason, w.Message)
			}
		}
	}
	return out
}

// PodMetrics is one pod's entry of the Metrics API.
type PodMetrics = metricsapi.PodMetrics

// PodMetrics reads metrics.k8s.io pod metrics of a namespace.
func (c *Cluster) PodMetrics(ctx context.Context, ns string) ([]PodMetrics, error) {
	return metricsapi.Pods(ctx, c.Client, ns)
}

func (c *Cluster) waitMetricsAPI(ctx context.Context, timeout time.Duration) error {
	var lastErr error
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		pods, err := c.PodMetrics(ctx, msNamespace)
		lastErr = err
		return err == nil && len(pods) > 0, nil
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("the Metrics API reports no pods after %s (last error: %v)", timeout, lastErr)
	}
	return err
}
