// Package scenarios is the built-in scenario library, embedded in the
// binary so that `mcpsim run hpa-scale-up` works with no path.
package scenarios

import (
	"embed"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed *.yaml
var files embed.FS

// Names lists the built-in scenarios, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(files, ".")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(out)
	return out
}

// Get returns a built-in scenario's file name and content.
func Get(name string) (string, []byte, bool) {
	file := name + ".yaml"
	data, err := files.ReadFile(file)
	if err != nil {
		return "", nil, false
	}
	return path.Join("scenarios", file), data, true
}
