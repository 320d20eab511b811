package reconcile_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/elevate-dev/elevate/internal/request"
	"github.com/elevate-dev/elevate/internal/testenv/githubfake"
	"github.com/elevate-dev/elevate/internal/testenv/gittest"
	"github.com/elevate-dev/elevate/internal/testenv/moto"
	"github.com/elevate-dev/elevate/internal/testenv/world"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// elevateBinary builds cmd/elevate once per test binary.
func elevateBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "elevate-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "elevate")
		cmd := exec.Command("go", "build", "-o", binary, "./cmd/elevate")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err
			binary = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/elevate: %v\n%s", buildErr, binary)
	}
	return binary
}

// process is the built binary run as the workflow runs it, reaching the
// world's GitHub, and moto through a proxy with its own faults.
type process struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan struct{} // closed once the process has exited
}

func runBinary(t *testing.T, w *world.World, faults *moto.Faults, args ...string) *process {
	t.Helper()
	world.CountRun()
	proxy, _ := moto.Shared().Proxy(t, moto.WithAccountID(moto.AccountID(w.AWS)), moto.WithFaults(faults))
	checkout := gittest.Clone(t, w.Remote)
	p := &process{cmd: exec.Command(elevateBinary(t), append(args, "-C", checkout.Dir)...)}
	p.cmd.Env = append(gittest.Env(), "PATH="+os.Getenv("PATH"), "HOME="+t.TempDir(),
		"AWS_ENDPOINT_URL="+proxy, "AWS_REGION="+moto.Region, "AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"GITHUB_TOKEN="+world.Token, "GITHUB_REPOSITORY="+githubfake.DefaultOwner+"/"+githubfake.DefaultRepo,
		"GITHUB_API_URL="+w.GitHub.URL()+"/api/v3")
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	// Its own process group, so that the kill takes git with it, as a
	// runner cancelling the job does.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.done = make(chan struct{})
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	return p
}

func (p *process) kill(t *testing.T) {
	t.Helper()
	world.CountKill()
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

func (p *process) wait() int {
	<-p.done
	return p.cmd.ProcessState.ExitCode()
}

// TestKillTheProcess is the crash test with a real kill: the built binary
// is SIGKILLed (with its git children) while an AWS call is held, after
// others were made, and while its push is held by the remote; the next run
// of the binary converges.
func TestKillTheProcess(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	// The binary reads the real clock: the requests start a minute ago.
	startAt := request.FormatTime(now.Add(-time.Minute))
	for _, tt := range []struct {
		name string
		// hold sets up what the run is killed in; reached is closed once
		// it is there.
		hold func(t *testing.T, w *world.World, f *moto.Faults) (reached <-chan struct{})
	}{
		{"in the second AWS create", func(t *testing.T, w *world.World, f *moto.Faults) <-chan struct{} {
			f.Inject(moto.OpCreateAccountAssignment, 1, moto.Delay(0))
			f.Inject(moto.OpCreateAccountAssignment, 1, moto.Delay(time.Hour))
			return f.Reached(moto.OpCreateAccountAssignment, 2)
		}},
		{"in the push", func(t *testing.T, w *world.World, f *moto.Faults) <-chan struct{} {
			marker := filepath.Join(t.TempDir(), "pushing")
			hook(t, w.Remote, "pre-receive", "touch "+marker+"; sleep 30")
			reached := make(chan struct{})
			go func() {
				for {
					if _, err := os.Stat(marker); err == nil {
						close(reached)
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}()
			return reached
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := world.New(t)
			w.GitHub.SetClock(now.Add(-2 * time.Minute))
			ids := []string{"alice-kill", "bob-kill", "frank-kill"}
			for i, who := range []string{"alice", "bob", "frank"} {
				merge(w, ids[i], requestFile(who, []string{admin, reader, admin}[i], "2h", startAt))
			}
			f := moto.NewFaults()
			reached := tt.hold(t, w, f)
			p := runBinary(t, w, f, "reconcile")
			select {
			case <-reached:
			case <-p.done:
				t.Fatalf("the run ended before it got there:\n%s", p.out.String())
			case <-time.After(60 * time.Second):
				p.kill(t)
				t.Fatalf("the run never got there:\n%s", p.out.String())
			}
			p.kill(t)
			os.Remove(filepath.Join(w.Remote, "hooks", "pre-receive"))

			again := runBinary(t, w, moto.NewFaults(), "reconcile")
			if code := again.wait(); code != 0 {
				t.Fatalf("rerun exit %d:\n%s", code, again.out.String())
			}
			s := w.Agree(t, ids)
			if len(s.Held) != 3 {
				t.Errorf("held %v, want the three grants\nkilled run:\n%s\nrerun:\n%s", s.Held, p.out.String(), again.out.String())
			}
			if out := again.out.String(); !strings.Contains(out, "pushed: true") {
				t.Errorf("rerun did not push:\n%s", out)
			}
		})
	}
}
