package action

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/elevate-dev/elevate/internal/finding"
)

// The files of the GitHub side of a set-up.
const (
	ActionFile   = "action/action.yml"
	WorkflowDir  = ".github/workflows"
	ValidateFile = WorkflowDir + "/validate.yml"
	GrantFile    = WorkflowDir + "/grant.yml"
	RevokeFile   = WorkflowDir + "/revoke.yml"
)

// Protected are the paths CODEOWNERS must give an owner: what decides who
// gets access (requests, policies, schemas), the tool and its workflows, and
// the state elevate writes.
var Protected = []string{
	"requests/", "policies/", "schema/", "action/", "cmd/", "internal/", ".github/",
	"go.mod", "go.sum", "status/", "archive/",
}

// grantEvents are the only events a job with id-token: write may run on
// (DESIGN.md invariant 4).
var grantEvents = map[string]bool{"push": true, "schedule": true, "workflow_dispatch": true}

var (
	shaRef     = regexp.MustCompile(`^[0-9a-f]{40}$`)
	dockerSHA  = regexp.MustCompile(`^docker://[^@]+@sha256:[0-9a-f]{64}$`)
	versionTag = regexp.MustCompile(`v[0-9]`)
)

// yamlDoc is a parsed YAML file with helpers that report positions.
type yamlDoc struct {
	file string
	root *yaml.Node
	fs   []finding.Finding
}

func parseYAML(file string, data []byte) (*yamlDoc, []finding.Finding) {
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, []finding.Finding{finding.New(file, finding.Pos{Line: 1, Col: 1}, "yaml-syntax", fmt.Sprintf("not valid YAML: %v", err), "fix the syntax")}
	}
	if len(n.Content) != 1 || n.Content[0].Kind != yaml.MappingNode {
		return nil, []finding.Finding{finding.New(file, finding.Pos{Line: 1, Col: 1}, "yaml-syntax", "not a YAML mapping", "")}
	}
	return &yamlDoc{file: file, root: n.Content[0]}, nil
}

func (d *yamlDoc) add(n *yaml.Node, rule, msg, fix string) {
	d.fs = append(d.fs, at(d.file, n, rule, msg, fix))
}

// at is a finding at node n of file (the top of the file when n is nil).
func at(file string, n *yaml.Node, rule, msg, fix string) finding.Finding {
	pos := finding.Pos{Line: 1, Col: 1}
	if n != nil {
		pos = finding.Pos{Line: n.Line, Col: n.Column}
	}
	return finding.New(file, pos, rule, msg, fix)
}

// get returns the value of key in mapping n, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// pairs returns the keys and values of mapping n.
func pairs(n *yaml.Node) [][2]*yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var out [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, [2]*yaml.Node{n.Content[i], n.Content[i+1]})
	}
	return out
}

// checkUses reports every `uses:` not pinned to a full commit id (or an
// image digest). Local actions (./path) are the repository's own code.
func (d *yamlDoc) checkUses(n *yaml.Node) {
	for _, kv := range pairs(n) {
		k, v := kv[0], kv[1]
		if k.Value == "uses" && v.Kind == yaml.ScalarNode {
			u := v.Value
			_, ref, _ := strings.Cut(u, "@")
			switch {
			case strings.HasPrefix(u, "./"):
			case strings.HasPrefix(u, "docker://"):
				if !dockerSHA.MatchString(u) {
					d.add(v, "action-pin", fmt.Sprintf("%s is not pinned to an image digest", u), "write docker://image@sha256:<digest>")
				}
			case !shaRef.MatchString(ref):
				d.add(v, "action-pin", fmt.Sprintf("%s is not pinned to a full commit SHA; a tag or branch can be moved to other code", u),
					"write owner/repo@<40-hex commit> # vX.Y.Z")
			case !versionTag.MatchString(v.LineComment):
				d.add(v, "action-pin-comment", fmt.Sprintf("%s has no version comment", u), "add the release the commit is, e.g. # v5.0.0")
			}
		}
	}
	for _, c := range n.Content {
		d.checkUses(c)
	}
}

// Workflow is what the checks learned about one workflow file.
type Workflow struct {
	// File is the workflow's path in the repository.
	File string
	// Events are the triggers, with their settings (nil when none).
	Events map[string]*yaml.Node
	doc    *yamlDoc
}

