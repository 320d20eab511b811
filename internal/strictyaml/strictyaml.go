// Package strictyaml decodes the YAML files people write for elevate under
// strict rules: a size cap, valid UTF-8, no NUL bytes, exactly one document
// whose root is a mapping, no anchors, aliases, merge keys or custom tags, and
// no duplicate keys. It turns the document into a JSON value for schema
// validation and remembers where every value came from, so that every problem
// can be reported at its line and column.
package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/elevate-dev/elevate/internal/finding"
)

// MaxSize is the largest file elevate reads, in bytes.
const MaxSize = 64 << 10

// maxDepth bounds nesting; no elevate format needs more than a few levels.
const maxDepth = 16

// Document is a decoded file.
type Document struct {
	// File is the path the document was read from, for findings.
	File string
	// Root is the root mapping node.
	Root *yaml.Node
	// Value is the document as a JSON value (map[string]any, []any, string,
	// int64, float64, bool, nil).
	Value any
	// values maps a dotted path ("accounts.0.id") to the position of its value;
	// keys maps it to the position of its key.
	values map[string]finding.Pos
	keys   map[string]finding.Pos
}

// Pos returns the position of the value at path, or of the closest parent
// that exists. The root path is "".
func (d *Document) Pos(path string) finding.Pos {
	for {
		if p, ok := d.values[path]; ok {
			return p
		}
		i := strings.LastIndexByte(path, '.')
		if i < 0 {
			if p, ok := d.values[""]; ok {
				return p
			}
			return finding.Pos{Line: 1, Col: 1}
		}
		path = path[:i]
	}
}

// KeyPos returns the position of the key at path, falling back to Pos.
func (d *Document) KeyPos(path string) finding.Pos {
	if p, ok := d.keys[path]; ok {
		return p
	}
	return d.Pos(path)
}

// Node returns the value node at a top-level key, or nil.
func (d *Document) Node(key string) *yaml.Node {
	for i := 0; i+1 < len(d.Root.Content); i += 2 {
		if d.Root.Content[i].Value == key {
			return d.Root.Content[i+1]
		}
	}
	return nil
}

// Decode parses data under the strict rules. It returns every problem it can
// find; when the returned findings are not empty the document is nil.
func Decode(file string, data []byte) (*Document, []finding.Finding) {
	f := func(pos finding.Pos, rule, msg, fix string) []finding.Finding {
		return []finding.Finding{finding.New(file, pos, rule, msg, fix)}
	}
	if len(data) > MaxSize {
		return nil, f(finding.Pos{Line: 1, Col: 1}, "file-size",
			fmt.Sprintf("file is %d bytes, more than the %d allowed", len(data), MaxSize),
			"a request or policy file is a few lines; split or shorten it")
	}
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return nil, f(posAt(data, off), "utf8", fmt.Sprintf("invalid UTF-8 byte 0x%02x", data[off]), "save the file as UTF-8")
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return nil, f(posAt(data, i), "nul-byte", "the file contains a NUL byte", "save the file as plain UTF-8 text")
	}
	if len(bytes.TrimSpace(stripComments(data))) == 0 {
		return nil, f(finding.Pos{Line: 1, Col: 1}, "empty", "the file has no content", "write the fields the schema in the modeline describes")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, f(syntaxPos(err), "yaml-syntax", "YAML syntax error: "+syntaxMessage(err), "fix the YAML syntax at this line")
	}
	var second yaml.Node
	if err := dec.Decode(&second); err == nil {
		pos := finding.Pos{Line: second.Line, Col: second.Column}
		if len(second.Content) > 0 {
			pos = finding.Pos{Line: second.Content[0].Line, Col: second.Content[0].Column}
		}
		return nil, f(pos, "single-document", "the file holds more than one YAML document", "keep one document per file; remove the '---' separator and what follows")
	} else if !errors.Is(err, io.EOF) {
		return nil, f(syntaxPos(err), "single-document", "the file holds more than one YAML document, and the next one is not valid YAML: "+syntaxMessage(err), "keep one document per file")
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		pos := finding.Pos{Line: 1, Col: 1}
		if len(doc.Content) == 1 {
			pos = finding.Pos{Line: doc.Content[0].Line, Col: doc.Content[0].Column}
		}
		return nil, f(pos, "yaml-root", "the document is not a mapping of field names to values", "write `field: value` lines, as in the samples")
	}
	d := &Document{File: file, Root: doc.Content[0], values: map[string]finding.Pos{}, keys: map[string]finding.Pos{}}
	var fs []finding.Finding
	d.Value = d.convert(d.Root, "", 0, &fs)
	if len(fs) > 0 {
		return nil, fs
	}
	return d, nil
}

