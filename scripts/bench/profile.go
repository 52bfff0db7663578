package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"sync"
	"time"

	"github.com/trailcheck/trailcheck/pkg/store"
)

func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// startPeakHeapProfile samples the heap in use every 50 ms and writes a
// heap profile each time it reaches a new high (at most one a second, and
// once more at the end), so that the file shows what was live at the peak.
// The peak heap sizes go to stderr.
func startPeakHeapProfile(path string, stderr io.Writer) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var peak, peakStack, peakSys uint64
	write := func() {
		f, err := os.Create(path)
		if err != nil {
			return
		}
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
		if g, err := os.Create(path + ".goroutines.txt"); err == nil {
			pprof.Lookup("goroutine").WriteTo(g, 1)
			g.Close()
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		var last time.Time
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			runtime.ReadMemStats(&ms)
			peakStack, peakSys = max(peakStack, ms.StackInuse), max(peakSys, ms.Sys)
			if ms.HeapInuse > peak+peak/20 && time.Since(last) > time.Second {
				peak = ms.HeapInuse
				runtime.GC() // the profile reports live objects as of the last GC
				write()
				last = time.Now()
			} else if ms.HeapInuse > peak {
				peak = ms.HeapInuse
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(stderr, "validate: peaks (sampled every 50 ms): heap in use %.1f MB, stacks %.1f MB, Sys %.1f MB; at the end: heap in use %.1f MB, %d GCs\n",
			float64(peak)/1e6, float64(peakStack)/1e6, float64(peakSys)/1e6, float64(ms.HeapInuse)/1e6, ms.NumGC)
	}
}

// tracingStore records every store call.
type tracingStore struct {
	store.Store
	t0     time.Time
	mu     sync.Mutex
	events []storeEvent
}

type storeEvent struct {
	start, dur time.Duration
	op, key    string
}

func newTracingStore(st store.Store) *tracingStore { return &tracingStore{Store: st, t0: time.Now()} }

// Unwrap keeps store.Base working (the engine picks its default workers by
// the innermost store).
func (t *tracingStore) Unwrap() store.Store { return t.Store }

func (t *tracingStore) rec(op, key string, start time.Time) {
	t.mu.Lock()
	t.events = append(t.events, storeEvent{start.Sub(t.t0), time.Since(start), op, key})
	t.mu.Unlock()
}

func (t *tracingStore) List(ctx context.Context, prefix string, fn func(store.Object) error) error {
	start := time.Now()
	err := t.Store.List(ctx, prefix, fn)
	t.rec("List", prefix, start)
	return err
}

func (t *tracingStore) ListDirs(ctx context.Context, prefix string) ([]string, error) {
	start := time.Now()
	out, err := t.Store.ListDirs(ctx, prefix)
	t.rec("ListDirs", prefix, start)
	return out, err
}

// Open records the time to the first byte (the read is the caller's).
func (t *tracingStore) Open(ctx context.Context, key string) (io.ReadCloser, store.Meta, error) {
	start := time.Now()
	rc, m, err := t.Store.Open(ctx, key)
	t.rec("Open", key, start)
	return rc, m, err
}

func (t *tracingStore) write(path string, stderr io.Writer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sort.Slice(t.events, func(i, j int) bool { return t.events[i].start < t.events[j].start })
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(stderr, "validate:", err)
		return
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	defer w.Flush()
	fmt.Fprintln(w, "start_ms\tdur_ms\top\tkey")
	for _, e := range t.events {
		fmt.Fprintf(w, "%.1f\t%.1f\t%s\t%s\n", float64(e.start)/1e6, float64(e.dur)/1e6, e.op, e.key)
	}
}
