package githubfake

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// The routes `elevate request --open-pr` uses: who the token belongs to,
// read a branch, create a branch, commit a file on it, open the PR. The
// path wildcards are written {name...} where GitHub's description has
// {name}, because a ref or a file path holds slashes.
const (
	RouteGetUser    Route = "GET /user"
	RouteGetRef     Route = "GET /repos/{owner}/{repo}/git/ref/{ref...}"
	RouteCreateRef  Route = "POST /repos/{owner}/{repo}/git/refs"
	RouteCreateFile Route = "PUT /repos/{owner}/{repo}/contents/{path...}"
	RouteCreatePull Route = "POST /repos/{owner}/{repo}/pulls"
)

// WriteRoutes lists the routes above; they accept faults like the others.
var WriteRoutes = []Route{RouteGetUser, RouteGetRef, RouteCreateRef, RouteCreateFile, RouteCreatePull}

// gitData is the part of a repository the write routes keep: refs, and for
// each commit made through the API its parent, message and files.
type gitData struct {
	refs    map[string]string // "heads/main" -> commit id
	commits map[string]*fakeCommit
}

type fakeCommit struct {
	parent  string
	message string
	// files is the whole set of files the API wrote on this line of
	// commits (files of commits made elsewhere, such as one set with
	// SetRef, are not known).
	files map[string][]byte
	added []string
}

// CreatedCommit is a commit made through the contents API.
type CreatedCommit struct {
	SHA, Parent, Message string
	// Files are the paths it added.
	Files []string
}

func (s *Server) registerWrites() {
	s.git = gitData{refs: map[string]string{}, commits: map[string]*fakeCommit{}}
	s.mux.HandleFunc(string(RouteGetUser), s.handleGetUser)
	s.mux.HandleFunc(string(RouteGetRef), s.handleGetRef)
	s.mux.HandleFunc(string(RouteCreateRef), s.handleCreateRef)
	s.mux.HandleFunc(string(RouteCreateFile), s.handleCreateFile)
	s.mux.HandleFunc(string(RouteCreatePull), s.handleCreatePull)
}

// SetRef points a ref ("heads/main") at a commit id, as a push would.
func (s *Server) SetRef(ref, sha string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.git.refs[strings.TrimPrefix(ref, "refs/")] = sha
}

// Ref returns the commit a ref ("heads/elevate/x") points at.
func (s *Server) Ref(ref string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sha, ok := s.git.refs[strings.TrimPrefix(ref, "refs/")]
	return sha, ok
}

// File returns the content of path at ref, for files written through the
// contents API.
func (s *Server) File(ref, path string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.git.commits[s.git.refs[strings.TrimPrefix(ref, "refs/")]]
	if c == nil {
		return nil, false
	}
	data, ok := c.files[path]
	return data, ok
}

// Commit returns a commit made through the contents API.
func (s *Server) Commit(sha string) (CreatedCommit, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.git.commits[sha]
	if !ok {
		return CreatedCommit{}, false
	}
	return CreatedCommit{SHA: sha, Parent: c.parent, Message: c.message, Files: append([]string(nil), c.added...)}, true
}

// PullRequest returns the pull request number as the fake holds it (one
// added with AddPR or opened through the API).
func (s *Server) PullRequest(number int) (PR, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.prs[number]
	if !ok {
		return PR{}, false
	}
	return p.PR, true
}

