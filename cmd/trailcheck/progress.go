package main

import (
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// hashProgress shows how many log files have been hashed, on stderr. It
// implements validate.Progress.
//
// The validator learns the number of log files as it reads digests, so the
// total grows while hashing goes on. The bar is kept one short of its
// maximum until finish: a progressbar that reaches its maximum considers
// itself done and stops drawing.
type hashProgress struct {
	w     io.Writer
	mu    sync.Mutex
	bar   *progressbar.ProgressBar // created at the first Add
	total int
}

func newHashProgress(w io.Writer) *hashProgress { return &hashProgress{w: w} }

// Add says n more log files are to be hashed.
func (p *hashProgress) Add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total += n
	if p.bar == nil {
		p.bar = progressbar.NewOptions(p.total+1,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription("hashing log files"),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		return
	}
	p.bar.ChangeMax(p.total + 1)
}

// Done says n log files were hashed.
func (p *hashProgress) Done(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Add(n)
	}
}

// finish removes the bar from the terminal.
func (p *hashProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Finish() // clears the line: OptionClearOnFinish
	}
}
