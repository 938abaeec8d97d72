package scenario

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
)

// Why not sigs.k8s.io/yaml alone: it converts YAML to JSON before decoding
// and so loses every position; its errors cannot say file:line. Here the
// YAML is parsed once into a node tree (go.yaml.in/yaml/v3, which keeps
// lines and columns), the tree is checked against the Go types by their
// JSON tags (unknown and duplicate fields, wrong types, bad durations and
// quantities: every error at once, each at its node), and only a tree that
// passes is converted to JSON and decoded strictly with sigs.k8s.io/json,
// the decoder Kubernetes itself uses. Validation errors carry field paths,
// which are mapped back to nodes through the same tree.

// maxErrors bounds what one file can report.
const maxErrors = 50

// Parse decodes, defaults and validates one scenario file. On any problem
// it returns Errors with file:line:column positions.
func Parse(file string, data []byte) (*Scenario, error) {
	if len(data) > MaxFileSize {
		return nil, Errors{&FieldError{File: file, Line: 1, Column: 1, Message: fmt.Sprintf("%d bytes: larger than the %d-byte limit of a scenario file", len(data), MaxFileSize)}}
	}
	d := &decoder{file: file, nodes: map[string]*yaml.Node{}, bad: map[*yaml.Node]bool{}}
	root, err := d.parseYAML(data)
	if err != nil {
		return nil, err
	}
	d.check(root, reflect.TypeOf(Scenario{}), "")
	raw, err := nodeJSON(root)
	if err != nil {
		return nil, Errors{d.at(root, "", err.Error())}
	}
	var sc Scenario
	decodeFailed := len(d.errs) > 0
	if decodeFailed {
		// Decode everything but the values already reported, so that
		// validation can still report the file's other problems in the
		// same pass, and only those: one bad value must not make the
		// rest of the file look empty.
		if pruned, err := nodeJSONWithout(root, d.bad); err == nil {
			raw = pruned
		}
		_ = sigsjson.UnmarshalCaseSensitivePreserveInts(raw, &sc)
	} else {
		strict, err := sigsjson.UnmarshalStrict(raw, &sc)
		if err != nil {
			return nil, Errors{d.at(root, "", err.Error())}
		}
		for _, e := range strict {
			d.errs = append(d.errs, d.atPath(fieldPath(e), e.Error()))
		}
	}
	reported := make([]string, 0, len(d.errs))
	for _, e := range d.errs {
		reported = append(reported, e.Path)
	}
	filePath := convertV1alpha1(&sc)
	SetDefaults(&sc)
	for _, fe := range Validate(&sc) {
		path := filePath(fe.Field)
		if decodeFailed && underAny(path, reported) {
			continue // a consequence of a decoding error already reported
		}
		d.errs = append(d.errs, d.atPath(path, fe.ErrorBody()))
	}
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool {
			a, b := d.errs[i], d.errs[j]
			return a.Line < b.Line || (a.Line == b.Line && a.Column < b.Column)
		})
		// A value shared through an anchor or a merge key is one place in
		// the file: report its problem once.
		out := d.errs[:0]
		for i, e := range d.errs {
			if i > 0 && e.Line > 0 && e.Line == out[len(out)-1].Line && e.Column == out[len(out)-1].Column && e.Message == out[len(out)-1].Message {
				continue
			}
			out = append(out, e)
		}
		return nil, out
	}
	sc.file = file
	sc.positions = make(map[string]position, len(d.nodes))
	for path, n := range d.nodes {
		sc.positions[path] = position{n.Line, n.Column}
	}
	sc.remap = filePath // a converted v1alpha1 file: where new paths came from
	return &sc, nil
}

// underAny reports whether path is one of paths or inside one of them.
func underAny(path string, paths []string) bool {
	for _, p := range paths {
		if path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") {
			return true
		}
	}
	return false
}

func fieldPath(err error) string {
	var fe sigsjson.FieldError
	if errors.As(err, &fe) {
		return fe.FieldPath()
	}
	return ""
}

