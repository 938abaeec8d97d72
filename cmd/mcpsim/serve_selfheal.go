package main

import (
	"fmt"
	"os"

	"github.com/go-logr/logr/funcr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/mcpsim/mcpsim/pkg/selfheal/operator"
)

// roleSelfHeal runs the self-heal operator instead of a reference service.
const roleSelfHeal = "selfheal"

func addSelfHealFlags(f *pflag.FlagSet, o *operator.Options) {
	f.StringVar(&o.Namespace, "namespace", os.Getenv("POD_NAMESPACE"), "role selfheal: the namespace whose SelfHealPolicies and pods it watches (default $POD_NAMESPACE)")
	f.StringVar(&o.MetricsAddr, "metrics-bind-address", operator.DefaultMetricsAddr, `role selfheal: address of the metrics endpoint ("0" disables)`)
	f.StringVar(&o.ProbeAddr, "health-probe-bind-address", operator.DefaultProbeAddr, `role selfheal: address of /healthz and /readyz ("0" disables)`)
	f.BoolVar(&o.LeaderElection, "leader-elect", false, "role selfheal: elect one active operator among replicas (a Lease in the namespace)")
}

// runSelfHeal runs the operator until the command's context ends
// (SIGTERM in a pod).
func runSelfHeal(cmd *cobra.Command, o operator.Options) error {
	ctrl.SetLogger(funcr.New(func(prefix, args string) {
		if prefix != "" {
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", prefix, args)
			return
		}
		fmt.Fprintln(cmd.ErrOrStderr(), args)
	}, funcr.Options{}))
	if o.Namespace == "" {
		return usageErr("--role selfheal: no namespace: give --namespace (a pod gets POD_NAMESPACE from the downward API)")
	}
	cfg, err := config.GetConfig()
	if err != nil {
		return &exitError{code: exitInfra, err: fmt.Errorf("no Kubernetes configuration (in a pod, its service account; else $KUBECONFIG): %w", err)}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "self-heal operator watching namespace %s\n", o.Namespace)
	if err := operator.Run(cmd.Context(), cfg, o); err != nil {
		return &exitError{code: exitInfra, err: err}
	}
	return nil
}
