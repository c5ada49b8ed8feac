package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const containerfile = "../../docs/container/Dockerfile"

// copySources returns the source of every COPY in the Dockerfile at path,
// with ${TARGETARCH} left in, and its USER and CMD lines.
func copySources(t *testing.T, path string) (sources []string, user, cmd string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "COPY":
			var args []string
			for _, a := range fields[1:] {
				if !strings.HasPrefix(a, "--") {
					args = append(args, a)
				}
			}
			if len(args) < 2 {
				t.Fatalf("%s: COPY without a source and a destination: %q", path, sc.Text())
			}
			sources = append(sources, args[:len(args)-1]...)
		case "USER":
			user = strings.Join(fields[1:], " ")
		case "CMD":
			cmd = strings.Join(fields[1:], " ")
		}
	}
	return sources, user, cmd
}

// TestContainerfileCopiesWhatMakeBuilds: every COPY source of
// docs/container/Dockerfile, for every platform `make container` builds, is
// a path `make container-bins` creates in bin/container (the build
// context), the server runs as a user without privileges, and it listens
// beyond loopback only because the CMD says so.
func TestContainerfileCopiesWhatMakeBuilds(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make is needed: %v", err)
	}
	sources, user, cmd := copySources(t, containerfile)
	if len(sources) == 0 {
		t.Fatal("no COPY in the Dockerfile")
	}
	if user == "" || strings.HasPrefix(user, "0") || strings.HasPrefix(user, "root") {
		t.Errorf("USER %q: the server must not run as root", user)
	}
	if !strings.Contains(cmd, `"--addr", "0.0.0.0:8080"`) {
		t.Errorf("CMD %s: want the explicit --addr 0.0.0.0:8080", cmd)
	}
	out, err := exec.Command("make", "-s", "-n", "-C", "../..", "container").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n container: %v\n%s", err, out)
	}
	plan := string(out)
	if !strings.Contains(plan, "-f docs/container/Dockerfile bin/container") {
		t.Fatalf("make -n container does not build docs/container/Dockerfile in bin/container:\n%s", plan)
	}
	// The platforms the image is built for, as TARGETARCH names them.
	var archs []string
	for _, p := range []string{"linux/amd64", "linux/arm64", "linux/arm/v7"} {
		if !strings.Contains(plan, p) {
			t.Errorf("make container does not build %s", p)
		}
		archs = append(archs, strings.Split(p, "/")[1])
	}
	for _, src := range sources {
		for _, arch := range archs {
			path := "bin/container/" + strings.TrimSuffix(strings.ReplaceAll(src, "${TARGETARCH}", arch), "/")
			switch {
			case strings.HasSuffix(path, "/edgesearch"):
				// The loop builds bin/container/$a/edgesearch for each $a.
				if path != "bin/container/"+arch+"/edgesearch" || !strings.Contains(plan, "GOARCH=$a") ||
					!strings.Contains(plan, "-o bin/container/$a/edgesearch") || !strings.Contains(plan, "for a in amd64 arm64 arm;") {
					t.Errorf("COPY %s: make container-bins does not build %s:\n%s", src, path, plan)
				}
			case !strings.Contains(plan, "mkdir -p "+path):
				t.Errorf("COPY %s: make container-bins does not create %s:\n%s", src, path, plan)
			}
		}
	}
	if !strings.Contains(plan, "GOARM=7") {
		t.Errorf("the arm binary is not built for armv7 (GOARM=7):\n%s", plan)
	}
}

// TestContainerImageBuilds builds the image for this machine's platform
// with buildah, from a context holding this test's binary, and reads its
// configuration and files back. It needs buildah (Debian: apt-get install
// buildah; make test-deps installs it) and fails without it; running the image also needs a
// container runtime the machine allows, which /work/notes/newcomer.md
// describes.
func TestContainerImageBuilds(t *testing.T) {
	buildah, err := exec.LookPath("buildah")
	if err != nil {
		t.Fatal("buildah is not installed: make test-deps installs it (apt-get install buildah)")
	}
	ctx := t.TempDir()
	if err := os.MkdirAll(filepath.Join(ctx, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyInto(t, binary, filepath.Join(ctx, runtime.GOARCH, "edgesearch"))
	if err := os.Chmod(filepath.Join(ctx, runtime.GOARCH, "edgesearch"), 0o755); err != nil {
		t.Fatal(err)
	}
	tag := "localhost/edgesearch-container-test:" + filepath.Base(ctx)
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(buildah, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("buildah %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("build", "-q", "--platform", "linux/"+runtime.GOARCH, "-t", tag, "-f", containerfile, ctx)
	t.Cleanup(func() { exec.Command(buildah, "rmi", tag).Run() })

	var img struct {
		OCIv1 struct {
			Architecture string `json:"architecture"`
			Config       struct {
				User       string   `json:"User"`
				Entrypoint []string `json:"Entrypoint"`
				Cmd        []string `json:"Cmd"`
				Env        []string `json:"Env"`
				Volumes    map[string]struct{}
			} `json:"config"`
		} `json:"OCIv1"`
	}
	if err := json.Unmarshal([]byte(run("inspect", "--type", "image", tag)), &img); err != nil {
		t.Fatal(err)
	}
	c := img.OCIv1.Config
	if img.OCIv1.Architecture != runtime.GOARCH || c.User != "65532:65532" ||
		!slices.Equal(c.Entrypoint, []string{"/usr/local/bin/edgesearch"}) || !slices.Contains(c.Cmd, "0.0.0.0:8080") ||
		!slices.Contains(c.Env, "XDG_CACHE_HOME=/var/cache") {
		t.Errorf("image config: %s %+v", img.OCIv1.Architecture, c)
	}
	for _, v := range []string{"/var/lib/edgesearch", "/var/cache/edgesearch"} {
		if _, ok := c.Volumes[v]; !ok {
			t.Errorf("no volume %s in %v", v, c.Volumes)
		}
	}
	// The files: the binary as built, the volumes' directories the user's.
	ctr := strings.TrimSpace(run("from", "-q", tag))
	t.Cleanup(func() { exec.Command(buildah, "rm", ctr).Run() })
	mnt, err := exec.Command(buildah, "mount", ctr).Output()
	if err != nil {
		t.Fatalf("buildah mount (needs root or buildah unshare): %v", err)
	}
	root := strings.TrimSpace(string(mnt))
	defer exec.Command(buildah, "umount", ctr).Run()
	want, _ := os.ReadFile(binary)
	if got, err := os.ReadFile(filepath.Join(root, "usr/local/bin/edgesearch")); err != nil || !slices.Equal(got, want) {
		t.Errorf("/usr/local/bin/edgesearch in the image is not the built binary (%d bytes, %v)", len(got), err)
	}
	for _, d := range []string{"var/lib/edgesearch", "var/cache/edgesearch"} {
		out, err := exec.Command("stat", "-c", "%u:%g", filepath.Join(root, d)).Output()
		if err != nil || strings.TrimSpace(string(out)) != "65532:65532" {
			t.Errorf("/%s is owned by %q (%v), want 65532:65532", d, out, err)
		}
	}
}
