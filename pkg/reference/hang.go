package reference

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// maxHang bounds one hang, as the scenario's duration is bounded.
const maxHang = 24 * time.Hour

// hangSwitch makes a service hang: alive, its port open, but no request
// answered (a deadlock, an exhausted pool, as seen from outside), until
// the hang ends or the caller gives up. /admin/ requests still get
// through, so that the harness can end it.
type hangSwitch struct {
	mu      sync.Mutex
	release chan struct{} // closed when the current hang ends; nil: not hung
	timer   *time.Timer
}

// start hangs the service for d (0: until stop).
func (h *hangSwitch) start(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.release == nil {
		h.release = make(chan struct{})
	}
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
	if d > 0 {
		release := h.release
		h.timer = time.AfterFunc(d, func() { h.stopIf(release) })
	}
}

// stop ends the hang: every waiting request is served.
func (h *hangSwitch) stop() { h.stopIf(nil) }

func (h *hangSwitch) stopIf(only chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.release == nil || (only != nil && h.release != only) {
		return
	}
	close(h.release)
	h.release = nil
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
}

// waiting returns the channel a request waits on, nil when not hung.
func (h *hangSwitch) waiting() chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.release
}

// wrap holds every request but /admin/ ones while the service hangs.
func (h *hangSwitch) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if release := h.waiting(); release != nil && !strings.HasPrefix(r.URL.Path, "/admin/") {
			select {
			case <-release:
			case <-r.Context().Done():
				return // the caller gave up: nothing is answered
			}
		}
		next.ServeHTTP(w, r)
	})
}

// adminHang: POST /admin/hang?for=DURATION (default: until DELETE).
func (s *Service) adminHang(w http.ResponseWriter, r *http.Request) {
	var d time.Duration
	if v := r.URL.Query().Get("for"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d < 0 || d > maxHang {
			http.Error(w, fmt.Sprintf("for: a duration between 0 and %s", maxHang), http.StatusBadRequest)
			return
		}
	}
	s.hang.start(d)
	fmt.Fprintln(w, "hung")
}

// adminUnhang: DELETE /admin/hang ends a hang.
func (s *Service) adminUnhang(w http.ResponseWriter, _ *http.Request) {
	s.hang.stop()
	fmt.Fprintln(w, "ok")
}
