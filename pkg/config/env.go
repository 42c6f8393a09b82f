package config

import "os"

// FromEnvironment reads the configuration from the process environment
// alone, over the defaults, for a process that has no command line (a
// serverless function handler). Unlike Load with an empty file name it
// reads no env file, not even ./.env: the function's variables are its
// only source. It returns what Load returns: every value that parsed, and
// every problem at once, joined. It does not validate: pass the error to
// Check with the role.
func FromEnvironment() (Config, error) {
	// An empty env file: load then reads only the environment.
	cfg, _, err := load(os.Environ(), os.DevNull, nil)
	return cfg, err
}
