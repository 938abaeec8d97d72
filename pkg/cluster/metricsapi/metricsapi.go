// Package metricsapi reads the Metrics API (metrics.k8s.io/v1beta1, served
// by metrics-server) for a namespace's pods. The JSON is read through the
// core REST client rather than k8s.io/metrics' clientset: two fields of
// one list do not justify another client.
package metricsapi

import (
	"context"
	"encoding/json"
	"errors"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// PodMetrics is one pod's entry of the Metrics API.
type PodMetrics struct {
	Name       string
	Containers map[string]string // container -> cpu usage, e.g. "12m"
}

// ErrNoClient is returned for a clientset without a REST client (a fake).
var ErrNoClient = errors.New("no REST client for the Metrics API")

// Pods reads the pod metrics of namespace ns.
func Pods(ctx context.Context, client kubernetes.Interface, ns string) ([]PodMetrics, error) {
	rc := client.CoreV1().RESTClient()
	if c, ok := rc.(*rest.RESTClient); !ok || c == nil {
		return nil, ErrNoClient
	}
	raw, err := rc.Get().AbsPath("/apis/metrics.k8s.io/v1beta1/namespaces", ns, "pods").DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	var list struct {
		Items []struct {
			Metadata   struct{ Name string }
			Containers []struct {
				Name  string
				Usage map[string]string
			}
		}
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, err
	}
	out := make([]PodMetrics, 0, len(list.Items))
	for _, it := range list.Items {
		pm := PodMetrics{Name: it.Metadata.Name, Containers: map[string]string{}}
		for _, ct := range it.Containers {
			pm.Containers[ct.Name] = ct.Usage["cpu"]
		}
		out = append(out, pm)
	}
	return out, nil
}

// PodCPU is each pod's CPU in millicores (its containers' sum).
func PodCPU(ctx context.Context, client kubernetes.Interface, ns string) (map[string]int64, error) {
	pods, err := Pods(ctx, client, ns)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(pods))
	for _, p := range pods {
		for _, cpu := range p.Containers {
			if q, err := resource.ParseQuantity(cpu); err == nil {
				out[p.Name] += q.MilliValue()
			}
		}
	}
	return out, nil
}
