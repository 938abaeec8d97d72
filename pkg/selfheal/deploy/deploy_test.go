package deploy

import (
	"reflect"
	"slices"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/mcpsim/mcpsim/pkg/apis/selfheal/v1alpha1"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/selfheal"
)

// The operator's rights are the listed ones and no more: no wildcard, no
// cluster scope, no secrets, nothing it does not call.
func TestLeastPrivilege(t *testing.T) {
	o, err := Build("run", Options{})
	if err != nil {
		t.Fatal(err)
	}
	type grant struct{ group, resource, verb string }
	var got []grant
	for _, r := range o.Role.Rules {
		if len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
			t.Fatalf("unexpected rule %+v", r)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					if g == "*" || res == "*" || v == "*" {
						t.Fatalf("wildcard in %+v", r)
					}
					got = append(got, grant{g, res, v})
				}
			}
		}
	}
	want := []grant{
		{"", "pods", "get"}, {"", "pods", "list"}, {"", "pods", "watch"}, {"", "pods", "delete"}, {"", "pods", "patch"},
		{"", "services", "list"},
		{"apps", "replicasets", "get"},
		{"apps", "deployments/scale", "get"}, {"apps", "deployments/scale", "update"},
		{"autoscaling", "horizontalpodautoscalers", "list"},
		{"mcpsim.dev", "selfhealpolicies", "get"}, {"mcpsim.dev", "selfhealpolicies", "list"}, {"mcpsim.dev", "selfhealpolicies", "watch"},
		{"mcpsim.dev", "selfhealpolicies/status", "get"}, {"mcpsim.dev", "selfhealpolicies/status", "update"}, {"mcpsim.dev", "selfhealpolicies/status", "patch"},
		{"", "events", "create"}, {"", "events", "patch"}, {"events.k8s.io", "events", "create"}, {"events.k8s.io", "events", "patch"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("grants\n%v\nwant\n%v", got, want)
	}
	if o.Role.Namespace != "run" || o.RoleBinding.Namespace != "run" || o.RoleBinding.Subjects[0].Name != o.ServiceAccount.Name ||
		o.RoleBinding.RoleRef != (rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: o.Role.Name}) {
		t.Fatalf("binding %+v", o.RoleBinding)
	}
	spec := o.Deployment.Spec.Template.Spec
	if spec.ServiceAccountName != o.ServiceAccount.Name || spec.Containers[0].Image != "mcpsim/reference:dev" ||
		!slices.Equal(spec.Containers[0].Args[:2], []string{"--role", "selfheal"}) || slices.Contains(spec.Containers[0].Args, "--leader-elect") {
		t.Fatalf("deployment %+v", spec)
	}
	le, _ := Build("run", Options{LeaderElection: true})
	if n := len(le.Role.Rules); n != len(o.Role.Rules)+1 || le.Role.Rules[n-1].Resources[0] != "leases" ||
		!slices.Contains(le.Deployment.Spec.Template.Spec.Containers[0].Args, "--leader-elect") {
		t.Fatalf("leader election: %+v", le.Role.Rules)
	}
}

// A scenario's policy and the SelfHealPolicy the backend makes of it give
// the engine the same policy: the sim and the operator decide alike.
func TestPolicyDecidesAsTheScenario(t *testing.T) {
	d := func(s string) *metav1.Duration { v, _ := time.ParseDuration(s); return &metav1.Duration{Duration: v} }
	for _, p := range []scenario.SelfHealPolicy{
		{Name: "defaults", Target: "payment", Subscriptions: []v1alpha1.Subscription{{Event: selfheal.InstanceDown, Action: selfheal.Restart}}},
		{Name: "all", Target: "gateway",
			HealthCheck: &v1alpha1.HealthCheck{Path: "/readyz", Interval: d("2s"), Timeout: d("500ms"), FailureThreshold: ptr.To[int32](2)},
			Subscriptions: []v1alpha1.Subscription{{Event: selfheal.InstanceDown, Action: selfheal.Isolate, Timeout: d("1s"), Retries: ptr.To[int32](0)},
				{Event: selfheal.InstanceDown, Action: selfheal.Scale}},
			RateLimit: &v1alpha1.RateLimit{MaxConcurrent: ptr.To[int32](2), MinAvailable: ptr.To[int32](0)}},
	} {
		sc := &scenario.Scenario{}
		sc.Spec.SelfHeal = []scenario.SelfHealPolicy{p}
		obj := Policies(sc, "run")[0] // before the scenario's defaults: the CRD's must give the same
		scenario.SetDefaults(sc)
		want := sc.Spec.SelfHeal[0].EnginePolicy()
		got := obj.Spec.EnginePolicy(obj.Name, "gateway")
		got.Target = want.Target
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\noperator %+v\nsim      %+v", p.Name, got, want)
		}
		if obj.Namespace != "run" || obj.Spec.Selector.MatchLabels["app"] != p.Target {
			t.Errorf("%s: %+v", p.Name, obj.ObjectMeta)
		}
	}
}
