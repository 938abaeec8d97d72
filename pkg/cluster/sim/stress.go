package sim

import (
	"errors"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/mcpsim/mcpsim/pkg/faults"
	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// StressChaos CPU stressors, as Chaos Mesh runs them: its daemon starts
// stress-ng --cpu WORKERS --cpu-load LOAD (Stressors.Normalize) and
// attaches it to the target container's cgroup (chaosdaemon
// ExecCPUStressors: attachCGroup.AttachProcess). So the stressors are
// tasks of the pod like its request goroutines:
//
//   - the pod wants its requests in flight (one core each at most) plus
//     workers × load/100 cores, capped by its CPU limit (the cgroup's
//     quota); on a busy node that is what it asks of the node, whose CPU
//     is shared by requests as weights (cpu.go), so its neighbours get
//     less once the node is contended.
//   - inside the pod, CFS shares what the pod gets (its limit, or its part
//     of a contended node) equally among its runnable tasks, none getting
//     more than it wants (all are nice 0 in one cgroup): weighted max-min
//     fairness again, with equal weights. A worker at load 100 wants a
//     core, as a request does: a pod limited to 1 core running 2 such
//     workers serves a lone request at 1/3 core, 3 times slower.
//   - the cgroup's CPU counter counts the stressors too: metrics-server,
//     and the HPA, see their usage.
//
// The stressors run as long as the fault, in the container they were
// started in: when it stops (killed, pod-failure, its node down) they
// die with it, and a restarted or new container has none (Chaos Mesh
// resolves its targets when the fault starts). Memory stressors are
// refused: the sim does not model memory use.

// stressor is one StressChaos's CPU workers in one pod.
type stressor struct {
	workers int
	load    float64 // cores each worker wants: --cpu-load / 100
}

// stressShares divides the server's capacity among its tasks (after
// advance): the rate of each request in flight and the cores the
// stressors use, by max-min fairness with equal weights.
func (s *server) stressShares() (request, stress float64) {
	remaining := s.capacity
	tasks := s.live
	for _, g := range s.stress {
		tasks += g.workers
	}
	// Stressors wanting least are satisfied first (s.stress is kept
	// sorted by load); whoever wants more than the fair share gets it.
	k := 0
	for ; k < len(s.stress) && tasks > 0; k++ {
		g := s.stress[k]
		if g.load > remaining/float64(tasks) {
			break
		}
		remaining -= float64(g.workers) * g.load
		stress += float64(g.workers) * g.load
		tasks -= g.workers
	}
	if tasks == 0 {
		return 0, stress
	}
	fair := remaining / float64(tasks)
	for _, g := range s.stress[k:] {
		stress += float64(g.workers) * fair
	}
	if s.live == 0 {
		return 0, stress
	}
	return min(1, fair), stress
}

// startStress runs g in p's container from now.
func (w *world) startStress(p *pod, g *stressor) {
	s := &p.srv
	s.advance(w.now)
	i, _ := slices.BinarySearchFunc(s.stress, g.load, func(x *stressor, l float64) int {
		if x.load <= l {
			return -1
		}
		return 1
	})
	s.stress = slices.Insert(s.stress, i, g)
	w.stressChanged(p)
}

// stopStress ends g in p (nil: every stressor, its container stopped).
func (w *world) stopStress(p *pod, g *stressor) {
	s := &p.srv
	if len(s.stress) == 0 {
		return
	}
	s.advance(w.now)
	if g == nil {
		s.stress = nil
	} else if s.stress = slices.DeleteFunc(s.stress, func(x *stressor) bool { return x == g }); len(s.stress) == 0 {
		s.stress = nil
	}
	w.stressChanged(p)
}

// stressChanged re-divides p's node and reschedules its server after its
// stressors changed.
func (w *world) stressChanged(p *pod) {
	s := &p.srv
	s.stressWant = 0
	for _, g := range s.stress {
		s.stressWant += float64(g.workers) * g.load
	}
	s.setRate()
	w.cpuChanged(p)
	w.reschedule(s)
}

// checkStressChaos refuses what the sim does not model.
func checkStressChaos(f *scenario.Fault, p *field.Path) error {
	s := &f.StressChaos.Spec
	sp := p.Child("spec")
	switch {
	case s.StressngStressors != "":
		return field.Forbidden(sp.Child("stressngStressors"), "raw stress-ng stressors are not modelled by the sim (stressors.cpu is)")
	case s.Stressors == nil || s.Stressors.CPUStressor == nil:
		return field.Required(sp.Child("stressors", "cpu"), "the sim models CPU stressors only")
	case s.Stressors.MemoryStressor != nil:
		return field.Forbidden(sp.Child("stressors", "memory"), "memory stressors are not modelled by the sim (it has no memory use to compete with)")
	case len(s.Stressors.CPUStressor.Options) > 0:
		return field.Forbidden(sp.Child("stressors", "cpu", "options"), "stress-ng options are not modelled by the sim")
	case s.RemoteCluster != "":
		return field.Forbidden(sp.Child("remoteCluster"), "a remote cluster is not modelled by the sim")
	}
	for i, c := range s.ContainerNames {
		if c != "app" {
			return field.NotSupported(sp.Child("containerNames").Index(i), c, []string{"app"})
		}
	}
	return nil
}

func (w *world) injectStressChaos(f *scenario.Fault) ([]string, func() faults.Recovery, error) {
	st := f.StressChaos
	// Check refuses these; a plan that skipped it gets an error, not a
	// panic.
	if st.Spec.Stressors == nil || st.Spec.Stressors.CPUStressor == nil || st.Spec.Stressors.CPUStressor.Workers <= 0 {
		return nil, nil, errors.New("the sim runs CPU stressors with at least one worker only")
	}
	if l := st.Spec.Stressors.CPUStressor.Load; l != nil && (*l < 0 || *l > 100) {
		return nil, nil, errors.New("stressors.cpu.load must be between 0 and 100")
	}
	selected, err := w.selectPods(st.Spec.PodSelector, st.Namespace)
	if err != nil {
		return nil, nil, err
	}
	// stress-ng needs a running container to join.
	pods := slices.DeleteFunc(selected, func(p *pod) bool { return !p.running || p.appDown })
	if len(pods) == 0 {
		return nil, nil, errors.New("no selected pod has a running container to stress")
	}
	cpu := st.Spec.Stressors.CPUStressor
	load := 1.0 // stress-ng's --cpu-load defaults to 100
	if cpu.Load != nil {
		load = float64(*cpu.Load) / 100
	}
	act := func() faults.Recovery {
		gs := make([]*stressor, len(pods))
		for i, p := range pods {
			gs[i] = &stressor{workers: cpu.Workers, load: load}
			w.startStress(p, gs[i])
		}
		return func() {
			for i, p := range pods {
				w.stopStress(p, gs[i])
			}
		}
	}
	return podNames(pods), act, nil
}
