// Package gitrepo runs the git operations elevate needs: reading files and
// trees at a ref, diffing a PR's changes, finding the commit that added a
// file, and committing and pushing state. It drives the git binary, so it
// behaves exactly as git does on the runner.
package gitrepo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Repo is a git working tree.
type Repo struct {
	// Dir is the top-level directory of the working tree.
	Dir string
	// Env is added to git's environment (for example GIT_AUTHOR_NAME).
	Env []string

	mu    sync.Mutex
	batch *batch
}

// Open returns the repository whose working tree contains dir.
func Open(ctx context.Context, dir string) (*Repo, error) {
	r := &Repo{Dir: dir}
	out, err := r.Run(ctx, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("%s is not a git working tree: %w", dir, err)
	}
	r.Dir = strings.TrimSpace(string(out))
	return r, nil
}

// Error is a failed git command with what it printed.
type Error struct {
	Args   []string
	Stderr string
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("git %s: %v: %s", strings.Join(e.Args, " "), e.Err, strings.TrimSpace(e.Stderr))
}

func (e *Error) Unwrap() error { return e.Err }

// Run runs git with args in the working tree and returns its standard output.
func (r *Repo) Run(ctx context.Context, args ...string) ([]byte, error) {
	return r.RunInput(ctx, nil, args...)
}

// RunInput is Run with standard input.
func (r *Repo) RunInput(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = r.Dir
	cmd.Env = append(cmd.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
	cmd.Env = append(cmd.Env, r.Env...)
	cmd.Stdin = stdin
	// When ctx ends git is killed, but what it started (a remote helper,
	// a hook of a local remote) may still hold its output open: stop
	// waiting for that soon, so no call outlives its deadline by more.
	cmd.WaitDelay = 200 * time.Millisecond
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &Error{Args: args, Stderr: stderr.String(), Err: err}
	}
	return stdout.Bytes(), nil
}

// Resolve returns the commit id that rev names.
func (r *Repo) Resolve(ctx context.Context, rev string) (string, error) {
	if strings.HasPrefix(rev, "-") {
		return "", fmt.Errorf("invalid revision %q", rev)
	}
	out, err := r.Run(ctx, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("resolve %q: no such commit", rev)
	}
	return strings.TrimSpace(string(out)), nil
}

// Change is one path a diff touches.
type Change struct {
	// Status is A (added), M (modified), D (deleted) or T (type changed).
	Status byte
	// Path is relative to the top of the repository.
	Path string
	// OldMode and NewMode are git modes ("100644", "100755", "120000" for a
	// symlink, "160000" for a submodule, "000000" for none).
	OldMode, NewMode string
	// NewBlob is the object id of the new content.
	NewBlob string
}

// Changes lists what head changes compared with its merge base with base,
// which is what a pull request from head into base changes. Renames are shown
// as a deletion and an addition.
func (r *Repo) Changes(ctx context.Context, base, head string) ([]Change, error) {
	out, err := r.Run(ctx, "diff", "--raw", "-z", "--no-renames", "--no-ext-diff", "--end-of-options", base+"..."+head)
	if err != nil {
		return nil, fmt.Errorf("diff %s...%s: %w", base, head, err)
	}
	var cs []Change
	fields := bytes.Split(out, []byte{0})
	for i := 0; i+1 < len(fields); i += 2 {
		meta := strings.Fields(strings.TrimPrefix(string(fields[i]), ":"))
		if len(meta) < 5 {
			return nil, fmt.Errorf("diff %s...%s: unexpected line %q", base, head, fields[i])
		}
		cs = append(cs, Change{Status: meta[4][0], Path: string(fields[i+1]), OldMode: meta[0], NewMode: meta[1], NewBlob: meta[3]})
	}
	return cs, nil
}

// Entry is one entry of a tree.
type Entry struct {
	// Mode is the git mode ("100644", "120000", "040000", ...).
	Mode string
	// Type is blob, tree or commit.
	Type string
	// Object is the object id.
	Object string
	// Path is relative to the top of the repository.
	Path string
}

// Tree lists the entries directly in dir at rev (not recursively).
func (r *Repo) Tree(ctx context.Context, rev, dir string) ([]Entry, error) {
	return r.lsTree(ctx, rev, strings.TrimSuffix(dir, "/")+"/")
}

