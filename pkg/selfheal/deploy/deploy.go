// Package deploy builds what it takes to run the self-heal operator in a
// namespace — its CRD, least-privilege RBAC, its Deployment — and the
// SelfHealPolicy objects of a scenario, as reference.Objects does for the
// reference services. It only builds objects; the backend applies them.
package deploy

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/mcpsim/mcpsim/pkg/apis/selfheal/v1alpha1"
	"github.com/mcpsim/mcpsim/pkg/reference"
	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// Name names the operator's ServiceAccount, Role, RoleBinding and
// Deployment.
const Name = "mcpsim-selfheal"

// Ports of the operator's metrics and probes.
const (
	MetricsPort = 8081
	ProbePort   = 8082
)

// Options of the operator's objects.
type Options struct {
	// Image runs `serve --role selfheal` (default reference.DefaultImage:
	// the operator is the same binary).
	Image string
	// LeaderElection turns it on (and grants the Lease it needs).
	LeaderElection bool
}

// Objects are the objects that run the operator in one namespace.
type Objects struct {
	// CRD is cluster-scoped: shared by every namespace that runs the
	// operator.
	CRD            *apiextensionsv1.CustomResourceDefinition
	ServiceAccount *corev1.ServiceAccount
	Role           *rbacv1.Role
	RoleBinding    *rbacv1.RoleBinding
	Deployment     *appsv1.Deployment
}

// Labels of the operator's objects and pod.
func Labels() map[string]string {
	return map[string]string{"app": Name, "app.kubernetes.io/name": Name, "app.kubernetes.io/managed-by": "mcpsim"}
}

// Rules are what the operator may do, in its namespace only:
//   - pods: watch (its cache), delete (restart), patch (isolate, rejoin);
//   - services: list (which labels isolation removes; read uncached);
//   - replicasets: get (a pod's Deployment, for scale; read uncached);
//   - deployments/scale: get, update (scale);
//   - horizontalpodautoscalers: list (scale stops at an HPA's maximum;
//     read uncached);
//   - selfhealpolicies: watch; their status: update, patch;
//   - events, in both APIs (the recorder uses events.k8s.io/v1 and falls
//     back to v1): create, patch;
//   - leases, only with leader election.
func Rules(leaderElection bool) []rbacv1.PolicyRule {
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch", "delete", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"list"}},
		{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"get"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments/scale"}, Verbs: []string{"get", "update"}},
		{APIGroups: []string{"autoscaling"}, Resources: []string{"horizontalpodautoscalers"}, Verbs: []string{"list"}},
		{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"selfhealpolicies"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"selfhealpolicies/status"}, Verbs: []string{"get", "update", "patch"}},
		{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
	if leaderElection {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}})
	}
	return rules
}

// Build returns the operator's objects for namespace ns.
func Build(ns string, o Options) (*Objects, error) {
	if o.Image == "" {
		o.Image = reference.DefaultImage
	}
	crd, err := v1alpha1.CRD()
	if err != nil {
		return nil, err
	}
	meta := func() metav1.ObjectMeta { return metav1.ObjectMeta{Name: Name, Namespace: ns, Labels: Labels()} }
	sa := &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta()}
	role := &rbacv1.Role{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"}, ObjectMeta: meta(), Rules: Rules(o.LeaderElection)}
	binding := &rbacv1.RoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"}, ObjectMeta: meta(),
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: Name, Namespace: ns}}}
	args := []string{"--role", "selfheal",
		"--metrics-bind-address", ":" + strconv.Itoa(MetricsPort), "--health-probe-bind-address", ":" + strconv.Itoa(ProbePort)}
	if o.LeaderElection {
		args = append(args, "--leader-elect")
	}
	container := corev1.Container{
		Name:            "operator",
		Image:           o.Image,
		ImagePullPolicy: corev1.PullNever, // built locally, loaded into the nodes
		Args:            args,
		Env: []corev1.EnvVar{{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}},
		Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: MetricsPort}, {Name: "probes", ContainerPort: ProbePort}},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("probes")}},
			PeriodSeconds: 2},
		LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("probes")}},
			PeriodSeconds: 10},
		SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
			RunAsNonRoot: ptr.To(true), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
	}
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: meta(),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": Name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: Labels()},
				Spec: corev1.PodSpec{
					ServiceAccountName: Name,
					Containers:         []corev1.Container{container},
				},
			},
		},
	}
	return &Objects{CRD: crd, ServiceAccount: sa, Role: role, RoleBinding: binding, Deployment: dep}, nil
}

// Policy is a scenario's self-heal policy as a SelfHealPolicy in ns: the
// same spec, its target service's pods chosen by the selector the
// reference Service uses (app: <service>).
func Policy(p *scenario.SelfHealPolicy, ns string) *v1alpha1.SelfHealPolicy {
	out := &v1alpha1.SelfHealPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "SelfHealPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: ns, Labels: map[string]string{"app.kubernetes.io/managed-by": "mcpsim"}},
		Spec:       p.CRDSpec(),
	}
	return out
}

// Policies are a scenario's policies as SelfHealPolicy objects in ns.
func Policies(sc *scenario.Scenario, ns string) []*v1alpha1.SelfHealPolicy {
	out := make([]*v1alpha1.SelfHealPolicy, 0, len(sc.Spec.SelfHeal))
	for i := range sc.Spec.SelfHeal {
		out = append(out, Policy(&sc.Spec.SelfHeal[i], ns))
	}
	return out
}
