// Package setting describes the numeric and duration settings of Parley's configurations: each
// one's name, range and place in its configuration, so that one table serves validation, the
// command line's flags and the tests of both. A value out of range is refused when the
// configuration is checked at start, never met later as a panic or a divide by zero.
package setting

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Setting is one numeric or duration field of a configuration C. Its value is an int64: a count,
// a size in bytes, or nanoseconds when Duration is set.
type Setting[C any] struct {
	// Name is how errors name the setting: its path in the configuration, e.g. "Hub.QueueSize".
	Name string
	// Min and Max bound the value, both included.
	Min, Max int64
	// Duration says the value is a time.Duration: parsed and shown as "1m30s".
	Duration bool
	// Unit follows the bounds where the value is not in the field's own unit ("a minute").
	Unit string
	Get  func(*C) int64
	Set  func(*C, int64)
}

// Int is the setting of an integer field of C, from min to max.
func Int[C any, T ~int | ~int32 | ~int64](name string, field func(*C) *T, min, max T) Setting[C] {
	return Setting[C]{
		Name: name, Min: int64(min), Max: int64(max),
		Get: func(c *C) int64 { return int64(*field(c)) },
		Set: func(c *C, v int64) { *field(c) = fit[T](v) },
	}
}

// Duration is the setting of a duration field of C, from min to max.
func Duration[C any](name string, field func(*C) *time.Duration, min, max time.Duration) Setting[C] {
	s := Int(name, field, min, max)
	s.Duration = true
	return s
}

// fit converts v to T, saturating at T's bounds, so that a value too large for T stays too large
// for the range instead of wrapping into it (4294967298 is 2 as an int32).
func fit[T ~int | ~int32 | ~int64](v int64) T {
	if t := T(v); int64(t) == v {
		return t
	}
	// Only an int32 (or an int on a 32-bit machine) can overflow here.
	if v > 0 {
		return math.MaxInt32
	}
	return math.MinInt32
}

// Within makes a setting of a part of a configuration (a server's Hub, say) a setting of the whole.
func Within[P, C any](s Setting[C], part func(*P) *C) Setting[P] {
	return Setting[P]{
		Name: s.Name, Min: s.Min, Max: s.Max, Duration: s.Duration, Unit: s.Unit,
		Get: func(p *P) int64 { return s.Get(part(p)) },
		Set: func(p *P, v int64) { s.Set(part(p), v) },
	}
}

// Format shows a value of the setting as its flag would take it.
func (s Setting[C]) Format(v int64) string {
	if s.Duration {
		return time.Duration(v).String()
	}
	return strconv.FormatInt(v, 10)
}

// Parse reads a value of the setting as a flag or environment variable gives it. It checks the
// syntax only: the range is Check's, so that every refusal says the same.
func (s Setting[C]) Parse(text string) (int64, error) {
	if s.Duration {
		d, err := time.ParseDuration(text)
		return int64(d), err
	}
	return strconv.ParseInt(text, 0, 64)
}

// Range says the values allowed, e.g. "1s to 10m0s".
func (s Setting[C]) Range() string {
	return s.Format(s.Min) + " to " + s.Format(s.Max) + s.unit()
}

func (s Setting[C]) unit() string {
	if s.Unit == "" {
		return ""
	}
	return " " + s.Unit
}

// Check refuses a value of c out of the setting's range with an *Error.
func (s Setting[C]) Check(c *C) error {
	if v := s.Get(c); v < s.Min || v > s.Max {
		return &Error{Name: s.Name, Reason: fmt.Sprintf("must be between %s and %s%s (got %s)",
			s.Format(s.Min), s.Format(s.Max), s.unit(), s.Format(v))}
	}
	return nil
}

// CheckAll returns the first refusal of Check among settings, in their order.
func CheckAll[C any](c *C, settings []Setting[C]) error {
	for _, s := range settings {
		if err := s.Check(c); err != nil {
			return err
		}
	}
	return nil
}

// CheckBurst refuses a burst below 1 while its rate is above 0: such a limiter would allow
// nothing at all. A zero rate is no limit, and its burst does not matter.
func CheckBurst[C any](c *C, rate, burst Setting[C]) error {
	if b := burst.Get(c); rate.Get(c) > 0 && b < 1 {
		return &Error{Name: burst.Name, Reason: fmt.Sprintf("must be at least 1 while its rate is above 0 (got %s)", burst.Format(b))}
	}
	return nil
}

// Error is a setting refused: Name says which, Reason why. A caller that knows the setting by
// another name (the flag that sets it) names it so in a new Error.
type Error struct {
	Name   string
	Reason string
}

func (e *Error) Error() string { return e.Name + " " + e.Reason }