type decoder struct {
	bad    map[*yaml.Node]bool // nodes with a decoding error
	file   string
	visits int                   // nodes checked, aliases expanded: bounded by maxNodes
	nodes  map[string]*yaml.Node // field path -> value node
	errs   Errors
}

func (d *decoder) at(n *yaml.Node, path, msg string) *FieldError {
	e := &FieldError{File: d.file, Path: path, Message: msg}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	return e
}

func (d *decoder) add(n *yaml.Node, path, format string, args ...any) {
	if n != nil && d.bad != nil {
		d.bad[n] = true
	}
	if len(d.errs) >= maxErrors {
		return
	}
	d.errs = append(d.errs, d.at(n, path, fmt.Sprintf(format, args...)))
}

// atPath positions an error by its field path: the node of the path, or of
// its nearest ancestor present in the file (a missing field is reported
// where its parent is).
func (d *decoder) atPath(path, msg string) *FieldError {
	p := path
	for p != "" {
		if n, ok := d.nodes[p]; ok {
			return d.at(n, path, msg)
		}
		p = parentPath(p)
	}
	return d.at(d.nodes[""], path, msg)
}

func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndex(p, "["); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndex(p, "."); i >= 0 {
		return p[:i]
	}
	return ""
}

func (d *decoder) parseYAML(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{&FieldError{File: d.file, Message: "the file is empty: expected a Scenario document"}}
		}
		return nil, Errors{yamlError(d.file, err)}
	}
	// A trailing `---` (an empty document) is harmless; a second document
	// with content is not.
	for {
		var extra yaml.Node
		err := dec.Decode(&extra)
		if err != nil {
			break
		}
		if len(extra.Content) == 0 || (len(extra.Content) == 1 && extra.Content[0].Tag == "!!null" && extra.Content[0].Value == "") {
			continue
		}
		return nil, Errors{&FieldError{File: d.file, Line: extra.Line, Column: extra.Column, Message: "a scenario file holds one YAML document; found a second one"}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, Errors{&FieldError{File: d.file, Line: root.Line, Column: root.Column, Message: "expected a Scenario mapping (apiVersion, kind, metadata, spec)"}}
	}
	budget := maxNodes
	if err := expandMerges(root, map[*yaml.Node]bool{}, &budget, 0); err != nil {
		return nil, Errors{&FieldError{File: d.file, Line: root.Line, Column: root.Column, Message: err.Error()}}
	}
	return root, nil
}

// expandMerges applies YAML merge keys (`<<: *base` or `<<: [*a, *b]`) in
// place, so that services can share a definition: the merged mappings'
// keys come first (an earlier mapping in a list wins), then the mapping's
// own keys override them. yaml.v3 only applies merges when decoding into
// Go values, and this decoder works on the node tree to keep positions;
// merged fields keep the position where the anchor wrote them. Each node
// is expanded once (done), and the work is bounded like alias expansion.
func expandMerges(n *yaml.Node, done map[*yaml.Node]bool, budget *int, depth int) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || done[n] {
		return nil
	}
	done[n] = true
	if depth > maxDepth {
		return fmt.Errorf("nesting deeper than %d levels", maxDepth)
	}
	for _, c := range n.Content {
		if *budget--; *budget < 0 {
			return errTooLarge
		}
		if err := expandMerges(c, done, budget, depth+1); err != nil {
			return err
		}
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	var merged, own []*yaml.Node
	hasMerge := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag != "!!merge" {
			own = append(own, k, v)
			continue
		}
		hasMerge = true
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		sources := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			sources = v.Content
		}
		for _, src := range sources {
			if src.Kind == yaml.AliasNode {
				src = src.Alias
			}
			if src.Kind != yaml.MappingNode {
				return fmt.Errorf("line %d: a merge key (<<) takes a mapping or a list of mappings", k.Line)
			}
			merged = append(merged, src.Content...)
		}
	}
	if !hasMerge {
		return nil
	}
	// Later keys must not repeat earlier ones: keep the first of each key
	// among the merged (earlier sources win), and drop merged keys the
	// mapping sets itself.
	set := map[string]bool{}
	for i := 0; i+1 < len(own); i += 2 {
		set[own[i].Value] = true
	}
	content := make([]*yaml.Node, 0, len(merged)+len(own))
	for i := 0; i+1 < len(merged); i += 2 {
		if key := merged[i].Value; !set[key] {
			set[key] = true
			content = append(content, merged[i], merged[i+1])
		}
	}
	n.Content = append(content, own...)
	return nil
}

