package config

import (
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// EnvFileFlag is the name of the flag that names the env file.
const EnvFileFlag = "env-file"

// Flags returns the command-line flags that mirror the variables, one per
// variable and named from it (EXPORTER_TRACKER__SEARCH__QUERY becomes
// --tracker-search-query), plus --env-file (-e). Booleans are boolean flags
// (--stateful, --stateful=false); everything else is a string flag read
// exactly like the variable. The flags read no environment themselves:
// FromCLI merges them over it. Each call returns new flag values, so that
// several cli.Apps (tests) do not share state.
func Flags() []cli.Flag {
	flags := []cli.Flag{&cli.StringFlag{
		Name:    EnvFileFlag,
		Aliases: []string{"e"},
		Usage:   "read variables from `FILE` (default: ./.env when it exists); the environment wins over it",
	}}
	for _, v := range table() {
		usage := v.help + " ($" + v.name + ")"
		def := v.def
		if v.secret {
			def = ""
		}
		if v.isBool {
			flags = append(flags, &cli.BoolFlag{Name: flagName(v.name), Usage: usage, DefaultText: def})
			continue
		}
		flags = append(flags, &cli.StringFlag{Name: flagName(v.name), Usage: usage, DefaultText: def})
	}
	return flags
}

// FromCLI loads the configuration as Load(os.Environ(), --env-file) does,
// with the flags that were set explicitly on the command line overriding the
// environment. It needs a context whose app or parent command declared
// Flags(). Like python-dotenv in the old tool, it also exports the env
// file's other variables (AWS_*, SSL_CERT_FILE, ...) to the process
// environment when they are not set there, so that libraries reading them
// see them; it is therefore not safe to call concurrently with code that
// reads the environment.
func FromCLI(c *cli.Context) (Config, error) {
	cfg, file, err := fromCLI(c, os.Environ())
	for k, v := range file {
		if _, set := os.LookupEnv(k); !set && !strings.HasPrefix(strings.ToUpper(k), envPrefix) {
			_ = os.Setenv(k, v) // cannot fail for a name godotenv accepted
		}
	}
	return cfg, err
}

func fromCLI(c *cli.Context, environ []string) (Config, map[string]string, error) {
	overrides := map[string]rawValue{}
	for _, v := range table() {
		name := flagName(v.name)
		if !c.IsSet(name) {
			continue
		}
		value := c.String(name)
		if v.isBool {
			value = strconv.FormatBool(c.Bool(name))
		}
		overrides[v.name] = rawValue{value: value, origin: "--" + name}
	}
	return load(environ, c.String(EnvFileFlag), overrides)
}
