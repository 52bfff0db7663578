package standin

import (
	"context"
	"time"

	"github.com/trailcheck/trailcheck/pkg/keys"
	"github.com/trailcheck/trailcheck/pkg/trailgen"
)

// LoadTrail serves a generated trail: its objects (with contentEncoding,
// "" for none) in its bucket, its public keys in their regions, the trail
// for DescribeTrails and GetTrailStatus (latest digest delivery a few
// minutes after its last digest) and, for an organization trail, its
// accounts. It returns the trail's description, whose ARN() is what
// `--trail-arn` takes.
func (s *Server) LoadTrail(ctx context.Context, tr *trailgen.Trail, contentEncoding string) (Trail, error) {
	cfg := tr.Config
	if err := s.CreateBucket(cfg.Bucket, cfg.HomeRegion); err != nil {
		return Trail{}, err
	}
	if _, err := s.LoadStore(ctx, cfg.Bucket, tr.Store, contentEncoding); err != nil {
		return Trail{}, err
	}
	byRegion := map[string][]*keys.Key{}
	for _, k := range tr.Keys {
		byRegion[k.Region] = append(byRegion[k.Region], k)
	}
	for region, ks := range byRegion {
		s.SetKeys(region, ks)
	}
	t := Trail{
		Name: cfg.TrailName, Account: cfg.Accounts[0], HomeRegion: cfg.HomeRegion, Bucket: cfg.Bucket,
		Prefix: cfg.Prefix, MultiRegion: len(cfg.Regions) > 1, Organization: cfg.OrgID != "",
		LogFileValidation: true, StartLogging: tr.Start, LatestDigestDelivery: tr.End.Add(4 * time.Minute),
	}
	s.SetTrails(t)
	if cfg.OrgID != "" {
		var accts []Account
		for _, a := range cfg.Accounts {
			accts = append(accts, Account{ID: a})
		}
		s.SetOrganization(Organization{ID: cfg.OrgID, ManagementAccount: cfg.Accounts[0]})
		s.SetAccounts(accts...)
	}
	return t, nil
}
