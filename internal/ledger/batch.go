package ledger

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Batch collects transitions and commits them, one commit each and in the
// order added, with a single `git fast-import`: a run that records a
// thousand transitions starts a handful of git processes, not thousands.
// The commits are exactly what Record would make one by one (the same
// trees, messages, author and committer); nothing is committed until
// Commit, and a Batch that is never committed changes nothing.
type Batch struct {
	l     *Ledger
	items []batchItem
	seq   int
}

type batchItem struct {
	entry   Entry
	status  *Status
	action  string
	removal *Removal
}

// Begin starts a batch.
func (l *Ledger) Begin() *Batch { return &Batch{l: l} }

// Len is the number of transitions added.
func (b *Batch) Len() int { return len(b.items) }

// Record adds a transition (see Ledger.Record). st gets its Version and
// Request set.
func (b *Batch) Record(e Entry, st *Status, action string) {
	st.Version = 1
	st.Request = e.ID
	b.items = append(b.items, batchItem{entry: e, status: st, action: action})
}

// RecordRemoval adds a removal (see Ledger.RecordRemoval).
func (b *Batch) RecordRemoval(r Removal) {
	b.items = append(b.items, batchItem{removal: &r})
}

// Commit makes the commits on the checked-out branch (or detached HEAD),
// updates the index and working tree to the last one, and returns the
// commit ids in the order the transitions were added.
func (b *Batch) Commit(ctx context.Context) ([]string, error) {
	if len(b.items) == 0 {
		return nil, nil
	}
	repo := b.l.Repo
	out, err := repo.Run(ctx, "rev-parse", "--verify", "HEAD")
	if err != nil {
		return nil, fmt.Errorf("record: no HEAD: %w", err)
	}
	head := strings.TrimSpace(string(out))
	sig := b.l.As
	if sig.Name == "" || sig.Email == "" {
		sig = DefaultSignature
	}
	if strings.ContainsAny(sig.Name+sig.Email, "<>\n") {
		return nil, fmt.Errorf("record: identity %q <%s> cannot be written", sig.Name, sig.Email)
	}
	who := fmt.Sprintf("%s <%s> %d +0000", sig.Name, sig.Email, time.Now().Unix())

	var stream bytes.Buffer
	stream.WriteString("feature done\n")
	for i, it := range b.items {
		var msg string
		if it.removal != nil {
			msg = RemovalMessage(*it.removal)
		} else {
			msg = Message(it.status, it.action)
		}
		fmt.Fprintf(&stream, "commit %s\nmark :%d\nauthor %s\ncommitter %s\n", batchRef, i+1, who, who)
		data(&stream, []byte(msg))
		if i == 0 {
			fmt.Fprintf(&stream, "from %s\n", head)
		}
		if it.removal == nil {
			b.files(&stream, it)
		}
	}
	stream.WriteString("done\n")

	marks, err := os.CreateTemp("", "elevate-marks-")
	if err != nil {
		return nil, err
	}
	marks.Close()
	defer os.Remove(marks.Name())
	if out, err := repo.RunInput(ctx, &stream, "fast-import", "--quiet", "--done", "--force", "--export-marks="+marks.Name()); err != nil {
		_, _ = repo.Run(context.WithoutCancel(ctx), "update-ref", "-d", batchRef)
		return nil, fmt.Errorf("record %d transitions: %w (%s)", len(b.items), err, out)
	}
	defer func() { _, _ = repo.Run(context.WithoutCancel(ctx), "update-ref", "-d", batchRef) }()
	shas, err := readMarks(marks.Name(), len(b.items))
	if err != nil {
		return nil, err
	}
	last := shas[len(shas)-1]
	if _, err := repo.Run(ctx, "update-ref", "-m", "elevate: record state", "HEAD", last, head); err != nil {
		return nil, fmt.Errorf("move HEAD to the state commits: %w", err)
	}
	if _, err := repo.Run(ctx, "read-tree", "-m", "-u", head, last); err != nil {
		return shas, fmt.Errorf("check out the state commits: %w", err)
	}
	return shas, nil
}

// batchRef is where fast-import builds the commits.
const batchRef = "refs/elevate/record"

// files writes the file changes of one transition: what Record does with
// git add, git mv and git rm.
func (b *Batch) files(w *bytes.Buffer, it batchItem) {
	l, e, st := b.l, it.entry, it.status
	if !st.State.Closed() {
		fmt.Fprintf(w, "M 100644 inline %s\n", quotePath(StatusPath(e.ID)))
		data(w, st.Marshal())
		return
	}
	archive, archiveStatus := ArchivePath(e.ID), ArchiveStatusPath(e.ID)
	if l.exists(archive) || l.exists(archiveStatus) || !safeID(e.ID) {
		// An id reused by a direct push, or a hostile file name: keep the
		// earlier record and file this one under a name that cannot collide.
		b.seq++
		suffix := fmt.Sprintf("%s.dup-%d-%d", sanitize(e.ID), time.Now().UnixNano(), b.seq)
		archive, archiveStatus = ArchivePath(suffix), ArchiveStatusPath(suffix)
	}
	if e.Path != "" && l.exists(e.Path) {
		fmt.Fprintf(w, "R %s %s\n", quotePath(e.Path), quotePath(archive))
	}
	fmt.Fprintf(w, "M 100644 inline %s\n", quotePath(archiveStatus))
	data(w, st.Marshal())
	if l.exists(StatusPath(e.ID)) {
		fmt.Fprintf(w, "D %s\n", quotePath(StatusPath(e.ID)))
	}
}

func data(w *bytes.Buffer, b []byte) {
	fmt.Fprintf(w, "data %d\n", len(b))
	w.Write(b)
	w.WriteByte('\n')
}

// quotePath writes a path as fast-import reads it: a C-style quoted string,
// so that any byte a file name may hold (a space, a quote, a newline) stays
// part of the name.
func quotePath(p string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// readMarks reads fast-import's exported marks :1..:n.
func readMarks(file string, n int) ([]string, error) {
	f, err := os.Open(filepath.Clean(file))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	shas := make([]string, n)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		mark, sha, ok := strings.Cut(sc.Text(), " ")
		i, err := strconv.Atoi(strings.TrimPrefix(mark, ":"))
		if !ok || err != nil || i < 1 || i > n {
			continue
		}
		shas[i-1] = sha
	}
	for i, s := range shas {
		if s == "" {
			return nil, fmt.Errorf("record: fast-import gave no commit for transition %d", i+1)
		}
	}
	return shas, sc.Err()
}
