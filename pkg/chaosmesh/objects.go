package chaosmesh

import (
	"crypto/sha256"
	"encoding/hex"
	"path"
	"strconv"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Names the chart gives its objects (templates/_helpers.tpl and the
// templates), for the release name "chaos-mesh" upstream's install
// instructions use (`helm install chaos-mesh chaos-mesh/chaos-mesh -n chaos-mesh`).
const (
	ReleaseName               = "chaos-mesh"
	ControllerName            = "chaos-controller-manager" // Deployment and its ServiceAccount
	ControllerServiceName     = "chaos-mesh-controller-manager"
	DaemonName                = "chaos-daemon" // DaemonSet, Service and ServiceAccount
	WebhookSecretName         = "chaos-mesh-webhook-certs"
	DaemonSecretName          = "chaos-mesh-daemon-certs"
	DaemonClientSecretName    = "chaos-mesh-daemon-client-certs"
	ChaosdClientSecretName    = "chaos-mesh-chaosd-client-certs"
	MutatingWebhookName       = "chaos-mesh-mutation"
	ValidatingWebhookName     = "chaos-mesh-validation"
	ValidatingAuthWebhookName = "chaos-mesh-validation-auth"

	targetNamespaceRole = ReleaseName + "-chaos-controller-manager-target-namespace"
	clusterLevelRole    = ReleaseName + "-chaos-controller-manager-cluster-level"
	controlPlaneRole    = ReleaseName + "-chaos-controller-manager-control-plane"
)

// Ports and values of the chart's values.yaml.
const (
	webhookPort     = 10250 // controllerManager.env.WEBHOOK_PORT
	metricsPort     = 10080 // controllerManager.env.METRICS_PORT
	pprofPort       = 10081 // enableProfiling
	daemonGRPCPort  = 31767 // chaosDaemon.grpcPort
	daemonHTTPPort  = 31766 // chaosDaemon.httpPort
	bpfkiPort       = 50051 // bpfki.grpcPort
	dnsServerName   = "chaos-mesh-dns-server"
	dnsServerPort   = 9288
	webhookTimeout  = 5 // webhook.timeoutSeconds
	daemonCertDir   = "/etc/chaos-daemon/cert"
	chaosdCertDir   = "/etc/chaosd/cert"
	webhookCertDir  = "/etc/webhook/certs"
	hostRunDir      = "/host-run"
	rollmeAnnoation = "rollme"
)

// ImagesAnnotation carries Options.ImageRevision on the pod templates.
const ImagesAnnotation = "mcpsim.dev/images"

// Labels every object carries.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedBy      = "mcpsim"
	PartOfLabel    = "app.kubernetes.io/part-of"
	ComponentLabel = "app.kubernetes.io/component"
	// InstalledByLabel marks the namespace (which does not carry
	// managed-by; see Build).
	InstalledByLabel = "mcpsim.dev/installed-by"
	// Selector picks every object mcpsim installed for Chaos Mesh.
	Selector = ManagedByLabel + "=" + ManagedBy + "," + PartOfLabel + "=" + ReleaseName
)

// webhookCRDs is the chart's webhook.CRDS: one mutating and one validating
// webhook per entry.
var webhookCRDs = []string{"podchaos", "iochaos", "timechaos", "networkchaos", "kernelchaos", "stresschaos",
	"awschaos", "azurechaos", "gcpchaos", "dnschaos", "jvmchaos", "schedule", "workflow", "httpchaos",
	"blockchaos", "physicalmachinechaos", "physicalmachine", "statuscheck", "remotecluster"}

// webhookResource is the resource a webhook.CRDS entry names (the
// chart's special cases: plural forms for a few kinds).
func webhookResource(crd string) string {
	switch crd {
	case "schedule", "workflow", "physicalmachine", "statuscheck":
		return crd + "s"
	}
	return crd
}

// Objects are what the chart creates for the controller manager and the
// daemon with its default values (no dashboard, DNS server, Prometheus or
// cert-manager), in the order Install applies them. The CRDs are not
// here: they are read from the module's manifests (LoadCRDs).
type Objects struct {
	Namespace           *corev1.Namespace
	ServiceAccounts     []*corev1.ServiceAccount
	ClusterRoles        []*rbacv1.ClusterRole
	ClusterRoleBindings []*rbacv1.ClusterRoleBinding
	Roles               []*rbacv1.Role
	RoleBindings        []*rbacv1.RoleBinding
	Secrets             []*corev1.Secret
	Services            []*corev1.Service
	Deployment          *appsv1.Deployment
	DaemonSet           *appsv1.DaemonSet
	Mutating            *admissionv1.MutatingWebhookConfiguration
	Validating          []*admissionv1.ValidatingWebhookConfiguration
}

// Workloads are the objects up to the workloads: everything but the
// webhook configurations.
func (o *Objects) Workloads() []runtime.Object {
	out := []runtime.Object{o.Namespace}
	out = appendObjects(out, o.ServiceAccounts)
	out = appendObjects(out, o.ClusterRoles)
	out = appendObjects(out, o.ClusterRoleBindings)
	out = appendObjects(out, o.Roles)
	out = appendObjects(out, o.RoleBindings)
	out = appendObjects(out, o.Secrets)
	out = appendObjects(out, o.Services)
	return append(out, o.Deployment, o.DaemonSet)
}

func appendObjects[T runtime.Object](out []runtime.Object, xs []T) []runtime.Object {
	for _, x := range xs {
		out = append(out, x)
	}
	return out
}

// Webhooks are the webhook configurations (applied once the controller
// manager serves them).
func (o *Objects) Webhooks() []runtime.Object {
	out := []runtime.Object{o.Mutating}
	for _, x := range o.Validating {
		out = append(out, x)
	}
	return out
}

// All is every object, in order.
func (o *Objects) All() []runtime.Object { return append(o.Workloads(), o.Webhooks()...) }

// labels are the chart's chaos-mesh.labels plus the component, with
// managed-by mcpsim (the chart: Helm). helm.sh/chart is left out: no
// Helm release owns these objects.
func (opts *Options) labels(component string) map[string]string {
	l := map[string]string{
		"app.kubernetes.io/name":     ReleaseName,
		"app.kubernetes.io/instance": ReleaseName,
		ManagedByLabel:               ManagedBy,
		PartOfLabel:                  ReleaseName,
	}
	if opts.Version != "" {
		l["app.kubernetes.io/version"] = opts.Version
	}
	if component != "" {
		l[ComponentLabel] = component
	}
	return l
}

// selector is the chart's chaos-mesh.selectors plus the component.
func selector(component string) map[string]string {
	return map[string]string{"app.kubernetes.io/name": ReleaseName, "app.kubernetes.io/instance": ReleaseName, ComponentLabel: component}
}

var (
	tmCore = func(kind string) metav1.TypeMeta { return metav1.TypeMeta{APIVersion: "v1", Kind: kind} }
	tmRBAC = func(kind string) metav1.TypeMeta {
		return metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: kind}
	}
	tmApps      = func(kind string) metav1.TypeMeta { return metav1.TypeMeta{APIVersion: "apps/v1", Kind: kind} }
	tmAdmission = func(kind string) metav1.TypeMeta {
		return metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: kind}
	}
	readAllVerbs = []string{"get", "list", "watch"}
)

