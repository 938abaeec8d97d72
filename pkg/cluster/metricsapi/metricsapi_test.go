package metricsapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
)

// TestPodCPU: a Metrics API answer with two pods, one of two containers
// (12m + 300 microcores = 0.3m, which rounds up to 1m: 13m) and one of
// 1.5 cores (1500m), read through a loopback API server.
func TestPodCPU(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/apis/metrics.k8s.io/v1beta1/namespaces/run/pods" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"items":[
 {"metadata":{"name":"a"},"containers":[{"name":"app","usage":{"cpu":"12m"}},{"name":"side","usage":{"cpu":"300u"}}]},
 {"metadata":{"name":"b"},"containers":[{"name":"app","usage":{"cpu":"1500m"}}]}]}`))
	}))
	defer srv.Close()
	client, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	cpu, err := PodCPU(context.Background(), client, "run")
	if err != nil {
		t.Fatal(err)
	}
	if len(cpu) != 2 || cpu["a"] != 13 || cpu["b"] != 1500 {
		t.Fatalf("cpu %v", cpu)
	}
	if _, err := Pods(context.Background(), fake.NewClientset(), "run"); !errors.Is(err, ErrNoClient) {
		t.Fatalf("fake clientset: %v", err)
	}
}