func (d *Document) convert(n *yaml.Node, path string, depth int, fs *[]finding.Finding) any {
	pos := finding.Pos{Line: n.Line, Col: n.Column}
	d.values[path] = pos
	add := func(rule, msg, fix string) {
		*fs = append(*fs, finding.New(d.File, pos, rule, msg, fix))
	}
	if depth > maxDepth {
		add("yaml-depth", fmt.Sprintf("nesting is deeper than %d levels", maxDepth), "flatten the structure as the schema describes")
		return nil
	}
	if n.Anchor != "" {
		add("yaml-anchor", fmt.Sprintf("anchor &%s is not allowed", n.Anchor), "write each value out in full; anchors and aliases are refused")
	}
	if n.Style&yaml.TaggedStyle != 0 {
		add("yaml-tag", fmt.Sprintf("tag %s is not allowed", n.Tag), "remove the tag; write a plain value")
		return nil
	}
	switch n.Kind {
	case yaml.AliasNode:
		add("yaml-alias", fmt.Sprintf("alias *%s is not allowed", n.Value), "write each value out in full; anchors and aliases are refused")
		return nil
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kpos := finding.Pos{Line: k.Line, Col: k.Column}
			if k.Kind != yaml.ScalarNode || k.Tag != "!!str" {
				if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
					*fs = append(*fs, finding.New(d.File, kpos, "yaml-alias", "merge key << is not allowed", "write each value out in full"))
				} else {
					*fs = append(*fs, finding.New(d.File, kpos, "yaml-key", fmt.Sprintf("key %q is not a plain string", k.Value), "use a field name from the schema"))
				}
				continue
			}
			sub := joinPath(path, k.Value)
			if _, dup := m[k.Value]; dup {
				*fs = append(*fs, finding.New(d.File, kpos, "duplicate-key",
					fmt.Sprintf("key %q appears twice (first at line %d)", k.Value, d.keys[sub].Line), "keep one of them"))
				continue
			}
			d.keys[sub] = kpos
			m[k.Value] = d.convert(v, sub, depth+1, fs)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			s = append(s, d.convert(c, joinPath(path, strconv.Itoa(i)), depth+1, fs))
		}
		return s
	case yaml.ScalarNode:
		v := scalar(n)
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			// JSON has no such number (.inf, .nan, one past float64): keep
			// the text, so the schema and the field's own rule say what is
			// wrong with it at its line, instead of the validator failing
			// on the whole file.
			return n.Value
		}
		return v
	}
	add("yaml-kind", "unsupported YAML node", "write plain values")
	return nil
}

// scalar converts a resolved YAML scalar to its JSON value.
func scalar(n *yaml.Node) any {
	switch n.Tag {
	case "!!int":
		if v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
			return v
		}
		return math.Inf(1)
	case "!!float":
		v, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			return math.NaN()
		}
		return v
	case "!!bool":
		var b bool
		_ = n.Decode(&b)
		return b
	case "!!null":
		return nil
	}
	// !!str, !!timestamp and !!binary keep their text: elevate parses times itself.
	return n.Value
}

// IsQuotedString reports whether a scalar node was written as a string
// (quoted, or plain text YAML resolves to a string).
func IsQuotedString(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!str"
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// posAt converts a byte offset to a 1-based line and column (in runes).
func posAt(data []byte, off int) finding.Pos {
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	return finding.Pos{Line: line, Col: 1 + utf8.RuneCount(data[start:off])}
}

var lineRE = regexp.MustCompile(`line (\d+)`)

func syntaxPos(err error) finding.Pos {
	if m := lineRE.FindStringSubmatch(err.Error()); m != nil {
		if l, e := strconv.Atoi(m[1]); e == nil {
			return finding.Pos{Line: l, Col: 1}
		}
	}
	return finding.Pos{Line: 1, Col: 1}
}

var linePrefixRE = regexp.MustCompile(`^line \d+: `)

func syntaxMessage(err error) string {
	return linePrefixRE.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "")
}

func stripComments(data []byte) []byte {
	var out []byte
	for _, l := range bytes.Split(data, []byte{'\n'}) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			out = append(out, t...)
		}
	}
	return out
}