// BlobSHA is git's object id of a file with content data.
func BlobSHA(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

func (s *Server) knownCommitLocked(sha string) bool {
	if _, ok := s.git.commits[sha]; ok {
		return true
	}
	for _, v := range s.git.refs {
		if v == sha {
			return true
		}
	}
	return false
}

func (s *Server) refJSONLocked(ref, sha string) map[string]any {
	api := fmt.Sprintf("%s/repos/%s/%s", apiBase, s.owner, s.repo)
	return map[string]any{
		"ref":     "refs/" + ref,
		"node_id": nodeID("Ref", ref),
		"url":     api + "/git/refs/" + ref,
		"object":  map[string]any{"type": "commit", "sha": sha, "url": api + "/git/commits/" + sha},
	}
}

func (s *Server) handleGetUser(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.HasSuffix(s.tokenUser, "[bot]") {
		// An installation token is not a user: GitHub answers 403.
		writeError(w, http.StatusForbidden, "Resource not accessible by integration")
		return
	}
	writeJSON(w, http.StatusOK, s.userJSONLocked(s.tokenUser))
}

func (s *Server) handleGetRef(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ref := r.PathValue("ref")
	sha, ok := s.git.refs[ref]
	if !s.repoLocked(r) || !ok {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, s.refJSONLocked(ref, sha))
}

func (s *Server) handleCreateRef(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.repoLocked(r) {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	var req struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Ref == "" || req.SHA == "" {
		writeInvalid(w, "Invalid request.\n\n\"ref\" and \"sha\" are required.")
		return
	}
	ref, ok := strings.CutPrefix(req.Ref, "refs/")
	if !ok || strings.Count(ref, "/") < 1 {
		writeInvalid(w, "Reference name must start with 'refs/' and have at least two slashes.")
		return
	}
	if _, exists := s.git.refs[ref]; exists {
		writeInvalid(w, "Reference already exists")
		return
	}
	if !s.knownCommitLocked(req.SHA) {
		writeInvalid(w, "Object does not exist")
		return
	}
	s.git.refs[ref] = req.SHA
	writeJSON(w, http.StatusCreated, s.refJSONLocked(ref, req.SHA))
}

func (s *Server) handleCreateFile(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.repoLocked(r) {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	var req struct {
		Message *string `json:"message"`
		Content *string `json:"content"`
		Branch  string  `json:"branch"`
		SHA     string  `json:"sha"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Message == nil || req.Content == nil {
		writeInvalid(w, "Invalid request.\n\n\"message\" and \"content\" are required.")
		return
	}
	data, err := base64.StdEncoding.DecodeString(*req.Content)
	if err != nil {
		writeInvalid(w, "content is not valid Base64")
		return
	}
	path := r.PathValue("path")
	branch := req.Branch
	if branch == "" {
		branch = "main"
	}
	parent, ok := s.git.refs["heads/"+branch]
	if !ok {
		writeError(w, http.StatusNotFound, "Branch "+branch+" not found")
		return
	}
	files := map[string][]byte{}
	if pc := s.git.commits[parent]; pc != nil {
		for k, v := range pc.files {
			files[k] = v
		}
	}
	if old, exists := files[path]; exists && req.SHA != BlobSHA(old) {
		writeInvalid(w, "Invalid request.\n\n\"sha\" wasn't supplied.")
		return
	}
	files[path] = data
	h := sha1.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", parent, *req.Message, path)
	h.Write(data)
	sha := hex.EncodeToString(h.Sum(nil))
	s.git.commits[sha] = &fakeCommit{parent: parent, message: *req.Message, files: files, added: []string{path}}
	s.git.refs["heads/"+branch] = sha
	now := stamp(s.tickLocked())
	api := fmt.Sprintf("%s/repos/%s/%s", apiBase, s.owner, s.repo)
	html := fmt.Sprintf("%s/%s/%s", htmlBase, s.owner, s.repo)
	blob := BlobSHA(data)
	escaped := (&url.URL{Path: path}).EscapedPath()
	name := path[strings.LastIndex(path, "/")+1:]
	person := map[string]any{"name": s.tokenUser, "email": s.tokenUser + "@users.noreply.github.com", "date": now}
	writeJSON(w, http.StatusCreated, map[string]any{
		"content": map[string]any{
			"name": name, "path": path, "sha": blob, "size": len(data), "type": "file",
			"url":          api + "/contents/" + escaped + "?ref=" + url.QueryEscape(branch),
			"html_url":     html + "/blob/" + branch + "/" + escaped,
			"git_url":      api + "/git/blobs/" + blob,
			"download_url": "https://raw.githubusercontent.com/" + s.owner + "/" + s.repo + "/" + branch + "/" + escaped,
			"_links":       map[string]any{"self": api + "/contents/" + escaped, "git": api + "/git/blobs/" + blob, "html": html + "/blob/" + branch + "/" + escaped},
		},
		"commit": map[string]any{
			"sha": sha, "node_id": nodeID("Commit", sha), "url": api + "/git/commits/" + sha, "html_url": html + "/commit/" + sha,
			"author": person, "committer": person, "message": *req.Message,
			"tree":         map[string]any{"url": api + "/git/trees/" + sha, "sha": sha},
			"parents":      []any{map[string]any{"url": api + "/git/commits/" + parent, "html_url": html + "/commit/" + parent, "sha": parent}},
			"verification": map[string]any{"verified": false, "reason": "unsigned", "signature": nil, "payload": nil},
		},
	})
}

func (s *Server) handleCreatePull(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.repoLocked(r) {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	var req struct {
		Title *string `json:"title"`
		Head  string  `json:"head"`
		Base  string  `json:"base"`
		Body  string  `json:"body"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Title == nil || req.Head == "" || req.Base == "" {
		writeInvalid(w, "Validation Failed")
		return
	}
	head := strings.TrimPrefix(req.Head, s.owner+":")
	headSHA, okHead := s.git.refs["heads/"+head]
	baseSHA, okBase := s.git.refs["heads/"+req.Base]
	if !okHead || !okBase || headSHA == baseSHA {
		writeInvalid(w, "Validation Failed")
		return
	}
	for _, n := range s.prOrder {
		if p := s.prs[n]; p.HeadRef == head && p.State == "open" {
			writeInvalid(w, fmt.Sprintf("A pull request already exists for %s:%s.", s.owner, head))
			return
		}
	}
	var files []File
	var commits []Commit
	for sha := headSHA; sha != baseSHA; {
		c := s.git.commits[sha]
		if c == nil {
			break
		}
		for _, p := range c.added {
			files = append(files, File{Name: p, Status: "added", SHA: BlobSHA(c.files[p])})
		}
		commits = append([]Commit{{SHA: sha, AuthorLogin: s.tokenUser, CommitterLogin: s.tokenUser, Message: c.message}}, commits...)
		sha = c.parent
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	number := 1
	for n := range s.prs {
		number = max(number, n+1)
	}
	p := &pullRequest{PR: PR{Number: number, Title: *req.Title, Body: req.Body, Author: s.tokenUser, HeadRef: head, HeadSHA: headSHA,
		BaseRef: req.Base, BaseSHA: baseSHA, State: "open", Commits: commits, Files: files}, created: s.tickLocked()}
	s.userLocked(s.tokenUser)
	s.prs[number] = p
	s.prOrder = append(s.prOrder, number)
	w.Header().Set("Location", fmt.Sprintf("%s/repos/%s/%s/pulls/%d", apiBase, s.owner, s.repo, number))
	writeJSON(w, http.StatusCreated, s.pullJSONLocked(p, true))
}
