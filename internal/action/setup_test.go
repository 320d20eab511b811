package action_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/elevate-dev/elevate/internal/action"
	"github.com/elevate-dev/elevate/internal/finding"
)

// root is the repository this package lives in.
var root = filepath.Join("..", "..")

// TestRepositorySetup: the repository's own Action, workflows and
// CODEOWNERS pass every check `elevate doctor` makes. actionlint (in
// .ci/run) checks the workflows' syntax and expressions; this checks what
// actionlint cannot: the Action's metadata and elevate's own rules.
func TestRepositorySetup(t *testing.T) {
	t.Parallel()
	if fs := action.CheckSetup(root); len(fs) > 0 {
		var b strings.Builder
		_ = finding.WriteText(&b, fs)
		t.Errorf("the repository's set-up has findings:\n%s", b.String())
	}
}

// TestWorkflowPermissions: only grant and revoke may mint an OIDC token,
// and only in their one job.
func TestWorkflowPermissions(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.yml"))
	if err != nil || len(files) < 4 {
		t.Fatalf("workflows: %v %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n := strings.Count(string(data), "id-token: write")
		want := map[string]int{"grant.yml": 1, "revoke.yml": 1}[filepath.Base(f)]
		if n != want {
			t.Errorf("%s grants id-token: write %d times, want %d", filepath.Base(f), n, want)
		}
	}
}

func rulesOf(fs []finding.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule)
	}
	return out
}

