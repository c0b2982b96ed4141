// Package readiness is how a `webhooks worker` tells the process that
// started it that it works: its parent passes it the write end of a pipe as
// an inherited file descriptor, named by WEBHOOKS_READY_FD, and the worker
// writes one line, "ready", to it once its River client and listener have
// started, then closes it. A parent that reads the line knows the worker
// takes jobs and hears the notifications of new ones; one that reads the
// end of the pipe instead knows it never will. Grepping the worker's log
// for the same moment would tie the parent to the log's wording and format.
//
// It imports nothing of this project.
package readiness

import (
	"fmt"
	"os"
	"strconv"
)

// Env names the inherited file descriptor to write the line to.
const Env = "WEBHOOKS_READY_FD"

// Line is what the worker writes once ready.
const Line = "ready\n"

// Open returns the file descriptor that value (WEBHOOKS_READY_FD's) names,
// or nil when it is empty: nobody waits. It is read before the worker
// starts, so that a wrong value stops it at once rather than after it has
// connected.
func Open(value string) (*os.File, error) {
	if value == "" {
		return nil, nil
	}
	fd, err := strconv.Atoi(value)
	if err != nil || fd < 3 {
		// 0, 1 and 2 are standard input, output and error, never a pipe
		// passed for this.
		return nil, fmt.Errorf("%s=%q is not an inherited file descriptor (3 or more)", Env, value)
	}
	f := os.NewFile(uintptr(fd), Env)
	if _, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("%s=%d is not an open file descriptor: %w", Env, fd, err)
	}
	return f, nil
}

// Signal writes the line to f (from Open) and closes it; with f nil it does
// nothing.
func Signal(f *os.File) error {
	if f == nil {
		return nil
	}
	_, err := f.WriteString(Line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("error signalling readiness on %s: %w", Env, err)
	}
	return nil
}