// yamlError turns a YAML syntax error ("yaml: line 3: ...") into a
// positioned FieldError.
func yamlError(file string, err error) *FieldError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	fe := &FieldError{File: file, Message: "invalid YAML: " + msg}
	if strings.HasPrefix(msg, "line ") {
		rest := msg[len("line "):]
		if i := strings.Index(rest, ":"); i > 0 {
			if line, convErr := strconv.Atoi(rest[:i]); convErr == nil {
				fe.Line, fe.Column = line, 1
				fe.Message = "invalid YAML: " + strings.TrimSpace(rest[i+1:])
			}
		}
	}
	return fe
}

var (
	jsonUnmarshaler = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
	textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
	faultType       = reflect.TypeOf(Fault{})
	durationType    = reflect.TypeOf(metav1.Duration{})
	quantityType    = reflect.TypeOf(resource.Quantity{})
)

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// maxNodes bounds the work on one file, aliases expanded: a real scenario
// has a few hundred nodes; a "billion laughs" alias bomb has billions.
const maxNodes = 100_000

var errTooLarge = fmt.Errorf("the document is too large once YAML aliases are expanded (more than %d nodes)", maxNodes)

// check walks node against type t, recording every problem.
func (d *decoder) check(n *yaml.Node, t reflect.Type, path string) {
	if d.visits++; d.visits == maxNodes {
		d.add(n, path, "%v", errTooLarge)
	}
	if d.visits >= maxNodes || len(d.errs) >= maxErrors {
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.nodes[path] = n
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // null leaves the field unset
	}
	if t == faultType {
		d.checkFault(n, path)
		return
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		d.checkLeaf(n, t, path)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.add(n, path, "expected a mapping, got %s", describe(n))
			return
		}
		fields := jsonFields(t)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := k.Value
			if seen[key] {
				d.add(k, join(path, key), "duplicate field %q", key)
				continue
			}
			seen[key] = true
			ft, ok := fields[key]
			if !ok {
				d.add(k, join(path, key), "unknown field %q%s", key, suggest(key, fields))
				continue
			}
			d.check(v, ft, join(path, key))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.add(n, path, "expected a mapping, got %s", describe(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				d.add(k, path, "expected a string key, got %s", describe(k))
				continue
			}
			d.check(v, t.Elem(), join(path, k.Value))
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			d.checkLeaf(n, t, path)
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.add(n, path, "expected a list, got %s", describe(n))
			return
		}
		for i, e := range n.Content {
			d.check(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Interface:
		// any value is accepted
	default:
		d.checkLeaf(n, t, path)
	}
}

// checkFault selects the fault's concrete type by its kind.
func (d *decoder) checkFault(n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		d.add(n, path, "expected a Chaos Mesh object with an `at` field, got %s", describe(n))
		return
	}
	kind, kindNode := "", n
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "kind" {
			kind, kindNode = n.Content[i+1].Value, n.Content[i+1]
		}
	}
	t, err := faultFileType(kind)
	if err != nil {
		d.add(kindNode, join(path, "kind"), "%v", err)
		return
	}
	d.check(n, t, path)
}