func TestCheckWorkflow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"good", "on: push\npermissions: {}\njobs:\n  a:\n    permissions:\n      id-token: write\n    steps:\n      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0\n      - uses: ./action\n", nil},
		{"tag", "on: push\npermissions: {}\njobs:\n  a:\n    steps:\n      - uses: actions/checkout@v5\n", []string{"action-pin"}},
		{"short sha", "on: push\npermissions: {}\njobs:\n  a:\n    steps:\n      - uses: actions/checkout@08c6903\n", []string{"action-pin"}},
		{"no comment", "on: push\npermissions: {}\njobs:\n  a:\n    steps:\n      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8\n", []string{"action-pin-comment"}},
		{"docker tag", "on: push\npermissions: {}\njobs:\n  a:\n    steps:\n      - uses: docker://alpine:3\n", []string{"action-pin"}},
		{"reusable workflow", "on: push\npermissions: {}\njobs:\n  a:\n    uses: org/repo/.github/workflows/x.yml@main\n", []string{"action-pin"}},
		{"pull_request_target", "on: [pull_request_target]\npermissions: {}\njobs: {}\n", []string{"workflow-trigger"}},
		{"no permissions", "on: push\njobs: {}\n", []string{"workflow-permissions"}},
		{"top-level id-token", "on: push\npermissions:\n  id-token: write\njobs: {}\n", []string{"workflow-permissions"}},
		{"id-token on a PR", "on: [push, pull_request]\npermissions: {}\njobs:\n  a:\n    permissions:\n      id-token: write\n    steps: []\n", []string{"workflow-permissions"}},
		{"write-all on a PR", "on: pull_request\npermissions: {}\njobs:\n  a:\n    permissions: write-all\n    steps: []\n", []string{"workflow-permissions"}},
		{"not yaml", "on: [\n", []string{"yaml-syntax"}},
		{"secret in a PR workflow", "on: pull_request\npermissions: {}\njobs:\n  a:\n    steps:\n      - run: echo ${{ secrets.APP_KEY }} ${{ secrets.GITHUB_TOKEN }}\n", []string{"workflow-secrets"}},
	}
	for _, tt := range tests {
		_, fs := action.CheckWorkflow("w.yml", []byte(tt.yaml))
		if diff := cmp.Diff(tt.want, rulesOf(fs)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestCheckAction(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile(filepath.Join(root, "action", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if fs := action.CheckAction("action.yml", good); len(fs) > 0 {
		t.Fatalf("action.yml: %v", fs)
	}
	tests := []struct {
		name     string
		old, new string
		want     []string
	}{
		{"input not declared", "\n  comment:\n", "\n  commentx:\n", []string{"action-metadata", "action-metadata"}},
		{"input not passed", "        INPUT_BRANCH: ${{ inputs.branch }}\n", "", []string{"action-metadata"}},
		{"output not declared", "  comment-id:\n", "  comment:\n", []string{"action-metadata"}},
		{"script injection", `run: '"$BIN/elevate" action'`, `run: '"$BIN/elevate" action ${{ inputs.args }}'`, []string{"action-script-injection"}},
		{"unpinned", "actions/setup-go@44694675825211faa026b3c33043df3e48a5fa00 # v6.0.0", "actions/setup-go@v6", []string{"action-pin"}},
		{"bad using", "using: composite", "using: node12", []string{"action-metadata"}},
		{"no shell", "      shell: bash\n      env:\n        INPUT_COMMAND", "      env:\n        INPUT_COMMAND", []string{"action-metadata"}},
	}
	for _, tt := range tests {
		if !strings.Contains(string(good), tt.old) {
			t.Fatalf("%s: action.yml has no %q", tt.name, tt.old)
		}
		fs := action.CheckAction("action.yml", []byte(strings.Replace(string(good), tt.old, tt.new, 1)))
		if diff := cmp.Diff(tt.want, rulesOf(fs)); diff != "" {
			t.Errorf("%s (-want +got):\n%s\n%v", tt.name, diff, fs)
		}
	}
}

// TestCheckSetupWorkflows: what each of the three workflows must do.
func TestCheckSetupWorkflows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, old, new, want string
	}{
		{"validate filtered by paths", "validate.yml", "    types: [opened, synchronize, reopened, edited]\n", "    paths: [\"requests/**\"]\n", "workflow-validate"},
		{"validate without the Action", "validate.yml", "command: validate", "command: plan", "workflow-validate"},
		{"grant cancels", "grant.yml", "cancel-in-progress: false", "cancel-in-progress: true", "workflow-concurrency"},
		{"groups differ", "revoke.yml", "group: elevate-reconcile", "group: revoke", "workflow-concurrency"},
		{"no environment", "grant.yml", "    environment: elevate\n", "", "workflow-environment"},
		{"top of the hour", "revoke.yml", `"3-59/10 * * * *"`, `"*/10 * * * *"`, "workflow-schedule"},
		{"no dispatch", "revoke.yml", "  workflow_dispatch:\n", "  repository_dispatch:\n", "workflow-reconcile"},
		{"no schedule", "revoke.yml", "  schedule:\n    - cron: \"3-59/10 * * * *\"\n", "", "workflow-reconcile"},
		{"grant on a PR", "grant.yml", "  push:\n", "  pull_request:\n  push:\n", "workflow-permissions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			copyTree(t, root, dir, "action", ".github", ".github/workflows")
			path := filepath.Join(dir, ".github", "workflows", tt.file)
			data, err := os.ReadFile(path)
			if err != nil || !strings.Contains(string(data), tt.old) {
				t.Fatalf("%s has no %q (%v)", tt.file, tt.old, err)
			}
			if err := os.WriteFile(path, []byte(strings.Replace(string(data), tt.old, tt.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range action.CheckSetup(dir) {
				if f.Rule != "codeowners-cover" {
					got = append(got, f.Rule)
				}
			}
			if !contains(got, tt.want) {
				t.Errorf("findings %v lack %s", got, tt.want)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// copyTree copies the files directly in each sub folder of src to dst.
func copyTree(t *testing.T, src, dst string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		entries, err := os.ReadDir(filepath.Join(src, sub))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dst, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			data, err := os.ReadFile(filepath.Join(src, sub, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, sub, e.Name()), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestCheckCron(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr    string
		top     bool
		perHour int
	}{
		{"3-59/10 * * * *", false, 6},
		{"*/10 * * * *", true, 6},
		{"0 * * * *", true, 1},
		{"5,35 * * * *", false, 2},
		{"7/15 * * * *", false, 4},
		{"* * * * *", true, 60},
	}
	for _, tt := range tests {
		top, n, err := action.CheckCron(tt.expr)
		if err != nil || top != tt.top || n != tt.perHour {
			t.Errorf("CheckCron(%q) = %v, %d, %v; want %v, %d", tt.expr, top, n, err, tt.top, tt.perHour)
		}
	}
	for _, bad := range []string{"* * * *", "x * * * *", "70 * * * *", "*/0 * * * *"} {
		if _, _, err := action.CheckCron(bad); err == nil {
			t.Errorf("CheckCron(%q) accepted", bad)
		}
	}
}

func TestCodeowners(t *testing.T) {
	t.Parallel()
	co, fs := action.ParseCodeowners("CODEOWNERS", []byte(`# comment
*                @acme/platform
/requests/       @acme/security @acme/sre
docs/*           @docs
**/logs          @ops
/internal/gen/
apps/            @apps # trailing comment
!negated         @x
go.mod           nobody
`))
	if diff := cmp.Diff([]string{"codeowners-syntax", "codeowners-syntax"}, rulesOf(fs)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	tests := map[string]string{
		"README.md":             "@acme/platform",
		"requests/a.yaml":       "@acme/security @acme/sre",
		"x/requests/a.yaml":     "@acme/platform",
		"docs/a.md":             "@docs",
		"docs/deep/a.md":        "@acme/platform",
		"logs/a":                "@ops",
		"a/b/logs/c":            "@ops",
		"internal/gen/x.go":     "",
		"internal/cli/x.go":     "@acme/platform",
		"src/apps/x/y.go":       "@apps",
		"go.mod":                "@acme/platform",
		".github/CODEOWNERS":    "@acme/platform",
		"requests/sub/deep.yml": "@acme/security @acme/sre",
	}
	for p, want := range tests {
		owners, _ := co.Owners(p)
		if got := strings.Join(owners, " "); got != want {
			t.Errorf("Owners(%q) = %q, want %q", p, got, want)
		}
	}
}

// TestCheckSetupCodeowners: a CODEOWNERS that leaves a protected path
// without an owner is reported, once per path.
func TestCheckSetupCodeowners(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(p, s string) {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(".github/CODEOWNERS", "/requests/ @acme/security\n/internal/ @acme/platform\n/internal/gen/\n")
	write("internal/gen/x.go", "package gen\n")
	write("internal/cli/x.go", "package cli\n")
	var got []string
	for _, f := range action.CheckSetup(dir) {
		if f.Rule == "codeowners-cover" {
			got = append(got, strings.SplitN(f.Message, " ", 2)[0])
		}
	}
	sort.Strings(got)
	want := []string{".github/CODEOWNERS", "action/elevate-new-file.yaml", "archive/elevate-new-file.yaml", "cmd/elevate-new-file.yaml",
		"go.mod", "go.sum", "internal/gen/x.go", "policies/elevate-new-file.yaml", "schema/elevate-new-file.yaml", "status/elevate-new-file.yaml"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("uncovered (-want +got):\n%s", diff)
	}
}
