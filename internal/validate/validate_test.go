package validate

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/elevate-dev/elevate/internal/finding"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test -update): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

func text(fs []finding.Finding) []byte {
	var b bytes.Buffer
	_ = finding.WriteText(&b, fs)
	return b.Bytes()
}

// TestTreeGolden checks every rule once, with its line and column, against
// testdata/<case>.golden.
func TestTreeGolden(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"bad", "badpolicies"} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			rep, err := Tree(context.Background(), filepath.Join("testdata", dir), nil)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, dir+".golden", text(rep.Findings))
		})
	}
}

// TestEveryRuleCovered makes sure the golden files exercise each rule.
func TestEveryRuleCovered(t *testing.T) {
	t.Parallel()
	var all []byte
	for _, name := range []string{"bad.golden", "badpolicies.golden"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	for _, rule := range []string{
		"account-quoted", "start-time", "duration", "duration-max", "schema-unknown-field", "schema-required",
		"schema-type", "schema-format", "duplicate-key", "yaml-anchor", "yaml-alias", "yaml-tag", "single-document",
		"yaml-syntax", "account-not-covered", "permission-set-not-covered", "requester-identity", "eligible",
		"ticket-required", "ticket-pattern", "request-id", "request-id-reused", "control-character",
		"alias-conflict", "policy-name-duplicate", "identity-duplicate", "ticket-pattern", "principals-empty",
		"approvals-unreachable",
	} {
		if !bytes.Contains(all, []byte("["+rule+"]")) {
			t.Errorf("no golden finding for rule %s", rule)
		}
	}
}

func TestSamplesValidate(t *testing.T) {
	t.Parallel()
	rep, err := Tree(context.Background(), filepath.Join("..", ".."), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) > 0 {
		t.Fatalf("samples have findings:\n%s", text(rep.Findings))
	}
	if len(rep.Requests) < 3 {
		t.Fatalf("want the sample requests, got %d", len(rep.Requests))
	}
	for _, c := range rep.Requests {
		if c.Decision.Policy == nil {
			t.Errorf("%s: no policy", c.Request.File)
		}
		data, err := os.ReadFile(filepath.Join("..", "..", c.Request.File))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(data), "# yaml-language-server: $schema=../schema/request.schema.json\n") {
			t.Errorf("%s lacks the schema modeline", c.Request.File)
		}
	}
}
