// Package ginkgo_test shows mcpsim scenarios as a Ginkgo suite: one spec
// per built-in scenario, labelled with the scenario's suite label, judged
// with the harness's Gomega matchers. It runs on the sim by default (in
// `make test`); MCPSIM_KUBECONFIG and MCPSIM_TARGET run the same specs on a
// real cluster (e.g. MCPSIM_TARGET=http://127.0.0.1:30080 on mcpsim's kind
// cluster; -ginkgo.label-filter=smoke picks the smoke suite).
package ginkgo_test

import (
	"context"
	"os"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/mcpsim/mcpsim/pkg/cluster"
	"github.com/mcpsim/mcpsim/pkg/harness"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/scenarios"
)

func TestScenarios(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "mcpsim scenarios")
}

func backend() cluster.Backend {
	path := os.Getenv("MCPSIM_KUBECONFIG")
	if path == "" {
		return harness.Sim()
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	Expect(err).NotTo(HaveOccurred())
	client, err := kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())
	return harness.Kube(client, os.Getenv("MCPSIM_TARGET"), 30080)
}

var _ = Describe("built-in scenarios", func() {
	for _, name := range scenarios.Names() {
		file, data, _ := scenarios.Get(name)
		sc, err := scenario.Parse(file, data)
		if err != nil {
			panic(err) // the built-ins are valid: a test elsewhere says so
		}
		It(name+" passes", Label(sc.Metadata.Labels["suite"]), func(ctx context.Context) {
			rep, err := harness.RunSource(ctx, file, data, harness.Options{Backend: backend()})
			Expect(err).NotTo(HaveOccurred())
			Expect(rep).To(harness.Pass())
		})
	}

	It("reports a failed assertion by name", func(ctx context.Context) {
		// pod-kill-recovery with a p99 limit of 1ms cannot pass: every
		// request spends 10ms of CPU on average.
		file, data, _ := scenarios.Get("pod-kill-recovery")
		sc, err := scenario.Parse(file, data)
		Expect(err).NotTo(HaveOccurred())
		if harness.Sim().Check(sc) != nil || os.Getenv("MCPSIM_KUBECONFIG") != "" {
			Skip("runs on the sim only")
		}
		Expect(string(data)).To(ContainSubstring("max: 200ms"))
		strict := []byte(strings.Replace(string(data), "max: 200ms", "max: 1ms", 1))
		rep, err := harness.RunSource(ctx, file, strict, harness.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(rep).NotTo(harness.Pass())
		Expect(rep).To(harness.HaveAssertion("p99 unaffected", false))
		Expect(rep).To(harness.HaveAssertion("ready replicas recover", true))
	})
})
