package cliexit

import (
	"errors"
	"fmt"
	"testing"
)

func TestError(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		code int
		msg  string
	}{
		{"Errorf", Errorf(Interrupted, "interrupted after %d", 3), 130, "interrupted after 3"},
		{"Usagef", Usagef("bad %s", "flag"), 2, "bad flag"},
		{"Failedf", Failedf("timed out"), 1, "timed out"},
		{"wrapped", fmt.Errorf("running: %w", &Error{Code: Failed}), 1, "running: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e interface{ ExitCode() int }
			if !errors.As(tc.err, &e) || e.ExitCode() != tc.code || tc.err.Error() != tc.msg {
				t.Errorf("got %v (%q), want code %d, message %q", tc.err, tc.err.Error(), tc.code, tc.msg)
			}
		})
	}
}
