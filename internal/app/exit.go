package app

import (
	"context"
	"errors"
	"fmt"
)

// Exit codes, the contract of DESIGN.md. They are decided in one place
// (exitCode) from sentinel errors that commands wrap.
const (
	ExitOK          = 0   // ran and found nothing
	ExitFindings    = 1   // vulnerable endpoints or compromise indicators
	ExitUsage       = 2   // usage or configuration error
	ExitPartial     = 3   // some targets or files could not be read
	ExitInterrupted = 130 // stopped by the user (Ctrl-C)
)

var (
	// ErrFindings: the command ran and found something the user must act on.
	ErrFindings = errors.New("findings reported")
	// ErrUsage: bad flags, arguments or configuration.
	ErrUsage = errors.New("usage error")
	// ErrPartial: the command ran, but some inputs could not be read.
	ErrPartial = errors.New("partial result")
	// ErrInterrupted: the user stopped the command.
	ErrInterrupted = errors.New("interrupted")
)

// usageErrorf wraps a message as a usage error.
func usageErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

func exitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrInterrupted), errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.Is(err, ErrUsage):
		return ExitUsage
	case errors.Is(err, ErrPartial):
		return ExitPartial
	case errors.Is(err, ErrFindings):
		return ExitFindings
	default:
		// An error we did not classify is a failure to run as asked; 2 tells
		// scripts "this was not a clean result" without claiming findings.
		return ExitUsage
	}
}