// Lookup returns the entry of one path at rev, reading no more of its folder.
func (r *Repo) Lookup(ctx context.Context, rev, path string) (Entry, bool, error) {
	es, err := r.lsTree(ctx, rev, strings.TrimSuffix(path, "/"))
	if err != nil || len(es) == 0 {
		return Entry{}, false, err
	}
	return es[0], true, nil
}

func (r *Repo) lsTree(ctx context.Context, rev, spec string) ([]Entry, error) {
	dir := spec
	out, err := r.Run(ctx, "ls-tree", "-z", "--end-of-options", rev, "--", spec)
	if err != nil {
		return nil, fmt.Errorf("list %s at %s: %w", dir, rev, err)
	}
	var es []Entry
	for _, rec := range bytes.Split(out, []byte{0}) {
		if len(rec) == 0 {
			continue
		}
		meta, path, ok := bytes.Cut(rec, []byte{'\t'})
		f := strings.Fields(string(meta))
		if !ok || len(f) != 3 {
			return nil, fmt.Errorf("list %s at %s: unexpected entry %q", dir, rev, rec)
		}
		es = append(es, Entry{Mode: f[0], Type: f[1], Object: f[2], Path: string(path)})
	}
	return es, nil
}

// ErrTooLarge is returned by ReadBlob when an object is larger than the limit.
var ErrTooLarge = errors.New("object too large")

// ErrNotBlob is returned by ReadBlob when the object is a tree or a commit.
var ErrNotBlob = errors.New("not a file")

// ReadBlob reads the object rev:path (or an object id) through one long-lived
// `git cat-file --batch`, reading at most limit bytes. found is false when
// there is no such object.
func (r *Repo) ReadBlob(ctx context.Context, spec string, limit int64) (data []byte, size int64, found bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if strings.ContainsAny(spec, "\n\x00") {
		return nil, 0, false, fmt.Errorf("invalid object name %q", spec)
	}
	if r.batch == nil {
		b, err := startBatch(r)
		if err != nil {
			return nil, 0, false, err
		}
		r.batch = b
	}
	data, size, found, err = r.batch.read(spec, limit)
	if err != nil {
		r.batch.close()
		r.batch = nil
	}
	return data, size, found, err
}

// Exists reports whether rev:path exists (as a file or anything else).
func (r *Repo) Exists(ctx context.Context, rev, path string) (bool, error) {
	_, _, found, err := r.ReadBlob(ctx, rev+":"+path, 0)
	if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrNotBlob) {
		return true, nil
	}
	return found, err
}

// Close stops the long-lived git processes.
func (r *Repo) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.batch != nil {
		r.batch.close()
		r.batch = nil
	}
}

type batch struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startBatch(r *Repo) (*batch, error) {
	cmd := exec.Command("git", "cat-file", "--batch")
	cmd.Dir = r.Dir
	cmd.Env = append(cmd.Environ(), "LC_ALL=C")
	cmd.Env = append(cmd.Env, r.Env...)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start git cat-file: %w", err)
	}
	return &batch{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 64<<10)}, nil
}

func (b *batch) read(spec string, limit int64) ([]byte, int64, bool, error) {
	if _, err := io.WriteString(b.in, spec+"\n"); err != nil {
		return nil, 0, false, fmt.Errorf("git cat-file: %w", err)
	}
	header, err := b.out.ReadString('\n')
	if err != nil {
		return nil, 0, false, fmt.Errorf("git cat-file: %w", err)
	}
	f := strings.Fields(header)
	if len(f) == 2 && (f[1] == "missing" || f[1] == "ambiguous") {
		return nil, 0, false, nil
	}
	if len(f) != 3 {
		return nil, 0, false, fmt.Errorf("git cat-file: unexpected header %q", header)
	}
	size, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return nil, 0, false, fmt.Errorf("git cat-file: unexpected header %q", header)
	}
	keep := size
	if keep > limit {
		keep = limit
	}
	data := make([]byte, keep)
	if _, err := io.ReadFull(b.out, data); err != nil {
		return nil, 0, false, fmt.Errorf("git cat-file: %w", err)
	}
	if _, err := b.out.Discard(int(size-keep) + 1); err != nil {
		return nil, 0, false, fmt.Errorf("git cat-file: %w", err)
	}
	if f[1] != "blob" {
		return nil, size, true, fmt.Errorf("%s is a %s: %w", spec, f[1], ErrNotBlob)
	}
	if size > limit {
		return data, size, true, ErrTooLarge
	}
	return data, size, true, nil
}

func (b *batch) close() {
	b.in.Close()
	_ = b.cmd.Wait()
}
