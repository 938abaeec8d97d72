package operator

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/mcpsim/mcpsim/pkg/reference"
)

// Checker health-checks one pod: true when it answers a GET of path with
// 200 within timeout. Implementations must be safe for concurrent use.
type Checker interface {
	Check(ctx context.Context, pod *corev1.Pod, path string, timeout time.Duration) bool
}

// Doer sends an HTTP request (an *http.Client, or a fake in tests).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// HTTPChecker checks pods over HTTP at their IP and serving port.
type HTTPChecker struct {
	Client Doer
}

// NewHTTPChecker returns a checker with its own client: no keep-alive, so
// that a check is a new connection as a kubelet probe is, and a pod that
// hangs cannot pass by an old connection; no proxy from the environment.
func NewHTTPChecker() *HTTPChecker {
	return &HTTPChecker{Client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}}
}

// Check implements Checker.
func (c *HTTPChecker) Check(ctx context.Context, pod *corev1.Pod, path string, timeout time.Duration) bool {
	u, err := CheckURL(pod, path)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection end cleanly
	return resp.StatusCode == http.StatusOK
}

// CheckURL is where a pod is checked: its IP and the container port named
// "http", else the first container port declared.
func CheckURL(pod *corev1.Pod, path string) (string, error) {
	if pod.Status.PodIP == "" {
		return "", fmt.Errorf("pod %s has no IP yet", pod.Name)
	}
	port := int32(0)
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Protocol == corev1.ProtocolUDP || p.Protocol == corev1.ProtocolSCTP {
				continue
			}
			if p.Name == "http" {
				return url(pod.Status.PodIP, p.ContainerPort, path), nil
			}
			if port == 0 {
				port = p.ContainerPort
			}
		}
	}
	if port == 0 {
		return "", fmt.Errorf("pod %s declares no TCP container port to check", pod.Name)
	}
	return url(pod.Status.PodIP, port, path), nil
}

func url(ip string, port int32, path string) string {
	return "http://" + net.JoinHostPort(ip, strconv.Itoa(int(port))) + path
}

// BreakerReader reads a pod's circuit breakers (a reference service's
// /metrics): the states of its calls, by downstream. A Checker that is
// one lets policies subscribe to CircuitBreakerTripped.
type BreakerReader interface {
	Breakers(ctx context.Context, pod *corev1.Pod, timeout time.Duration) (map[string]reference.BreakerState, error)
}

// Breakers implements BreakerReader: GET /metrics on the pod's serving
// port.
func (c *HTTPChecker) Breakers(ctx context.Context, pod *corev1.Pod, timeout time.Duration) (map[string]reference.BreakerState, error) {
	u, err := CheckURL(pod, "/metrics")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	page, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	return reference.ParseBreakerStates(page)
}