// CheckWorkflow checks what every workflow in a set-up must respect: every
// action pinned, never pull_request_target, explicit permissions, and
// id-token: write only in workflows that run on push, schedule or dispatch.
func CheckWorkflow(file string, data []byte) (*Workflow, []finding.Finding) {
	d, fs := parseYAML(file, data)
	if d == nil {
		return nil, fs
	}
	w := &Workflow{File: file, Events: map[string]*yaml.Node{}, doc: d}
	on := get(d.root, "on")
	switch {
	case on == nil:
		d.add(nil, "workflow-trigger", "the workflow has no `on:`", "")
	case on.Kind == yaml.ScalarNode:
		w.Events[on.Value] = nil
	case on.Kind == yaml.SequenceNode:
		for _, e := range on.Content {
			w.Events[e.Value] = nil
		}
	default:
		for _, kv := range pairs(on) {
			w.Events[kv[0].Value] = kv[1]
		}
	}
	if _, bad := w.Events["pull_request_target"]; bad {
		d.add(on, "workflow-trigger", "the workflow runs on pull_request_target, which gives a PR's run the base repository's secrets and a write token",
			"use pull_request")
	}
	onlyGrantEvents := len(w.Events) > 0
	for e := range w.Events {
		onlyGrantEvents = onlyGrantEvents && grantEvents[e]
	}
	if p := get(d.root, "permissions"); p == nil {
		d.add(nil, "workflow-permissions", "the workflow sets no top-level permissions, so every job gets the repository's default token permissions",
			"add `permissions: {}` and grant each job only what it needs")
	} else if v := get(p, "id-token"); (v != nil && v.Value == "write") || p.Value == "write-all" {
		d.add(p, "workflow-permissions", "id-token: write is granted to every job of the workflow", "grant it only in the job that assumes the AWS role")
	}
	for _, kv := range pairs(get(d.root, "jobs")) {
		p := get(kv[1], "permissions")
		if v := get(p, "id-token"); (v != nil && v.Value == "write") || (p != nil && p.Value == "write-all") {
			if !onlyGrantEvents {
				d.add(p, "workflow-permissions", fmt.Sprintf("job %s has id-token: write but the workflow also runs on other events than push, schedule and workflow_dispatch", kv[0].Value),
					"grants come only from main's own workflow on push, schedule or dispatch")
			}
		}
	}
	if _, pr := w.Events["pull_request"]; pr {
		for _, m := range secretRef.FindAllStringSubmatch(string(data), -1) {
			if m[1] != "GITHUB_TOKEN" {
				d.add(nil, "workflow-secrets", fmt.Sprintf("the workflow runs on pull_request and reads secrets.%s; a PR from a branch of this repository controls the workflow file and can print it", m[1]),
					"keep secrets in the environment of a job that runs only on main")
			}
		}
	}
	d.checkUses(d.root)
	return w, d.fs
}

var secretRef = regexp.MustCompile(`secrets\.([A-Za-z_][A-Za-z0-9_]*)`)

// jobsWithIDToken returns the jobs granted id-token: write.
func (w *Workflow) jobsWithIDToken() [][2]*yaml.Node {
	var out [][2]*yaml.Node
	for _, kv := range pairs(get(w.doc.root, "jobs")) {
		p := get(kv[1], "permissions")
		if v := get(p, "id-token"); (v != nil && v.Value == "write") || (p != nil && p.Value == "write-all") {
			out = append(out, kv)
		}
	}
	return out
}

// steps returns every step of every job.
func (w *Workflow) steps() []*yaml.Node {
	var out []*yaml.Node
	for _, job := range pairs(get(w.doc.root, "jobs")) {
		if s := get(job[1], "steps"); s != nil {
			out = append(out, s.Content...)
		}
	}
	return out
}

// runsAction reports whether a step uses the local Action with command.
func (w *Workflow) runsAction(command string) bool {
	for _, s := range w.steps() {
		u := get(s, "uses")
		if u == nil || strings.TrimSuffix(u.Value, "/") != "./action" {
			continue
		}
		c := get(get(s, "with"), "command")
		if (c == nil && command == "validate") || (c != nil && c.Value == command) {
			return true
		}
	}
	return false
}

