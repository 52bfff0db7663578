package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// machine is what the report says about where it was measured.
type machine struct {
	CPU      string
	Cores    int
	CPUFlags string // the ones that matter here: sha_ni, avx2, …
	Memory   string
	Kernel   string
	Go       string
	AWS      string
	Date     string
	Git      string
	Disk     string
}

func probeMachine(ctx context.Context, repo string) machine {
	m := machine{Cores: runtime.NumCPU(), Date: time.Now().UTC().Format("2006-01-02 15:04 MST")}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				continue
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			switch {
			case k == "model name" && m.CPU == "":
				m.CPU = v
			case k == "flags" && m.CPUFlags == "":
				have := map[string]bool{}
				for _, fl := range strings.Fields(v) {
					have[fl] = true
				}
				var got []string
				for _, fl := range []string{"sha_ni", "avx2", "avx512f", "bmi2", "pclmulqdq"} {
					if have[fl] {
						got = append(got, fl)
					}
				}
				m.CPUFlags = strings.Join(got, " ")
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				m.Memory = strings.TrimSpace(v)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	out := func(dir, name string, args ...string) string {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		b, err := cmd.CombinedOutput()
		if err != nil {
			return "unavailable (" + err.Error() + ")"
		}
		return strings.TrimSpace(string(b))
	}
	m.Go = out(repo, "go", "version")
	m.AWS = out(repo, "aws", "--version")
	m.Git = out(repo, "git", "describe", "--always", "--dirty")
	if df := out(repo, "df", "-h", "--output=source,fstype,size,avail", os.TempDir()); !strings.HasPrefix(df, "unavailable") {
		lines := strings.Split(df, "\n")
		m.Disk = strings.Join(strings.Fields(lines[len(lines)-1]), " ")
	}
	return m
}
