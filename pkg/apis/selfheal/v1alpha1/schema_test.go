package v1alpha1

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/mcpsim/mcpsim/pkg/selfheal"
)

// schema is the generated CRD's schema as the API server uses it: the
// OpenAPI validator, the structural schema (defaulting) and the CEL rules.
type crdSchema struct {
	openapi    apiservervalidation.SchemaValidator
	structural *structuralschema.Structural
	cel        *cel.Validator
}

func loadSchema(t *testing.T) *crdSchema {
	t.Helper()
	crd, err := CRD()
	if err != nil {
		t.Fatal(err)
	}
	var in apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(crd.Spec.Versions[0].Schema.OpenAPIV3Schema, &in, nil); err != nil {
		t.Fatal(err)
	}
	v, _, err := apiservervalidation.NewSchemaValidator(&in)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := structuralschema.NewStructural(&in)
	if err != nil {
		t.Fatal(err)
	}
	return &crdSchema{openapi: v, structural: ss, cel: cel.NewValidator(ss, true, celconfig.PerCallLimit)}
}

// admit defaults and validates obj as the API server does on create.
func (s *crdSchema) admit(obj map[string]any) []string {
	defaulting.Default(obj, s.structural)
	var out []string
	for _, e := range apiservervalidation.ValidateCustomResource(nil, obj, s.openapi) {
		out = append(out, e.Error())
	}
	errs, _ := s.cel.Validate(context.Background(), nil, s.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func object(t *testing.T, spec string) map[string]any {
	t.Helper()
	var obj map[string]any
	doc := "apiVersion: mcpsim.dev/v1alpha1\nkind: SelfHealPolicy\nmetadata: {name: p, namespace: n}\nspec: " + spec
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

const minimal = `{selector: {matchLabels: {app: payment}}, subscriptions: [{event: InstanceDown, action: restart}]}`

func TestSchemaRejectsInvalidPolicies(t *testing.T) {
	s := loadSchema(t)
	for _, tc := range []struct {
		name, spec, want string // want: a substring of an error; "" admits
	}{
		{"minimal", minimal, ""},
		{"everything", `{selector: {matchExpressions: [{key: app, operator: In, values: [a, b]}]}, healthCheck: {path: /readyz, interval: 1m30s, timeout: 500ms, failureThreshold: 1000},
			subscriptions: [{event: CircuitBreakerTripped, action: scale, timeout: 24h, retries: 0}], rateLimit: {maxConcurrent: 3, minAvailable: 0}}`, ""},
		{"no subscriptions", `{selector: {matchLabels: {app: payment}}, subscriptions: []}`, "should have at least 1 items"},
		{"no selector", `{subscriptions: [{event: InstanceDown, action: restart}]}`, "spec.selector: Required"},
		{"empty selector", `{selector: {}, subscriptions: [{event: InstanceDown, action: restart}]}`, "must select something"},
		{"unknown event", `{selector: {matchLabels: {app: a}}, subscriptions: [{event: PodDown, action: restart}]}`, `Unsupported value: "PodDown"`},
		{"unknown action", `{selector: {matchLabels: {app: a}}, subscriptions: [{event: InstanceDown, action: reboot}]}`, `Unsupported value: "reboot"`},
		{"interval below 1s", `{selector: {matchLabels: {app: a}}, healthCheck: {interval: 500ms}, subscriptions: [{event: InstanceDown, action: restart}]}`, "must be between 1s and 24h"},
		{"interval not a duration", `{selector: {matchLabels: {app: a}}, healthCheck: {interval: soon}, subscriptions: [{event: InstanceDown, action: restart}]}`, "spec.healthCheck.interval"},
		{"zero timeout", `{selector: {matchLabels: {app: a}}, healthCheck: {timeout: 0s}, subscriptions: [{event: InstanceDown, action: restart}]}`, "must be greater than zero"},
		{"path without slash", `{selector: {matchLabels: {app: a}}, healthCheck: {path: healthz}, subscriptions: [{event: InstanceDown, action: restart}]}`, "spec.healthCheck.path"},
		{"threshold 0", `{selector: {matchLabels: {app: a}}, healthCheck: {failureThreshold: 0}, subscriptions: [{event: InstanceDown, action: restart}]}`, "should be greater than or equal to 1"},
		{"retries 11", `{selector: {matchLabels: {app: a}}, subscriptions: [{event: InstanceDown, action: restart, retries: 11}]}`, "should be less than or equal to 10"},
		{"action timeout 25h", `{selector: {matchLabels: {app: a}}, subscriptions: [{event: InstanceDown, action: restart, timeout: 25h}]}`, "at most 24h"},
		{"maxConcurrent 0", `{selector: {matchLabels: {app: a}}, subscriptions: [{event: InstanceDown, action: restart}], rateLimit: {maxConcurrent: 0}}`, "should be greater than or equal to 1"},
		{"negative minAvailable", `{selector: {matchLabels: {app: a}}, subscriptions: [{event: InstanceDown, action: restart}], rateLimit: {minAvailable: -1}}`, "should be greater than or equal to 0"},
	} {
		errs := s.admit(object(t, tc.spec))
		all := strings.Join(errs, "\n")
		switch {
		case tc.want == "" && len(errs) > 0:
			t.Errorf("%s: rejected:\n%s", tc.name, all)
		case tc.want != "" && !strings.Contains(all, tc.want):
			t.Errorf("%s: want an error with %q, got:\n%s", tc.name, tc.want, all)
		}
	}
}

// The schema's defaults and the Go ones (Default, used without an API
// server) agree: a minimal policy defaulted either way is the same spec.
func TestSchemaDefaultsAreTheGoDefaults(t *testing.T) {
	s := loadSchema(t)
	obj := object(t, minimal)
	if errs := s.admit(obj); len(errs) > 0 {
		t.Fatal(errs)
	}
	raw, _ := json.Marshal(obj["spec"])
	var bySchema SelfHealPolicySpec
	if err := json.Unmarshal(raw, &bySchema); err != nil {
		t.Fatal(err)
	}
	byGo := SelfHealPolicySpec{Subscriptions: []Subscription{{Event: selfheal.InstanceDown, Action: selfheal.Restart}}}
	byGo.Selector = bySchema.Selector
	byGo.Default()
	if !reflect.DeepEqual(bySchema, byGo) {
		a, _ := json.Marshal(bySchema)
		b, _ := json.Marshal(byGo)
		t.Fatalf("schema defaults %s\nGo defaults     %s", a, b)
	}
}
