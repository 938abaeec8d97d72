package sim

import (
	"github.com/mcpsim/mcpsim/pkg/faults"
	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// PodHang: the application of the picked pods stops answering while its
// process lives and its port stays open. Requests on it and requests that
// reach it later get no answer: each ends at its caller's deadline, as a
// timeout. Its probes and the self-heal controller's health checks time
// out the same way. It uses no CPU (it waits on a lock). The kubelet sees
// nothing unless a probe has a timeout to miss: without a readiness probe
// the pod stays Ready and in the endpoints. At the fault's end the
// application answers again; what hung has timed out by then.

func (w *world) injectPodHang(f *scenario.Fault) ([]string, func() faults.Recovery, error) {
	ph := f.PodHang
	pods, err := w.selectPods(ph.Spec.PodSelector, ph.Namespace)
	if err != nil {
		return nil, nil, err
	}
	act := func() faults.Recovery {
		for _, p := range pods {
			w.tl.AddEvent(w.now, "PodHang", p.name, "PodHang "+ph.Name+": the application stops answering")
			p.hung = true
			w.loseHops(p)
		}
		return func() {
			for _, p := range pods {
				p.hung = false
			}
		}
	}
	return podNames(pods), act, nil
}
