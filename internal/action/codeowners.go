package action

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/elevate-dev/elevate/internal/finding"
)

// CodeownersPaths are where GitHub looks for CODEOWNERS, in order; the
// first that exists is used.
var CodeownersPaths = []string{".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"}

// Codeowners is a parsed CODEOWNERS file.
type Codeowners struct {
	File  string
	rules []ownerRule
}

type ownerRule struct {
	line    int
	pattern string
	re      *regexp.Regexp
	owners  []string
}

// ParseCodeowners reads a CODEOWNERS file. Lines GitHub would reject
// (negation, character ranges, an owner that is no user, team or e-mail)
// are findings and are left out, as GitHub leaves them out.
func ParseCodeowners(file string, data []byte) (*Codeowners, []finding.Finding) {
	c := &Codeowners{File: file}
	var fs []finding.Finding
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if j := strings.Index(line, " #"); j >= 0 {
			line = strings.TrimSpace(line[:j])
		}
		fields := strings.Fields(line)
		pos := finding.Pos{Line: i + 1, Col: 1}
		pattern := strings.ReplaceAll(fields[0], `\#`, "#")
		if strings.HasPrefix(pattern, "!") || strings.ContainsAny(pattern, "[]") {
			fs = append(fs, finding.New(file, pos, "codeowners-syntax",
				fmt.Sprintf("pattern %q uses syntax CODEOWNERS does not support (! or [ ]); GitHub ignores the line", pattern),
				"write the pattern with *, ** and / only"))
			continue
		}
		bad := false
		for _, o := range fields[1:] {
			if !strings.HasPrefix(o, "@") && !strings.Contains(o, "@") {
				fs = append(fs, finding.New(file, pos, "codeowners-syntax",
					fmt.Sprintf("owner %q is not @user, @org/team or an e-mail address; GitHub ignores the line", o), "write owners as @user or @org/team"))
				bad = true
			}
		}
		if bad {
			continue
		}
		c.rules = append(c.rules, ownerRule{line: i + 1, pattern: pattern, re: ownerPattern(pattern), owners: fields[1:]})
	}
	return c, fs
}

// Owners returns the owners of path (relative to the root, forward
// slashes) and the line of the rule that decides: the last rule that
// matches. No match, or a last match with no owners, means no owner.
func (c *Codeowners) Owners(path string) ([]string, int) {
	for i := len(c.rules) - 1; i >= 0; i-- {
		if c.rules[i].re.MatchString(path) {
			return c.rules[i].owners, c.rules[i].line
		}
	}
	return nil, 0
}

// ownerPattern compiles a CODEOWNERS pattern, which follows .gitignore
// rules except that a trailing /* matches only files directly in that
// folder: a leading / or a / inside anchors it at the root, otherwise it
// matches at any depth; a trailing / matches everything below a folder.
func ownerPattern(p string) *regexp.Regexp {
	dirOnly := strings.HasSuffix(p, "/")
	p = strings.TrimSuffix(p, "/")
	anchored := strings.HasPrefix(p, "/") || strings.Contains(p, "/")
	p = strings.TrimPrefix(p, "/")
	var b strings.Builder
	if anchored {
		b.WriteString("^")
	} else {
		b.WriteString("^(?:.*/)?")
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		if seg == "**" {
			if i == len(segs)-1 {
				b.WriteString(".*")
			} else {
				// Zero or more folders, each with its slash.
				b.WriteString("(?:[^/]+/)*")
			}
			continue
		}
		if i > 0 && segs[i-1] != "**" {
			b.WriteString("/")
		}
		for _, r := range seg {
			switch r {
			case '*':
				b.WriteString("[^/]*")
			case '?':
				b.WriteString("[^/]")
			default:
				b.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
	}
	last := segs[len(segs)-1]
	switch {
	case dirOnly:
		b.WriteString("/.*$")
	case last == "*" && len(segs) > 1:
		b.WriteString("$")
	default:
		b.WriteString("(?:/.*)?$")
	}
	return regexp.MustCompile(b.String())
}
