package config

// File returns the name of the file the configuration was read from, or
// DefaultName for the embedded default.
func (c *Config) File() string {
	if c.file == "" {
		return DefaultName
	}
	return c.file
}
