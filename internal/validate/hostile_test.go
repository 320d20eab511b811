package validate

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elevate-dev/elevate/internal/testenv/gittest"
)

// TestHostileFiles: each hostile file ends in a finding for that file, never a
// crash, and the valid request beside it is still judged.
func TestHostileFiles(t *testing.T) {
	t.Parallel()
	bomb := "a: &a [x, x, x, x, x, x, x, x, x]\n"
	for i := 'b'; i <= 'j'; i++ {
		bomb += string(i) + ": &" + string(i) + " [*" + string(i-1) + ", *" + string(i-1) + ", *" + string(i-1) + ", *" + string(i-1) + "]\n"
	}
	tests := []struct {
		name, path, content, rule string
		symlink                   string
	}{
		{"1 MiB file", "requests/big.yaml", goodRequest + "# " + strings.Repeat("x", 1<<20) + "\n", "file-size", ""},
		{"alias bomb", "requests/bomb.yaml", bomb, "yaml-anchor", ""},
		{"invalid UTF-8", "requests/utf.yaml", goodRequest + "reason: \xff\xfe\n", "utf8", ""},
		{"NUL byte", "requests/nul.yaml", goodRequest + "\x00\n", "nul-byte", ""},
		{"two documents", "requests/two.yaml", goodRequest + "---\n" + goodRequest, "single-document", ""},
		{"10,000-character reason", "requests/long.yaml", strings.Replace(goodRequest, "Look at the sandbox billing alarms", strings.Repeat("r", 10000), 1), "schema", ""},
		{"space in name", "requests/alice new.yaml", goodRequest, "request-id", ""},
		{"upper case name", "requests/ALICE.yaml", goodRequest, "request-id", ""},
		{"unicode look-alike name", "requests/\u0430lice.yaml", goodRequest, "request-id", ""},
		{"dot-dot name", "requests/...yaml", goodRequest, "request-id", ""},
		{"symlink outside", "requests/passwd.yaml", "", "file-kind", "/etc/passwd"},
		{"symlink to a request", "requests/link.yaml", "", "file-kind", "ok.yaml"},
		{"directory", "requests/dir.yaml/x", goodRequest, "file-kind", ""},
		{"newline and workflow command in a field", "requests/inject.yaml", strings.Replace(goodRequest, "Look at the sandbox billing alarms", "\"x\\n::set-output name=granted::true\"", 1), "control-character", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := gittest.New(t)
			r.CopyDir(filepath.Join("..", "..", "policies"), "policies")
			r.Write("requests/ok.yaml", goodRequest)
			if tt.symlink != "" {
				r.Symlink(tt.symlink, tt.path)
			} else {
				r.Write(tt.path, tt.content)
			}
			rep, err := Tree(context.Background(), r.Dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			file := tt.path
			if tt.name == "directory" {
				file = "requests/dir.yaml"
			}
			found := false
			for _, f := range rep.Findings {
				if f.File == "requests/ok.yaml" {
					t.Errorf("valid request got a finding: %s", f.Text())
				}
				if f.File == file && f.Rule == tt.rule {
					found = true
				}
				if strings.ContainsAny(f.Text(), "\n\r") {
					t.Errorf("finding text spans lines: %q", f.Text())
				}
			}
			if !found {
				t.Errorf("no %s finding for %s:\n%s", tt.rule, file, text(rep.Findings))
			}
			judged := false
			for _, c := range rep.Requests {
				judged = judged || c.Request.ID == "ok"
			}
			if !judged {
				t.Error("the valid request was not judged")
			}
		})
	}
}
