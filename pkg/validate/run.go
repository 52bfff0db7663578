package validate

import (
	"context"
	"errors"

	"github.com/trailcheck/trailcheck/pkg/report"
	"github.com/trailcheck/trailcheck/pkg/store"
)

// Run validates every chain of st selected by opts.
func Run(ctx context.Context, st store.Store, opts Options) (*report.Report, error) {
	return nil, errors.New("not implemented yet")
}
