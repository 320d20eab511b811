package schema

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/xeipuuv/gojsonschema"

	"github.com/elevate-dev/elevate/internal/finding"
	"github.com/elevate-dev/elevate/internal/strictyaml"
)

// Validator checks documents against one schema and turns every violation
// into a finding at the offending line, with the schema's fix text.
type Validator struct {
	schema *gojsonschema.Schema
	raw    map[string]any
}

// Compile builds a Validator from a schema in this package.
func Compile(src []byte) (*Validator, error) {
	s, err := gojsonschema.NewSchema(gojsonschema.NewBytesLoader(src))
	if err != nil {
		return nil, fmt.Errorf("compile schema: %w", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(src, &raw); err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	return &Validator{schema: s, raw: raw}, nil
}

// MustCompile is Compile for the embedded schemas, which are tested.
func MustCompile(src []byte) *Validator {
	v, err := Compile(src)
	if err != nil {
		panic(err)
	}
	return v
}

// Check validates doc. skip lists paths already reported by a more specific
// rule (such as an unquoted account id); errors at those paths are dropped.
func (v *Validator) Check(doc *strictyaml.Document, skip map[string]bool) []finding.Finding {
	res, err := v.schema.Validate(gojsonschema.NewGoLoader(doc.Value))
	if err != nil {
		return []finding.Finding{finding.New(doc.File, finding.Pos{Line: 1, Col: 1}, "schema", "cannot validate: "+err.Error(), "")}
	}
	var fs []finding.Finding
	seen := map[string]bool{}
	for _, e := range res.Errors() {
		path := e.Field()
		if path == "(root)" {
			path = ""
		}
		if skip[path] {
			continue
		}
		f := v.finding(doc, path, e)
		if f.Rule == "" {
			continue
		}
		key := f.Text()
		if seen[key] {
			continue
		}
		seen[key] = true
		fs = append(fs, f)
	}
	finding.Sort(fs)
	return fs
}

func (v *Validator) finding(doc *strictyaml.Document, path string, e gojsonschema.ResultError) finding.Finding {
	name := path
	if name == "" {
		name = "the document"
	}
	prop, _ := e.Details()["property"].(string)
	switch e.Type() {
	case "required":
		return finding.New(doc.File, doc.Pos(path), "schema-required",
			fmt.Sprintf("missing required field %q", join(path, prop)),
			fixOr(v.node(join(path, prop)), fmt.Sprintf("add `%s:`", prop)))
	case "additional_property_not_allowed":
		allowed := v.properties(path)
		fix := "remove it"
		if len(allowed) > 0 {
			fix = "remove it or correct the spelling; allowed fields: " + strings.Join(allowed, ", ")
		}
		if guess := closest(prop, allowed); guess != "" {
			fix = fmt.Sprintf("did you mean %q? allowed fields: %s", guess, strings.Join(allowed, ", "))
		}
		return finding.New(doc.File, doc.KeyPos(join(path, prop)), "schema-unknown-field",
			fmt.Sprintf("unknown field %q", join(path, prop)), fix)
	case "invalid_property_name":
		return finding.New(doc.File, doc.KeyPos(join(path, prop)), "schema",
			fmt.Sprintf("%q is not allowed as a key of %s", prop, name), fixOr(v.node(path), ""))
	case "invalid_type":
		return finding.New(doc.File, doc.Pos(path), "schema-type",
			fmt.Sprintf("%s must be %s, not %s", name, article(fmt.Sprint(e.Details()["expected"])), fmt.Sprint(e.Details()["given"])),
			fixOr(v.node(path), ""))
	}
	val := valueAt(doc.Value, path)
	if _, isString := val.(string); e.Type() == "pattern" && !isString {
		return finding.Finding{}
	}
	if e.Type() == "pattern" {
		return finding.New(doc.File, doc.Pos(path), "schema-format",
			fmt.Sprintf("%s %s is not in the allowed form", name, quote(val)), fixOr(v.node(path), ""))
	}
	desc := strings.TrimSuffix(e.Description(), ".")
	return finding.New(doc.File, doc.Pos(path), "schema",
		fmt.Sprintf("%s %s is not allowed: %s", name, quote(val), lowerFirst(desc)), fixOr(v.node(path), ""))
}

// node finds the schema node for a document path, following properties,
// items, additionalProperties and local $refs.
func (v *Validator) node(path string) map[string]any {
	n := v.raw
	if path == "" {
		return n
	}
	for _, seg := range strings.Split(path, ".") {
		n = v.deref(n)
		if n == nil {
			return nil
		}
		if props, ok := n["properties"].(map[string]any); ok {
			if p, ok := props[seg].(map[string]any); ok {
				n = p
				continue
			}
		}
		if _, err := strconv.Atoi(seg); err == nil {
			if it, ok := n["items"].(map[string]any); ok {
				n = it
				continue
			}
		}
		if ap, ok := n["additionalProperties"].(map[string]any); ok {
			n = ap
			continue
		}
		return nil
	}
	return v.deref(n)
}

func (v *Validator) deref(n map[string]any) map[string]any {
	for i := 0; i < 8 && n != nil; i++ {
		ref, ok := n["$ref"].(string)
		if !ok {
			return n
		}
		next := v.raw
		for _, seg := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			next, _ = next[seg].(map[string]any)
		}
		if fix, ok := n["x-fix"]; ok && next != nil {
			merged := map[string]any{}
			for k, val := range next {
				merged[k] = val
			}
			merged["x-fix"] = fix
			next = merged
		}
		n = next
	}
	return n
}

func (v *Validator) properties(path string) []string {
	n := v.node(path)
	props, _ := n["properties"].(map[string]any)
	var names []string
	for k := range props {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func fixOr(n map[string]any, def string) string {
	if s, ok := n["x-fix"].(string); ok {
		return s
	}
	return def
}

func valueAt(v any, path string) any {
	if path == "" {
		return v
	}
	for _, seg := range strings.Split(path, ".") {
		switch t := v.(type) {
		case map[string]any:
			v = t[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(t) {
				return nil
			}
			v = t[i]
		default:
			return nil
		}
	}
	return v
}

func quote(v any) string {
	switch t := v.(type) {
	case string:
		if len(t) > 80 {
			return fmt.Sprintf("%q... (%d characters)", t[:60], len(t))
		}
		return strconv.Quote(t)
	case map[string]any, []any:
		return "(value)"
	}
	return fmt.Sprint(v)
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	if key == "" {
		return parent
	}
	return parent + "." + key
}

func article(s string) string {
	if s == "" {
		return s
	}
	if strings.ContainsRune("aeiou", rune(s[0])) {
		return "an " + s
	}
	return "a " + s
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// closest returns the allowed name within two edits of name, ignoring case,
// or "" when none is that close.
func closest(name string, allowed []string) string {
	best, bestD := "", 3
	for _, a := range allowed {
		if d := distance(strings.ToLower(name), strings.ToLower(a)); d < bestD {
			best, bestD = a, d
		}
	}
	return best
}

// distance is the Levenshtein edit distance between a and b.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur := make([]int, len(rb)+1)
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(rb)]
}
