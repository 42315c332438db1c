// Package testscripts tests the sente binary the way users run it, in the style
// of cmd/go's script tests: each testdata/*.txtar file is a script of shell-like
// commands plus the files it needs (github.com/rogpeppe/go-internal/testscript).
//
// # Running
//
//	go test ./testscripts/                          # all scripts
//	go test ./testscripts/ -run TestScripts/startup  # one script (file name without .txtar)
//	go test ./testscripts/ -v -run TestScripts/startup -testwork  # keep $WORK, log every line
//
// TestMain builds ./cmd/sente once (internal/sentebin) into a
// temporary directory, which Setup puts first on PATH; HOME is the script's
// $WORK, so nothing in the real home directory is read or written.
//
// # Adding a script
//
// Add testdata/NAME.txtar; it is picked up by TestScripts as TestScripts/NAME.
// A script runs in its own $WORK directory, holding the files of the archive.
// Run the binary with exec, exactly as a user would type it. For example:
//
//	# sente runtimes, with no browser connected.
//	gateway-start
//	exec sente runtimes --url $GATEWAY_URL --json
//	stdout '^\[\]$'
//	! stderr .
//
//	# A gateway that is not there is exit status 2.
//	exec-status 2 sente runtimes --url http://127.0.0.1:1
//	stderr 'cannot reach a sente gateway'
//
// Files a script needs follow its commands as "-- name --" sections
// (see startup.txtar). go test ./testscripts/ -update rewrites the files that
// cmp compares stdout or stderr with to what the commands printed.
//
// Keep each script to a few seconds: start gateways on port 0 (gateway-start
// does by default) and never sleep; wait on something observable instead
// (gateway-start returns once the gateway listens; wait-file, wait-subscribers,
// http-get).
// env cannot unset a variable, and env NAME= makes it empty, which sente's
// string flags take as the value "" (an empty SENTE_LOG_FORMAT is an error):
// set SENTE_* variables last in a script, or in a script of their own.
// Builtin commands (exec, stdout, stderr, grep, cmp, exists, env, cd, ...)
// are documented at https://pkg.go.dev/github.com/rogpeppe/go-internal/testscript.
//
// # Commands this package adds (see cmds_test.go)
//
//	gateway-start [GLOBAL-FLAGS... gateway] [FLAGS...]
//	    Starts `sente [GLOBAL-FLAGS] gateway [FLAGS]` (the sente on the
//	    script's PATH) in the script's directory, in the background, and
//	    returns once it printed its two startup lines, which become stdout.
//	    Adds --nrepl-port 0 unless a --nrepl-port flag is given or
//	    $SENTE_NREPL_PORT is set, and likewise --port 0 (flag --port,
//	    $SENTE_PORT). Global flags (--log-format, --log-level) go before the
//	    word gateway, as on the command line. Sets NREPL_PORT, HTTP_PORT,
//	    GATEWAY_URL (http://127.0.0.1:$HTTP_PORT, no trailing slash; the host
//	    is the page URL's) and CHSK_URL (ws://127.0.0.1:$HTTP_PORT/chsk);
//	    https:// and wss:// for a TLS gateway. One gateway at a time per
//	    script; it is interrupted at the end of the script if still running.
//	[!] gateway-stop
//	    Sends SIGINT, waits for the gateway to exit, and writes its
//	    whole stdout and stderr to $WORK/gateway.stdout and $WORK/gateway.stderr
//	    (also made the current stdout/stderr). Fails if it did not exit, or if
//	    it exited with a non-zero status (with !: with status zero).
//	[!] http-get URL
//	    GETs URL; the body becomes stdout, the status line and the response
//	    headers ("Content-Type: text/html; charset=utf-8") become stderr.
//	    Fails on a non-2xx status or no answer (with !: on a 2xx answer).
//	exec-status CODE PROG [ARGS...]
//	    Like exec (stdin from a preceding stdin command), but the program
//	    must exit with exactly status CODE.
//	[!] wait-file FILE
//	    Waits for FILE to exist (with !: to no longer exist).
//	wait-subscribers CHANNEL N
//	    Waits until the gateway's /channels says CHANNEL has N subscribers:
//	    a `sente subscribe` started in the background has subscribed.
//
// http-get and wait-subscribers trust the PEM certificates in $TLS_CA
// besides the system's, for a TLS gateway (tls.txtar); SENTE_TLS_CA would
// be read by the sente commands the script runs as well.
//
// A program that runs while the script goes on, such as a `sente subscribe`
// that a later `sente publish` feeds, uses testscript's own background
// commands: exec PROG ARGS... &NAME& starts it, kill -INT NAME is Ctrl-C,
// and wait NAME waits for it to exit (successfully; ! exec ... &NAME& for a
// failure) and makes its output stdout and stderr. Every wait above is
// bounded by testutil.Patience, generous for a loaded machine.
//
// Commands started by exec, exec-status and gateway-start see the script's
// environment, including variables set with env.
package testscripts

import (
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/sente-clj/sente/internal/sentebin"
)

var update = flag.Bool("update", false, "rewrite cmp's golden files in the scripts to the actual output")

// senteBin is the absolute path of the sente binary TestMain built.
var senteBin string

func TestMain(m *testing.M) { sentebin.Main(m, &senteBin) }

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata",
		UpdateScripts: *update,
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", filepath.Dir(senteBin)+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("HOME", env.WorkDir)
			if runtime.GOOS == "windows" {
				env.Setenv("USERPROFILE", env.WorkDir)
			}
			env.Values[stateKey{}] = &scriptState{}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"gateway-start":    cmdGatewayStart,
			"gateway-stop":     cmdGatewayStop,
			"http-get":         cmdHTTPGet,
			"exec-status":      cmdExecStatus,
			"wait-file":        cmdWaitFile,
			"wait-subscribers": cmdWaitSubscribers,
		},
	})
}