// checkLeaf decodes one value on its own, so that a bad duration, quantity
// or type is reported at its own line.
func (d *decoder) checkLeaf(n *yaml.Node, t reflect.Type, path string) {
	raw, err := nodeJSON(n)
	if err != nil {
		d.add(n, path, "%v", err)
		return
	}
	v := reflect.New(t)
	if err := json.Unmarshal(raw, v.Interface()); err != nil {
		d.add(n, path, "%s", leafMessage(err, t, n))
	}
}

func leafMessage(err error, t reflect.Type, n *yaml.Node) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		want := te.Type.String()
		switch te.Type.Kind() {
		case reflect.String:
			want = "a string"
		case reflect.Bool:
			want = "true or false"
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			want = "a whole number"
			if strings.HasPrefix(te.Value, "number") {
				return fmt.Sprintf("%s is not a whole number in range for %s", n.Value, te.Type)
			}
		case reflect.Float32, reflect.Float64:
			want = "a number"
		}
		return fmt.Sprintf("expected %s, got %s", want, describe(n))
	}
	switch t {
	case durationType:
		return fmt.Sprintf("invalid duration %s: use Go/Kubernetes syntax such as 90s, 5m or 1h30m", strconv.Quote(n.Value))
	case quantityType:
		return fmt.Sprintf("invalid quantity %s: use Kubernetes syntax such as 500m, 2 or 4Gi", strconv.Quote(n.Value))
	}
	return err.Error()
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.Tag {
	case "!!str":
		return fmt.Sprintf("the string %q", n.Value)
	case "!!int", "!!float":
		return "the number " + n.Value
	case "!!bool":
		return n.Value
	}
	return strconv.Quote(n.Value)
}

// jsonFields maps JSON names to field types, with embedded (inline)
// structs flattened as encoding/json does.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, dup := out[name]; !dup {
				out[name] = f.Type
			}
		}
	}
	walk(t)
	return out
}

// suggest offers the closest known field name for a misspelling.
func suggest(key string, fields map[string]reflect.Type) string {
	best, bestDist := "", 3
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if dist := levenshtein(strings.ToLower(key), strings.ToLower(name)); dist < bestDist {
			best, bestDist = name, dist
		}
	}
	if best == "" {
		if len(names) > 12 {
			return ""
		}
		return fmt.Sprintf(" (known fields: %s)", strings.Join(names, ", "))
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// nodeJSON converts a YAML node to JSON with YAML 1.2 semantics.
func nodeJSON(n *yaml.Node) ([]byte, error) { return nodeJSONWithout(n, nil) }

// nodeJSONWithout converts a node, leaving out the mapping entries whose
// key or value is in skip.
func nodeJSONWithout(n *yaml.Node, skip map[*yaml.Node]bool) ([]byte, error) {
	budget := maxNodes
	v, err := nodeValue(n, 0, &budget, skip)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 100

func nodeValue(n *yaml.Node, depth int, budget *int, skip map[*yaml.Node]bool) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nesting deeper than %d levels", maxDepth)
	}
	if *budget--; *budget < 0 {
		return nil, errTooLarge
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return nodeValue(n.Content[0], depth+1, budget, skip)
	case yaml.AliasNode:
		return nodeValue(n.Alias, depth+1, budget, skip)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: mapping keys must be strings", n.Content[i].Line)
			}
			if skip[n.Content[i]] || skip[n.Content[i+1]] {
				continue
			}
			v, err := nodeValue(n.Content[i+1], depth+1, budget, skip)
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeValue(c, depth+1, budget, skip)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	}
	switch n.Tag {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, err
		}
		return b, nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, nil
		}
		var u uint64
		if err := n.Decode(&u); err == nil {
			return u, nil
		}
		return nil, fmt.Errorf("line %d: integer %s out of range", n.Line, n.Value)
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, err
		}
		if f != f || f > 1e308 || f < -1e308 {
			return nil, fmt.Errorf("line %d: %s is not a finite number", n.Line, n.Value)
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
	}
	return n.Value, nil
}