// Build returns the objects for opts (defaulted) and certs.
func Build(opts Options, certs *Certs) *Objects {
	opts.defaults()
	ns := opts.Namespace
	meta := func(name, component string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: opts.labels(component)}
	}
	clusterMeta := func(name, component string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Labels: opts.labels(component)}
	}
	o := &Objects{}

	// The namespace (Helm's --create-namespace makes it bare). It does not
	// carry managed-by=mcpsim: `mcpsim cluster clean` deletes every
	// namespace with that label (kube.Clean), which would remove Chaos
	// Mesh and leave its webhooks, whose failurePolicy is Fail, refusing
	// every chaos object.
	nsLabels := opts.labels("")
	delete(nsLabels, ManagedByLabel)
	nsLabels[InstalledByLabel] = ManagedBy
	o.Namespace = &corev1.Namespace{TypeMeta: tmCore("Namespace"), ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: nsLabels}}

	// controller-manager-rbac.yaml and chaos-daemon-rbac.yaml.
	saController := ControllerName
	o.ServiceAccounts = []*corev1.ServiceAccount{
		{TypeMeta: tmCore("ServiceAccount"), ObjectMeta: meta(saController, "controller-manager")},
		{TypeMeta: tmCore("ServiceAccount"), ObjectMeta: meta(DaemonName, "chaos-daemon")},
	}
	o.ClusterRoles = []*rbacv1.ClusterRole{
		{TypeMeta: tmRBAC("ClusterRole"), ObjectMeta: clusterMeta(targetNamespaceRole, "controller-manager"), Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods", "configmaps", "secrets"}, Verbs: []string{"get", "list", "watch", "delete", "update", "patch"}},
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create"}},
			{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
			{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"patch", "create", "watch", "list", "get"}},
			{APIGroups: []string{"chaos-mesh.org"}, Resources: []string{"*"}, Verbs: []string{"*"}},
		}},
		{TypeMeta: tmRBAC("ClusterRole"), ObjectMeta: clusterMeta(clusterLevelRole, "controller-manager"), Rules: []rbacv1.PolicyRule{
			// clusterScoped: true adds namespaces and services.
			{APIGroups: []string{""}, Resources: []string{"nodes", "persistentvolumes", "persistentvolumeclaims", "namespaces", "services"}, Verbs: readAllVerbs},
			{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
		}},
	}
	o.Roles = []*rbacv1.Role{
		{TypeMeta: tmRBAC("Role"), ObjectMeta: meta(controlPlaneRole, "controller-manager"), Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"services", "secrets"}, Verbs: readAllVerbs},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: readAllVerbs},
			{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
			{APIGroups: []string{""}, Resources: []string{"pods/exec"}, Verbs: []string{"create"}},
			{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"*"}},
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"*"}},
		}},
	}
	subjects := []rbacv1.Subject{{Kind: "ServiceAccount", Name: saController, Namespace: ns}}
	roleRef := func(kind, name string) rbacv1.RoleRef {
		return rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: kind, Name: name}
	}
	o.ClusterRoleBindings = []*rbacv1.ClusterRoleBinding{
		{TypeMeta: tmRBAC("ClusterRoleBinding"), ObjectMeta: clusterMeta(clusterLevelRole, "controller-manager"), RoleRef: roleRef("ClusterRole", clusterLevelRole), Subjects: subjects},
		// clusterScoped: a ClusterRoleBinding (else a RoleBinding in targetNamespace).
		{TypeMeta: tmRBAC("ClusterRoleBinding"), ObjectMeta: clusterMeta(targetNamespaceRole, "controller-manager"), RoleRef: roleRef("ClusterRole", targetNamespaceRole), Subjects: subjects},
	}
	o.RoleBindings = []*rbacv1.RoleBinding{
		{TypeMeta: tmRBAC("RoleBinding"), ObjectMeta: meta(controlPlaneRole, "controller-manager"), RoleRef: roleRef("Role", controlPlaneRole), Subjects: subjects},
	}

	// secrets-configuration.yaml.
	tlsData := func(ca, leaf *KeyPair) map[string][]byte {
		return map[string][]byte{"ca.crt": ca.CertPEM, "tls.crt": leaf.CertPEM, "tls.key": leaf.KeyPEM}
	}
	chaosd := tlsData(&certs.ChaosdCA, &certs.ChaosdClient)
	chaosd["ca.key"] = certs.ChaosdCA.KeyPEM
	secret := func(name, component string, data map[string][]byte) *corev1.Secret {
		return &corev1.Secret{TypeMeta: tmCore("Secret"), ObjectMeta: meta(name, component), Type: corev1.SecretTypeOpaque, Data: data}
	}
	o.Secrets = []*corev1.Secret{
		secret(WebhookSecretName, "webhook-secret", tlsData(&certs.CA, &certs.Webhook)),
		secret(DaemonSecretName, "chaos-daemon-cert", tlsData(&certs.CA, &certs.DaemonServer)),
		secret(DaemonClientSecretName, "chaos-daemon-client-cert", tlsData(&certs.CA, &certs.DaemonClient)),
		secret(ChaosdClientSecretName, "chaosd-client-cert", chaosd),
	}

	// controller-manager-service.yaml and chaos-daemon-service.yaml.
	tcp := func(name string, port int32, target string) corev1.ServicePort {
		return corev1.ServicePort{Name: name, Port: port, TargetPort: intstr.FromString(target), Protocol: corev1.ProtocolTCP}
	}
	ctlSvc := &corev1.Service{TypeMeta: tmCore("Service"), ObjectMeta: meta(ControllerServiceName, "controller-manager"), Spec: corev1.ServiceSpec{
		Type:     corev1.ServiceTypeClusterIP,
		Ports:    []corev1.ServicePort{tcp("webhook", 443, "webhook"), tcp("pprof", pprofPort, "pprof"), tcp("http", metricsPort, "http")},
		Selector: selector("controller-manager"),
	}}
	ctlSvc.Annotations = map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": strconv.Itoa(metricsPort)}
	dmnSvc := &corev1.Service{TypeMeta: tmCore("Service"), ObjectMeta: meta(DaemonName, "chaos-daemon"), Spec: corev1.ServiceSpec{
		ClusterIP: corev1.ClusterIPNone,
		Ports:     []corev1.ServicePort{tcp("grpc", daemonGRPCPort, "grpc"), tcp("http", daemonHTTPPort, "http")},
		Selector:  selector("chaos-daemon"),
	}}
	dmnSvc.Annotations = map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": strconv.Itoa(daemonHTTPPort)}
	o.Services = []*corev1.Service{ctlSvc, dmnSvc}

	rollme := map[string]string{rollmeAnnoation: certs.Fingerprint()}
	if opts.ImageRevision != "" {
		rollme[ImagesAnnotation] = opts.ImageRevision
	}
	o.Deployment = controllerDeployment(&opts, meta(ControllerName, "controller-manager"), rollme)
	o.DaemonSet = daemonSet(&opts, meta(DaemonName, "chaos-daemon"), rollme)

	// mutating-admission-webhooks.yaml and validating-admission-webhooks.yaml.
	clientConfig := func(path string) admissionv1.WebhookClientConfig {
		return admissionv1.WebhookClientConfig{CABundle: certs.CA.CertPEM,
			Service: &admissionv1.ServiceReference{Name: ControllerServiceName, Namespace: ns, Path: ptr.To(path)}}
	}
	rules := func(resource string) []admissionv1.RuleWithOperations {
		return []admissionv1.RuleWithOperations{{Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
			Rule: admissionv1.Rule{APIGroups: []string{"chaos-mesh.org"}, APIVersions: []string{"v1alpha1"}, Resources: []string{resource}}}}
	}
	fail := ptr.To(admissionv1.Fail)
	none := ptr.To(admissionv1.SideEffectClassNone)
	reviews := []string{"v1", "v1beta1"}
	o.Mutating = &admissionv1.MutatingWebhookConfiguration{TypeMeta: tmAdmission("MutatingWebhookConfiguration"), ObjectMeta: clusterMeta(MutatingWebhookName, "admission-webhook")}
	validating := &admissionv1.ValidatingWebhookConfiguration{TypeMeta: tmAdmission("ValidatingWebhookConfiguration"), ObjectMeta: clusterMeta(ValidatingWebhookName, "admission-webhook")}
	for _, crd := range webhookCRDs {
		o.Mutating.Webhooks = append(o.Mutating.Webhooks, admissionv1.MutatingWebhook{
			Name: "m" + crd + ".kb.io", ClientConfig: clientConfig("/mutate-chaos-mesh-org-v1alpha1-" + crd), Rules: rules(webhookResource(crd)),
			FailurePolicy: fail, SideEffects: none, TimeoutSeconds: ptr.To[int32](webhookTimeout), AdmissionReviewVersions: reviews,
		})
		validating.Webhooks = append(validating.Webhooks, admissionv1.ValidatingWebhook{
			Name: "v" + crd + ".kb.io", ClientConfig: clientConfig("/validate-chaos-mesh-org-v1alpha1-" + crd), Rules: rules(webhookResource(crd)),
			FailurePolicy: fail, SideEffects: none, TimeoutSeconds: ptr.To[int32](webhookTimeout), AdmissionReviewVersions: reviews,
		})
	}
	auth := &admissionv1.ValidatingWebhookConfiguration{TypeMeta: tmAdmission("ValidatingWebhookConfiguration"), ObjectMeta: clusterMeta(ValidatingAuthWebhookName, "admission-webhook"),
		Webhooks: []admissionv1.ValidatingWebhook{{
			Name: "vauth.kb.io", ClientConfig: clientConfig("/validate-auth"), Rules: rules("*"),
			FailurePolicy: fail, SideEffects: none, TimeoutSeconds: ptr.To[int32](webhookTimeout), AdmissionReviewVersions: reviews,
		}}}
	o.Validating = []*admissionv1.ValidatingWebhookConfiguration{validating, auth}
	return o
}