// concurrency returns the group and whether a running reconcile is never
// cancelled.
func (w *Workflow) concurrency() (string, bool, *yaml.Node) {
	c := get(w.doc.root, "concurrency")
	if c != nil && c.Kind == yaml.ScalarNode {
		return c.Value, true, c
	}
	g, cancel := get(c, "group"), get(c, "cancel-in-progress")
	if g == nil {
		return "", false, c
	}
	return g.Value, cancel == nil || cancel.Value == "false", c
}

// CheckAction checks action/action.yml: what actionlint does not, because it
// checks an action's metadata only where a workflow uses it, and then only
// the inputs. Every input and output the code uses is declared, each input
// the code reads reaches it as INPUT_<NAME>, inputs never go into a script
// (script injection), every run step names its shell, and every action is
// pinned.
func CheckAction(file string, data []byte) []finding.Finding {
	d, fs := parseYAML(file, data)
	if d == nil {
		return fs
	}
	for _, k := range []string{"name", "description"} {
		if v := get(d.root, k); v == nil || strings.TrimSpace(v.Value) == "" {
			d.add(nil, "action-metadata", fmt.Sprintf("the action has no %s", k), "")
		}
	}
	inputs, outputs := get(d.root, "inputs"), get(d.root, "outputs")
	for _, in := range Inputs {
		if get(inputs, in) == nil {
			d.add(inputs, "action-metadata", fmt.Sprintf("input %s, which elevate reads, is not declared", in), "declare it under inputs:")
		}
	}
	for _, out := range Outputs {
		if get(outputs, out) == nil {
			d.add(outputs, "action-metadata", fmt.Sprintf("output %s, which elevate sets, is not declared", out), "declare it under outputs:")
		}
	}
	runs := get(d.root, "runs")
	using := get(runs, "using")
	switch {
	case using == nil:
		d.add(runs, "action-metadata", "runs.using is missing", "")
	case using.Value == "composite":
		d.checkComposite(runs, inputs)
	case using.Value == "node20", using.Value == "node24", using.Value == "docker":
	default:
		d.add(using, "action-metadata", fmt.Sprintf("runs.using is %q", using.Value), "use composite, node24 or docker")
	}
	for _, kv := range pairs(inputs) {
		name := kv[0].Value
		if !contains(Inputs, name) && !strings.Contains(string(data), "inputs."+name) {
			d.add(kv[0], "action-metadata", fmt.Sprintf("input %s is declared but nothing reads it", name), "remove it or use it")
		}
	}
	d.checkUses(d.root)
	return d.fs
}

func (d *yamlDoc) checkComposite(runs, inputs *yaml.Node) {
	steps := get(runs, "steps")
	if steps == nil || len(steps.Content) == 0 {
		d.add(runs, "action-metadata", "a composite action has no steps", "")
		return
	}
	entry := false
	for _, s := range steps.Content {
		run := get(s, "run")
		if run == nil {
			continue
		}
		if get(s, "shell") == nil {
			d.add(s, "action-metadata", "a run step has no shell", "add shell: bash")
		}
		if strings.Contains(run.Value, "${{") {
			d.add(run, "action-script-injection", "a run script holds an expression; its value would be pasted into the script",
				"pass the value in env: and use the variable")
		}
		if !strings.Contains(run.Value, "elevate\" action") && !strings.Contains(run.Value, "elevate action") {
			continue
		}
		entry = true
		env := get(s, "env")
		for _, in := range Inputs {
			name := "INPUT_" + strings.ToUpper(strings.ReplaceAll(in, " ", "_"))
			if v := get(env, name); v == nil || !strings.Contains(v.Value, "inputs."+in) {
				d.add(s, "action-metadata", fmt.Sprintf("the step that runs elevate does not pass input %s as %s", in, name),
					fmt.Sprintf("add %s: ${{ inputs.%s }} to its env (composite actions do not set INPUT_ variables)", name, in))
			}
		}
	}
	if !entry {
		d.add(steps, "action-metadata", "no step runs `elevate action`", "")
	}
}

