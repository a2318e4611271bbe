package dmarc

import (
	"github.com/mxguard/mxguard/config"
	"github.com/mxguard/mxguard/dmarc/policy"
)

// FromConfig builds the end-of-data authentication configuration of a
// loaded configuration.
func FromConfig(cfg *config.Config) *Config {
	a := cfg.Auth
	c := &Config{AuthservID: a.AuthservID, Aliases: a.AuthservAliases, Receiver: cfg.Hostname, Timeout: cfg.Timeouts.Check}
	if c.AuthservID == "" {
		c.AuthservID = cfg.Hostname
	}
	c.SPF = a.SPF
	c.DKIM.MaxSignatures, c.DKIM.MinRSABits = a.DKIM.MaxSignatures, a.DKIM.MinRSABits
	c.DKIM.MaxBuffer = int64(a.DKIM.MaxBuffer)
	c.DMARC.Mode = policy.Mode(a.DMARC.Mode)
	c.DMARC.Reject, c.DMARC.Quarantine, c.DMARC.None = a.DMARC.Reject, a.DMARC.Quarantine, a.DMARC.None
	c.DMARC.Temperror, c.DMARC.Permerror = a.DMARC.Temperror, a.DMARC.Permerror
	c.DMARC.RejectMultipleFrom = a.DMARC.RejectMultipleFrom
	c.DMARC.OverrideDomains = a.DMARC.OverrideDomains
	c.DMARC.OverrideNetworks = a.DMARC.OverridePrefixes()
	return c
}
