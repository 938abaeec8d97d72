package chaosmesh

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Group is Chaos Mesh's API group.
const Group = "chaos-mesh.org"

// DefaultCRDDir is where `make images` (images/build-chaos-mesh.sh) puts
// the CRDs of the pinned chaos-mesh module: $MCPSIM_CACHE/chaos-mesh/crds
// (MCPSIM_CACHE defaults to /var/cache/mcpsim). A file "version" next to
// that directory names the module version.
func DefaultCRDDir() string {
	cache := os.Getenv("MCPSIM_CACHE")
	if cache == "" {
		cache = "/var/cache/mcpsim"
	}
	return filepath.Join(cache, "chaos-mesh", "crds")
}

// readVersion reads the module version written next to the CRD directory
// ("" if there is none).
func readVersion(crdDir string) string {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Clean(crdDir)), "version"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// LoadCRDs reads every CustomResourceDefinition of group chaos-mesh.org
// from the *.yaml files of dir (multi-document YAML), sorted by name.
// Anything else in those files is an error: the directory must hold
// upstream's config/crd/bases and nothing else.
func LoadCRDs(dir string) ([]*unstructured.Unstructured, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Chaos Mesh CRDs in %s (build them with `make images`)", dir)
	}
	var out []*unstructured.Unstructured
	seen := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for i := 0; ; i++ {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("%s: document %d: %w", f, i+1, err)
			}
			if len(m) == 0 {
				continue
			}
			u := &unstructured.Unstructured{Object: m}
			if u.GetAPIVersion() != "apiextensions.k8s.io/v1" || u.GetKind() != "CustomResourceDefinition" {
				return nil, fmt.Errorf("%s: document %d is a %s %s, not an apiextensions.k8s.io/v1 CustomResourceDefinition", f, i+1, u.GetAPIVersion(), u.GetKind())
			}
			if g, _, _ := unstructured.NestedString(m, "spec", "group"); g != Group {
				return nil, fmt.Errorf("%s: CRD %s is of group %q, not %s", f, u.GetName(), g, Group)
			}
			if prev, dup := seen[u.GetName()]; dup {
				return nil, fmt.Errorf("CRD %s is in both %s and %s", u.GetName(), prev, f)
			}
			seen[u.GetName()] = f
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

// crdResource returns a CRD's plural resource name and its storage version.
func crdResource(crd *unstructured.Unstructured) (plural, version string) {
	plural, _, _ = unstructured.NestedString(crd.Object, "spec", "names", "plural")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		vm, _ := v.(map[string]any)
		if s, _ := vm["storage"].(bool); s {
			version, _ = vm["name"].(string)
		}
	}
	return plural, version
}

// established reports whether a CRD's Established condition is True.
func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		cm, _ := c.(map[string]any)
		if cm["type"] == "Established" && cm["status"] == "True" {
			return true
		}
	}
	return false
}