// CheckCron reports whether a five-field cron expression can run at minute
// 0 (when GitHub delays schedules most) and how many times an hour it runs.
func CheckCron(expr string) (topOfHour bool, perHour int, err error) {
	f := strings.Fields(expr)
	if len(f) != 5 {
		return false, 0, fmt.Errorf("cron %q does not have five fields", expr)
	}
	minutes := map[int]bool{}
	for _, part := range strings.Split(f[0], ",") {
		rng, step := part, 1
		if r, s, ok := strings.Cut(part, "/"); ok {
			rng = r
			if step, err = strconv.Atoi(s); err != nil || step < 1 {
				return false, 0, fmt.Errorf("cron %q: bad step %q", expr, s)
			}
		}
		lo, hi := 0, 59
		if rng != "*" {
			a, b, isRange := strings.Cut(rng, "-")
			if lo, err = strconv.Atoi(a); err != nil {
				return false, 0, fmt.Errorf("cron %q: bad minute %q", expr, a)
			}
			hi = lo
			if isRange {
				if hi, err = strconv.Atoi(b); err != nil {
					return false, 0, fmt.Errorf("cron %q: bad minute %q", expr, b)
				}
			} else if strings.Contains(part, "/") {
				hi = 59
			}
		}
		if lo < 0 || hi > 59 || lo > hi {
			return false, 0, fmt.Errorf("cron %q: minutes out of range", expr)
		}
		for m := lo; m <= hi; m += step {
			minutes[m] = true
		}
	}
	return minutes[0], len(minutes), nil
}

// CheckSetup checks the GitHub side of a set-up in the working tree at dir:
// the Action's metadata, the three workflows and what each must do, every
// other workflow's safety, and CODEOWNERS covering the protected paths. It
// only reads files.
func CheckSetup(dir string) []finding.Finding {
	var fs []finding.Finding
	missing := func(file, what string) {
		fs = append(fs, finding.New(file, finding.Pos{}, "setup-missing", fmt.Sprintf("%s is missing: %s", file, what), "copy it from the elevate template"))
	}
	read := func(file string) []byte {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(file)))
		if err != nil {
			return nil
		}
		return data
	}
	if data := read(ActionFile); data == nil {
		missing(ActionFile, "the Action the workflows run")
	} else {
		fs = append(fs, CheckAction(ActionFile, data)...)
	}

	workflows := map[string]*Workflow{}
	entries, _ := os.ReadDir(filepath.Join(dir, filepath.FromSlash(WorkflowDir)))
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yml") || strings.HasSuffix(e.Name(), ".yaml")) {
			continue
		}
		file := path.Join(WorkflowDir, e.Name())
		w, wfs := CheckWorkflow(file, read(file))
		fs = append(fs, wfs...)
		if w != nil {
			workflows[file] = w
		}
	}
	add := func(w *Workflow, n *yaml.Node, rule, msg, fix string) {
		fs = append(fs, at(w.File, n, rule, msg, fix))
	}
	if w := workflows[ValidateFile]; w == nil {
		missing(ValidateFile, "the PR check")
	} else {
		if ev, ok := w.Events["pull_request"]; !ok {
			add(w, nil, "workflow-validate", "validate does not run on pull_request", "add `on: pull_request`")
		} else if get(ev, "paths") != nil || get(ev, "paths-ignore") != nil {
			add(w, ev, "workflow-validate", "validate filters pull_request by paths: a required check left pending blocks other PRs, and GitHub reads at most 300 changed files for the filter",
				"run validate on every pull request")
		}
		if !w.runsAction("validate") {
			add(w, nil, "workflow-validate", "validate does not run ./action with command validate", "")
		}
	}
	var groups []string
	for _, file := range []string{GrantFile, RevokeFile} {
		w := workflows[file]
		if w == nil {
			missing(file, map[string]string{GrantFile: "grants on merge", RevokeFile: "revokes on time"}[file])
			continue
		}
		if !w.runsAction("reconcile") {
			add(w, nil, "workflow-reconcile", fmt.Sprintf("%s does not run ./action with command reconcile", file), "")
		}
		for _, job := range w.jobsWithIDToken() {
			if get(job[1], "environment") == nil {
				add(w, job[0], "workflow-environment", fmt.Sprintf("job %s assumes the grant role outside an environment, so the App's key must be a repository secret, which pull_request runs of this repository's branches can read", job[0].Value),
					"run it in the environment elevate, which only main may use (SETUP.md, step 4)")
			}
		}
		g, keeps, n := w.concurrency()
		switch {
		case g == "":
			add(w, n, "workflow-concurrency", fmt.Sprintf("%s has no concurrency group, so two reconciles can run at once", file), "add concurrency: {group: elevate-reconcile, cancel-in-progress: false}")
		case !keeps:
			add(w, n, "workflow-concurrency", fmt.Sprintf("%s cancels a running reconcile", file), "set cancel-in-progress: false")
		}
		groups = append(groups, g)
	}
	if len(groups) == 2 && groups[0] != "" && groups[1] != "" && groups[0] != groups[1] {
		add(workflows[RevokeFile], nil, "workflow-concurrency", fmt.Sprintf("grant and revoke use different concurrency groups (%q, %q)", groups[0], groups[1]), "use one group for both")
	}
	if w := workflows[GrantFile]; w != nil {
		if _, ok := w.Events["push"]; !ok {
			add(w, nil, "workflow-reconcile", "grant does not run on push", "add on: push: branches: [main]")
		}
	}
	if w := workflows[RevokeFile]; w != nil {
		sched := w.Events["schedule"]
		if sched == nil || len(sched.Content) == 0 {
			add(w, nil, "workflow-reconcile", "revoke has no schedule, so access ends only when someone runs it", `add on: schedule: - cron: "3-59/10 * * * *"`)
		}
		if sched != nil {
			for _, item := range sched.Content {
				c := get(item, "cron")
				if c == nil {
					continue
				}
				top, _, err := CheckCron(c.Value)
				switch {
				case err != nil:
					add(w, c, "workflow-schedule", err.Error(), "")
				case top:
					add(w, c, "workflow-schedule", fmt.Sprintf("cron %q runs at the top of the hour, when GitHub delays and drops schedules most", c.Value), `use minutes off the hour, e.g. "3-59/10 * * * *"`)
				}
			}
		}
		if _, ok := w.Events["workflow_dispatch"]; !ok {
			add(w, nil, "workflow-reconcile", "revoke cannot be run on demand", "add workflow_dispatch")
		}
	}
	fs = append(fs, checkCodeowners(dir)...)
	finding.Sort(fs)
	return fs
}

