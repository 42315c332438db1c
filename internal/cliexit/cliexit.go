// Package cliexit is the one set of exit statuses every sente command ends
// with, and the error that carries one from a command to main.
//
// Statuses:
//
//	0    all went well
//	1    the code, the server or the run reported an error, or --timeout passed
//	2    bad arguments, nothing to connect to, or a lost connection
//	130  interrupted (Ctrl-C)
//
// A command returns an *Error; main prints its message as "sente: MSG" and
// exits with its Code. Any other error from a command is exit status 2.
package cliexit

import "fmt"

// Exit statuses.
const (
	OK          = 0
	Failed      = 1   // evaluated code, the server or the run reported an error; --timeout passed
	Unavailable = 2   // no server to talk to, or the connection was lost
	Usage       = 2   // bad arguments; the same status as Unavailable, as scripts see it
	Interrupted = 130 // stopped by Ctrl-C (128 + SIGINT)
)

// Error ends a command with Code. Msg, when not empty, is for the user
// (printed as "sente: Msg"); an empty Msg means all was said already.
type Error struct {
	Code int
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// ExitCode makes Error a urfave/cli ExitCoder.
func (e *Error) ExitCode() int { return e.Code }

// Errorf is an Error with a formatted message.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Usagef is a bad-arguments error: exit status 2.
func Usagef(format string, args ...any) *Error { return Errorf(Usage, format, args...) }

// Failedf is an error the server or the code reported, or an answer that did
// not come in time: exit status 1.
func Failedf(format string, args ...any) *Error { return Errorf(Failed, format, args...) }