func env(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }

func fieldEnv(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
}

func secretVolume(name, secret string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}}
}

func hostPathVolume(name, path string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path}}}
}

// controllerDeployment is controller-manager-deployment.yaml with the
// default values: the environment in the chart's order (the env map's
// keys sorted, as Helm ranges over them, then the fixed ones).
func controllerDeployment(opts *Options, meta metav1.ObjectMeta, annotations map[string]string) *appsv1.Deployment {
	podLabels := opts.labels("controller-manager")
	c := corev1.Container{
		Name:            "chaos-mesh",
		Image:           opts.ControllerImage,
		ImagePullPolicy: opts.PullPolicy,
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("25m"), corev1.ResourceMemory: resource.MustParse("256Mi")}},
		Command: []string{"/usr/local/bin/chaos-controller-manager"},
		Env: []corev1.EnvVar{
			env("METRICS_PORT", strconv.Itoa(metricsPort)),
			env("WEBHOOK_PORT", strconv.Itoa(webhookPort)),
			fieldEnv("NAMESPACE", "metadata.namespace"),
			fieldEnv("TEMPLATE_NAMESPACE", "metadata.namespace"),
			env("ALLOW_HOST_NETWORK_TESTING", "false"),
			// controllerManager.targetNamespace (chaos-mesh); used only
			// when clusterScoped is false.
			env("TARGET_NAMESPACE", opts.Namespace),
			env("QPS", "30"),
			env("BURST", "50"),
			env("CLUSTER_SCOPED", "true"),
			env("TZ", "UTC"),
			env("CHAOS_DAEMON_SERVICE_PORT", strconv.Itoa(daemonGRPCPort)),
			env("BPFKI_PORT", strconv.Itoa(bpfkiPort)),
			env("ENABLED_CONTROLLERS", "*"),
			env("ENABLED_WEBHOOKS", "*"),
			env("TEMPLATE_LABELS", "app.kubernetes.io/component:template"),
			env("CONFIGMAP_LABELS", "app.kubernetes.io/component:webhook"),
			env("ENABLE_FILTER_NAMESPACE", "false"),
			env("PPROF_ADDR", ":"+strconv.Itoa(pprofPort)),
			env("CHAOS_DNS_SERVICE_NAME", dnsServerName),
			env("CHAOS_DNS_SERVICE_PORT", strconv.Itoa(dnsServerPort)),
			env("SECURITY_MODE", "true"),
			env("CHAOSD_SECURITY_MODE", "true"),
			env("CHAOS_DAEMON_CLIENT_CERT", daemonCertDir+"/tls.crt"),
			env("CHAOS_DAEMON_CLIENT_KEY", daemonCertDir+"/tls.key"),
			env("CHAOS_MESH_CA_CERT", daemonCertDir+"/ca.crt"),
			env("CHAOSD_CA_CERT", chaosdCertDir+"/ca.crt"),
			env("CHAOSD_CLIENT_CERT", chaosdCertDir+"/tls.crt"),
			env("CHAOSD_CLIENT_KEY", chaosdCertDir+"/tls.key"),
			// The chart's gcr.io/google-containers/pause:latest cannot be
			// pulled here; see Options.PodFailurePauseImage.
			env("POD_FAILURE_PAUSE_IMAGE", opts.PodFailurePauseImage),
			env("ENABLE_LEADER_ELECTION", "true"),
			env("LEADER_ELECT_LEASE_DURATION", "15s"),
			env("LEADER_ELECT_RENEW_DEADLINE", "10s"),
			env("LEADER_ELECT_RETRY_PERIOD", "2s"),
		},
		VolumeMounts: []corev1.VolumeMount{
			{Name: "webhook-certs", MountPath: webhookCertDir, ReadOnly: true},
			{Name: "chaos-daemon-client-cert", MountPath: daemonCertDir, ReadOnly: true},
			{Name: "chaosd-client-cert", MountPath: chaosdCertDir, ReadOnly: true},
		},
		Ports: []corev1.ContainerPort{
			{Name: "webhook", ContainerPort: webhookPort},
			{Name: "http", ContainerPort: metricsPort},
			{Name: "pprof", ContainerPort: pprofPort},
		},
	}
	return &appsv1.Deployment{TypeMeta: tmApps("Deployment"), ObjectMeta: meta, Spec: appsv1.DeploymentSpec{
		// leaderElection.enabled: replicaCount (3).
		Replicas: ptr.To(opts.ControllerReplicas),
		Selector: &metav1.LabelSelector{MatchLabels: selector("controller-manager")},
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: annotations},
			Spec: corev1.PodSpec{
				SecurityContext:    &corev1.PodSecurityContext{},
				ServiceAccountName: ControllerName,
				NodeSelector:       opts.ControllerNodeSelector,
				Tolerations:        opts.ControllerTolerations,
				Containers:         []corev1.Container{c},
				Volumes: []corev1.Volume{
					secretVolume("webhook-certs", WebhookSecretName),
					secretVolume("chaos-daemon-client-cert", DaemonClientSecretName),
					secretVolume("chaosd-client-cert", ChaosdClientSecretName),
				},
			},
		},
	}}
}

