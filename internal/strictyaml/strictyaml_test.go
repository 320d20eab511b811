package strictyaml

import (
	"strings"
	"testing"
)

func TestDecodeRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, rule string
		line, col      int
	}{
		{"duplicate key", "a: 1\nb: 2\na: 3\n", "duplicate-key", 3, 1},
		{"nested duplicate key", "a:\n  x: 1\n  x: 2\n", "duplicate-key", 3, 3},
		{"anchor", "a: &x 1\n", "yaml-anchor", 1, 4},
		{"alias", "a: &x 1\nb: *x\n", "yaml-alias", 2, 4},
		{"merge key", "a: &x {k: 1}\nb:\n  <<: *x\n", "yaml-alias", 3, 3},
		{"custom tag", "a: !secret x\n", "yaml-tag", 1, 4},
		{"second document", "a: 1\n---\nb: 2\n", "single-document", 3, 1},
		{"not a mapping", "- a\n- b\n", "yaml-root", 1, 1},
		{"empty", "# only a comment\n", "empty", 1, 1},
		{"invalid UTF-8 position", "a: ok\nb: \xc3\x28\n", "utf8", 2, 4},
		{"NUL position", "a: ok\nbb: x\x00\n", "nul-byte", 2, 6},
		{"syntax", "a: [1, 2\n", "yaml-syntax", 1, 1},
		{"too large", "a: " + strings.Repeat("x", MaxSize) + "\n", "file-size", 1, 1},
		{"non-string key", "1: x\n", "yaml-key", 1, 1},
		{"too deep", "a: " + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "\n", "yaml-depth", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc, fs := Decode("f.yaml", []byte(tt.in))
			if doc != nil || len(fs) == 0 {
				t.Fatalf("want a finding, got doc %v", doc)
			}
			for _, f := range fs {
				if f.Rule == tt.rule && f.Line == tt.line && (tt.col == 0 || f.Col == tt.col) {
					return
				}
			}
			t.Errorf("got %v, want rule %s at %d:%d", fs, tt.rule, tt.line, tt.col)
		})
	}
}

func TestPositions(t *testing.T) {
	t.Parallel()
	doc, fs := Decode("f.yaml", []byte("# c\nname: x\nlist:\n  - id: \"1\"\n    alias: a\n"))
	if fs != nil {
		t.Fatal(fs)
	}
	for path, want := range map[string][2]int{"name": {2, 7}, "list.0.id": {4, 9}, "list.0.alias": {5, 12}, "list.0.missing": {4, 5}} {
		p := doc.Pos(path)
		if p.Line != want[0] || p.Col != want[1] {
			t.Errorf("Pos(%q) = %d:%d, want %d:%d", path, p.Line, p.Col, want[0], want[1])
		}
	}
	if p := doc.KeyPos("list.0.alias"); p.Line != 5 || p.Col != 5 {
		t.Errorf("KeyPos = %+v", p)
	}
}

func TestAliasBombIsRefusedCheaply(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 30; i++ {
		b.WriteString(strings.NewReplacer("N", string(rune('0'+i%10)), "P", string(rune('0'+(i-1)%10))).Replace("aN: &aN [*aP, *aP, *aP, *aP, *aP, *aP, *aP, *aP, *aP, *aP]\n"))
	}
	doc, fs := Decode("bomb.yaml", []byte(b.String()))
	if doc != nil || len(fs) == 0 {
		t.Fatal("alias bomb accepted")
	}
}
