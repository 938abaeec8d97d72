package kube

import (
	"context"
	"errors"
	"fmt"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/mcpsim/mcpsim/pkg/apis/selfheal/v1alpha1"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/selfheal/deploy"
)

// A scenario's spec.selfHeal runs on a real cluster as the self-heal
// operator (`mcpsim serve --role selfheal`, the reference image) in the
// run's namespace, with one SelfHealPolicy per policy. The namespace's
// deletion takes all of it away except the CRD, which is cluster-scoped
// and shared by concurrent runs: it stays, as Chaos Mesh's CRDs do.

var (
	crdGVR    = apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions")
	policyGVR = v1alpha1.GroupVersion.WithResource("selfhealpolicies")
)

// deploySelfHeal applies the CRD (created or updated to this build's
// schema), the operator's RBAC and Deployment and the scenario's
// policies in ns, and waits until the operator is ready.
func (b *Backend) deploySelfHeal(ctx context.Context, ns string, sc *scenario.Scenario) error {
	if len(sc.Spec.SelfHeal) == 0 {
		return nil
	}
	if b.opts.Dynamic == nil {
		return errors.New("spec.selfHeal: the self-heal operator needs a dynamic client (Options.Dynamic) to apply its CRD and policies")
	}
	objs, err := deploy.Build(ns, deploy.Options{Image: b.opts.Image})
	if err != nil {
		return err
	}
	if err := b.applyCRD(ctx, objs.CRD); err != nil {
		return err
	}
	c := b.opts.Client
	if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, objs.ServiceAccount, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating ServiceAccount %s: %w", objs.ServiceAccount.Name, err)
	}
	if _, err := c.RbacV1().Roles(ns).Create(ctx, objs.Role, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating Role %s (mcpsim's own credentials must be allowed to grant it): %w", objs.Role.Name, err)
	}
	if _, err := c.RbacV1().RoleBindings(ns).Create(ctx, objs.RoleBinding, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating RoleBinding %s: %w", objs.RoleBinding.Name, err)
	}
	for _, p := range deploy.Policies(sc, ns) {
		u, err := toUnstructured(p)
		if err != nil {
			return err
		}
		if _, err := b.opts.Dynamic.Resource(policyGVR).Namespace(ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating SelfHealPolicy %s: %w", p.Name, err)
		}
	}
	if _, err := c.AppsV1().Deployments(ns).Create(ctx, objs.Deployment, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating Deployment %s: %w", objs.Deployment.Name, err)
	}
	var status string
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, b.opts.RolloutTimeout, true, func(ctx context.Context) (bool, error) {
		d, err := c.AppsV1().Deployments(ns).Get(ctx, objs.Deployment.Name, metav1.GetOptions{})
		if err != nil {
			status = err.Error()
			return false, nil
		}
		status = fmt.Sprintf("%d of 1 replicas ready", d.Status.ReadyReplicas)
		return d.Status.ReadyReplicas >= 1, nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("the self-heal operator is not ready after %s (%s; is %s built with `make images`?): %w", b.opts.RolloutTimeout, status, b.opts.Image, err)
	}
	b.logf("%s: self-heal operator ready with %d policies", sc.Metadata.Name, len(sc.Spec.SelfHeal))
	return nil
}

// applyCRD creates the CRD or updates it to this build's schema, then
// waits until it is established (its API served).
func (b *Backend) applyCRD(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition) error {
	u, err := toUnstructured(crd)
	if err != nil {
		return err
	}
	res := b.opts.Dynamic.Resource(crdGVR)
	_, err = res.Create(ctx, u, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		cur, gerr := res.Get(ctx, crd.Name, metav1.GetOptions{})
		if gerr != nil {
			return fmt.Errorf("reading CustomResourceDefinition %s: %w", crd.Name, gerr)
		}
		u.SetResourceVersion(cur.GetResourceVersion())
		_, err = res.Update(ctx, u, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("applying CustomResourceDefinition %s (needs rights on CRDs, cluster-wide): %w", crd.Name, err)
	}
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		cur, err := res.Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(cur.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == string(apiextensionsv1.Established) && m["status"] == string(apiextensionsv1.ConditionTrue) {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("CustomResourceDefinition %s not established after a minute: %w", crd.Name, err)
	}
	return nil
}

func toUnstructured(o runtime.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, fmt.Errorf("converting %T: %w", o, err)
	}
	return &unstructured.Unstructured{Object: m}, nil
}