// daemonSet is chaos-daemon-daemonset.yaml with the default values but
// runtime containerd and socketPath /run/containerd/containerd.sock
// (kind's nodes run containerd; the chart's default is docker).
func daemonSet(opts *Options, meta metav1.ObjectMeta, annotations map[string]string) *appsv1.DaemonSet {
	socketDir, socketBase := path.Dir(opts.SocketPath), path.Base(opts.SocketPath)
	c := corev1.Container{
		Name:            "chaos-daemon",
		Image:           opts.DaemonImage,
		ImagePullPolicy: opts.PullPolicy,
		Command: []string{"/usr/local/bin/chaos-daemon",
			"--runtime", opts.Runtime,
			"--http-port", strconv.Itoa(daemonHTTPPort),
			"--grpc-port", strconv.Itoa(daemonGRPCPort),
			"--pprof",
			"--ca", daemonCertDir + "/ca.crt",
			"--cert", daemonCertDir + "/tls.crt",
			"--key", daemonCertDir + "/tls.key",
			"--runtime-socket-path", hostRunDir + "/" + socketBase,
		},
		Env: []corev1.EnvVar{env("TZ", "UTC")},
		SecurityContext: &corev1.SecurityContext{
			Privileged:   ptr.To(true),
			Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_PTRACE"}},
		},
		VolumeMounts: []corev1.VolumeMount{
			{Name: "socket-path", MountPath: hostRunDir},
			{Name: "sys-path", MountPath: "/host-sys"},
			{Name: "lib-modules", MountPath: "/lib/modules"},
			{Name: "chaos-daemon-cert", MountPath: daemonCertDir, ReadOnly: true},
		},
		Ports: []corev1.ContainerPort{
			{Name: "grpc", ContainerPort: daemonGRPCPort},
			{Name: "http", ContainerPort: daemonHTTPPort},
		},
	}
	return &appsv1.DaemonSet{TypeMeta: tmApps("DaemonSet"), ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: selector("chaos-daemon")},
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: opts.labels("chaos-daemon"), Annotations: annotations},
			Spec: corev1.PodSpec{
				ServiceAccountName: DaemonName,
				HostPID:            true,
				Containers:         []corev1.Container{c},
				Volumes: []corev1.Volume{
					hostPathVolume("socket-path", socketDir),
					hostPathVolume("sys-path", "/sys"),
					hostPathVolume("lib-modules", "/lib/modules"),
					secretVolume("chaos-daemon-cert", DaemonSecretName),
				},
			},
		},
	}}
}

// Revision condenses image IDs (or any strings identifying the images'
// content) into an Options.ImageRevision.
func Revision(ids ...string) string {
	h := sha256.New()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
