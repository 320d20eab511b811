package githubfake

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// spec is the vendored excerpt of GitHub's OpenAPI description
// (testdata/README.md).
type spec struct {
	Info struct {
		Version string `json:"version"`
	} `json:"info"`
	Paths map[string]map[string]struct {
		OperationID string `json:"operationId"`
		Responses   map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"responses"`
	} `json:"paths"`
	Components struct {
		Schemas map[string]map[string]any `json:"schemas"`
	} `json:"components"`
}

func loadSpec(t *testing.T) *spec {
	t.Helper()
	b, err := os.ReadFile("testdata/openapi-excerpt.json")
	if err != nil {
		t.Fatal(err)
	}
	var s spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("decode OpenAPI excerpt: %v", err)
	}
	return &s
}

// responseSchema returns the schema of route's response with status code,
// falling back to basic-error for error statuses the operation does not list.
func (s *spec) responseSchema(t *testing.T, route Route, status int) map[string]any {
	t.Helper()
	method, path, _ := strings.Cut(string(route), " ")
	op, ok := s.Paths[path][strings.ToLower(method)]
	if !ok {
		t.Fatalf("route %s is not in the OpenAPI excerpt", route)
	}
	if r, ok := op.Responses[fmt.Sprint(status)]; ok && r.Schema != nil {
		return r.Schema
	}
	if status >= 400 {
		return map[string]any{"$ref": "#/components/schemas/basic-error"}
	}
	t.Fatalf("%s (%s) documents no schema for status %d", route, op.OperationID, status)
	return nil
}

// check validates v, a decoded JSON value, against an OpenAPI 3.0 schema and
// returns every violation. It covers what GitHub's description uses: $ref,
// type, nullable, required, properties, additionalProperties, items, enum,
// allOf, anyOf, oneOf and the date-time and uri formats. It is stricter than
// the schema in one way: an object property the schema does not name is an
// error, so a misspelt field in the fake shows up.
func (s *spec) check(at string, schema map[string]any, v any) []string {
	if ref, ok := schema["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		target, ok := s.Components.Schemas[name]
		if !ok {
			return []string{fmt.Sprintf("%s: unresolved $ref %s", at, ref)}
		}
		return s.check(at, target, v)
	}
	if v == nil {
		_, typed := schema["type"]
		_, allOf := schema["allOf"]
		_, anyOf := schema["anyOf"]
		_, oneOf := schema["oneOf"]
		if schema["nullable"] == true || !(typed || allOf || anyOf || oneOf) {
			return nil
		}
		return []string{at + ": null, but the schema is not nullable"}
	}
	var errs []string
	if subs, ok := schema["allOf"].([]any); ok {
		for _, sub := range subs {
			errs = append(errs, s.check(at, sub.(map[string]any), v)...)
		}
	}
	for _, key := range []string{"anyOf", "oneOf"} {
		subs, ok := schema[key].([]any)
		if !ok {
			continue
		}
		pass := 0
		var why []string
		for _, sub := range subs {
			e := s.check(at, sub.(map[string]any), v)
			if len(e) == 0 {
				pass++
			}
			why = append(why, e...)
		}
		if pass == 0 || (key == "oneOf" && pass > 1) {
			errs = append(errs, fmt.Sprintf("%s: %d of %d %s branches match: %s", at, pass, len(subs), key, strings.Join(why, "; ")))
		}
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, v) {
		errs = append(errs, fmt.Sprintf("%s: %v is not one of %v", at, v, enum))
	}
	typ, _ := schema["type"].(string)
	switch typ {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return append(errs, fmt.Sprintf("%s: want object, got %T", at, v))
		}
		props, _ := schema["properties"].(map[string]any)
		required, _ := schema["required"].([]any)
		for _, r := range required {
			if _, ok := m[r.(string)]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required field %q missing", at, r))
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p, ok := props[k].(map[string]any); ok {
				errs = append(errs, s.check(at+"."+k, p, m[k])...)
				continue
			}
			if extra, ok := schema["additionalProperties"].(map[string]any); ok {
				errs = append(errs, s.check(at+"."+k, extra, m[k])...)
				continue
			}
			errs = append(errs, fmt.Sprintf("%s: field %q is not in the schema", at, k))
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return append(errs, fmt.Sprintf("%s: want array, got %T", at, v))
		}
		items, _ := schema["items"].(map[string]any)
		for i, x := range a {
			errs = append(errs, s.check(fmt.Sprintf("%s[%d]", at, i), items, x)...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return append(errs, fmt.Sprintf("%s: want string, got %T", at, v))
		}
		switch schema["format"] {
		case "date-time":
			if _, err := time.Parse(time.RFC3339, str); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %q is not a date-time", at, str))
			}
		case "uri":
			if u, err := url.Parse(str); err != nil || u.Scheme == "" || u.Host == "" {
				errs = append(errs, fmt.Sprintf("%s: %q is not an absolute URI", at, str))
			}
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != math.Trunc(f) {
			errs = append(errs, fmt.Sprintf("%s: want integer, got %v", at, v))
		}
	case "number":
		if _, ok := v.(float64); !ok {
			errs = append(errs, fmt.Sprintf("%s: want number, got %T", at, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			errs = append(errs, fmt.Sprintf("%s: want boolean, got %T", at, v))
		}
	}
	return errs
}

// TestSpecChecker makes sure the checker itself rejects what it should, so
// that a passing conformance test means something.
func TestSpecChecker(t *testing.T) {
	t.Parallel()
	s := loadSpec(t)
	if s.Info.Version == "" {
		t.Error("excerpt has no version")
	}
	review := map[string]any{"$ref": "#/components/schemas/pull-request-review"}
	tests := []struct {
		name string
		v    string
		want string
	}{
		{"wrong type", `{"id":"1"}`, "$.id: want integer"},
		{"missing required", `{}`, `required field "commit_id" missing`},
		{"unknown field", `{"commitid":"x"}`, `field "commitid" is not in the schema`},
		{"null where not nullable", `{"state":null}`, "$.state: null, but the schema is not nullable"},
		{"bad uri", `{"html_url":"not a uri"}`, "is not an absolute URI"},
		{"bad date", `{"submitted_at":"yesterday"}`, "is not a date-time"},
		{"enum", `{"author_association":"FRIEND"}`, "is not one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var v any
			if err := json.Unmarshal([]byte(tt.v), &v); err != nil {
				t.Fatal(err)
			}
			errs := strings.Join(s.check("$", review, v), "\n")
			if !strings.Contains(errs, tt.want) {
				t.Errorf("check(%s) = %q, want it to contain %q", tt.v, errs, tt.want)
			}
		})
	}
}
