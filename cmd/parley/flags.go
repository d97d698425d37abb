package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// flagValue is a flag.Value whose parse says, when it refuses a text, what the flag takes. It
// keeps that refusal too (see refuser).
type flagValue[T any] struct {
	p      *T
	parse  func(string) (T, error)
	isBool bool
	err    error
}

func (v *flagValue[T]) Set(text string) error {
	x, err := v.parse(text)
	if v.err = err; err != nil {
		return err
	}
	*v.p = x
	return nil
}

func (v *flagValue[T]) String() string {
	if v.p == nil { // the zero value the flag package makes to tell defaults apart
		return ""
	}
	return fmt.Sprint(*v.p)
}

// Get makes the flag a flag.Getter, as the flag package's own are.
func (v *flagValue[T]) Get() any { return *v.p }

// IsBoolFlag lets a boolean flag stand alone: --dev is --dev=true.
func (v *flagValue[T]) IsBoolFlag() bool { return v.isBool }

func (v *flagValue[T]) refused() error { return v.err }

// refuser is a flag value that keeps why it refused its last text. The flag package passes a
// refusal on only as text in its own words (`invalid boolean value "yes" for -dev: …`); run asks
// the value instead, to report `--dev: "yes" is not a boolean (…)`.
type refuser interface{ refused() error }

func boolFlag(fs *flag.FlagSet, p *bool, name string, value bool, usage string) {
	*p = value
	fs.Var(&flagValue[bool]{p: p, parse: parseBool, isBool: true}, name, usage)
}

// choiceFlag is a string flag that takes one of choices, in any case; its usage lists them.
func choiceFlag(fs *flag.FlagSet, p *string, name, value, what string, choices ...string) {
	*p = value
	list := strings.Join(choices[:len(choices)-1], ", ") + " or " + choices[len(choices)-1]
	parse := func(text string) (string, error) {
		for _, c := range choices {
			if strings.EqualFold(text, c) {
				return c, nil
			}
		}
		return "", fmt.Errorf("%q is not %s (want %s)", text, what, list)
	}
	fs.Var(&flagValue[string]{p: p, parse: parse}, name, list)
}

func durationFlag(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	parse := func(text string) (time.Duration, error) {
		d, err := time.ParseDuration(text)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration (want one such as 30m or 24h)", text)
		}
		return d, nil
	}
	fs.Var(&flagValue[time.Duration]{p: p, parse: parse}, name, usage)
}

// parseBool takes what strconv.ParseBool takes, and names the usual spellings when it refuses.
func parseBool(text string) (bool, error) {
	b, err := strconv.ParseBool(text)
	if err != nil {
		return false, fmt.Errorf("%q is not a boolean (want true or false, 1 or 0)", text)
	}
	return b, nil
}

// envName is the environment variable of a flag: --database-url is PARLEY_DATABASE_URL.
func envName(flagName string) string {
	return "PARLEY_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// fromEnv sets each flag of fs that the command line left unset from its environment variable,
// when that is set and not empty. A value the flag refuses is a usage error naming the variable.
// (ff's WithEnvVarPrefix, which this replaces, named it only deep inside its own words:
// `error parsing environment variables: error setting flag "dev" from environment variable
// "PARLEY_DEV": parse error`.)
func fromEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		text := os.Getenv(envName(f.Name))
		if err != nil || given[f.Name] || text == "" {
			return
		}
		if e := fs.Set(f.Name, text); e != nil {
			err = usageError{msg: envName(f.Name) + ": " + e.Error()}
		}
	})
	return err
}
