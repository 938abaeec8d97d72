package kube

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/rest"
)

var errNoMetricsAPI = errors.New("no Metrics API client")

// podCPU reads the Metrics API (metrics-server) for the run's namespace:
// each pod's CPU in millicores over metrics-server's last window. The
// JSON is read directly rather than through k8s.io/metrics' clientset: two
// fields of one list do not justify another client.
func (b *Backend) podCPU(ctx context.Context, ns string) (map[string]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	rc := b.opts.Client.CoreV1().RESTClient()
	if c, ok := rc.(*rest.RESTClient); !ok || c == nil {
		return nil, errNoMetricsAPI // a fake clientset has no REST client
	}
	raw, err := rc.Get().AbsPath("/apis/metrics.k8s.io/v1beta1/namespaces", ns, "pods").DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	var list struct {
		Items []struct {
			Metadata   struct{ Name string }
			Containers []struct {
				Usage map[string]string
			}
		}
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, it := range list.Items {
		for _, c := range it.Containers {
			if q, err := resource.ParseQuantity(c.Usage["cpu"]); err == nil {
				out[it.Metadata.Name] += q.MilliValue()
			}
		}
	}
	return out, nil
}