// checkCodeowners finds the CODEOWNERS GitHub uses and checks that every
// file under the protected paths, and a new file in each, has an owner.
func checkCodeowners(dir string) []finding.Finding {
	var co *Codeowners
	var fs []finding.Finding
	for _, p := range CodeownersPaths {
		if data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p))); err == nil {
			co, fs = ParseCodeowners(p, data)
			break
		}
	}
	if co == nil {
		return []finding.Finding{finding.New(CodeownersPaths[0], finding.Pos{}, "setup-missing",
			".github/CODEOWNERS is missing, so no review is required from the owners of policies, requests or the tool", "copy it from the elevate template and name your teams")}
	}
	var paths []string
	for _, p := range Protected {
		if !strings.HasSuffix(p, "/") {
			paths = append(paths, p)
			continue
		}
		paths = append(paths, p+"elevate-new-file.yaml")
		_ = filepath.WalkDir(filepath.Join(dir, filepath.FromSlash(p)), func(full string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return nil
			}
			if rel, err := filepath.Rel(dir, full); err == nil {
				paths = append(paths, filepath.ToSlash(rel))
			}
			return nil
		})
	}
	sort.Strings(paths)
	reported := map[string]bool{}
	for _, p := range paths {
		owners, line := co.Owners(p)
		if len(owners) > 0 {
			continue
		}
		top := p
		for _, prot := range Protected {
			if strings.HasPrefix(p, prot) {
				top = prot
			}
		}
		if reported[top] {
			continue
		}
		reported[top] = true
		why := "no rule matches it"
		if line > 0 {
			why = fmt.Sprintf("the last rule that matches it, line %d, names no owner", line)
		}
		fs = append(fs, finding.New(co.File, finding.Pos{Line: line}, "codeowners-cover",
			fmt.Sprintf("%s has no code owner (%s), so changing it needs no owner's review", p, why),
			fmt.Sprintf("add a line such as `/%s @your-org/platform`", top)))
	}
	return fs
}
