// Package cmdutil is what the sente commands' command-line definitions
// share: the logging flags every command takes, the nREPL and sente-lite
// address flags and the TLS flags of the client commands, byte sizes, a
// repeatable flag that keeps Clojure code whole, and the mapping of a
// command's error to its exit.
// Each command binds its own flags to its Options in commands/<cmd>; this
// package holds only what several of them use.
package cmdutil

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sente-clj/sente/internal/cliexit"
	"github.com/sente-clj/sente/internal/nreplfind"
	"github.com/sente-clj/sente/internal/tlsclient"
)

// The log flags' defaults.
const (
	defaultLogLevel  = "info"
	defaultLogFormat = "text"
)

// LogFlags are --log-level and --log-format, which the app and every command take.
func LogFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-level", Value: defaultLogLevel, EnvVars: []string{"SENTE_LOG_LEVEL"}, Usage: "debug, info, warn or error"},
		&cli.StringFlag{Name: "log-format", Value: defaultLogFormat, EnvVars: []string{"SENTE_LOG_FORMAT"}, Usage: "text or json (logs go to stderr)"},
	}
}

// setting is a flag's value from the innermost level that set it (command
// before global), so a command's default never hides a global flag.
func setting(c *cli.Context, name string) string {
	for _, cc := range c.Lineage() {
		if cc.IsSet(name) && cc.String(name) != "" {
			return cc.String(name)
		}
	}
	return ""
}

// NewLogger builds the structured logger all commands share from the log flags.
func NewLogger(c *cli.Context) (*slog.Logger, error) {
	levelName, format := setting(c, "log-level"), setting(c, "log-format")
	if levelName == "" {
		levelName = defaultLogLevel
	}
	if format == "" {
		format = defaultLogFormat
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(levelName)); err != nil {
		return nil, cliexit.Usagef("--log-level %q: use debug, info, warn or error", levelName)
	}
	opts := &slog.HandlerOptions{Level: level}
	w := c.App.ErrWriter
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, cliexit.Usagef("--log-format %q: use text or json", format)
	}
}

// ClientLogger is the sentelite connection log of the client commands: shown
// with --log-level debug only (nil otherwise), so that a client command's
// stderr holds its own lines and nothing else.
func ClientLogger(c *cli.Context) (*slog.Logger, error) {
	log, err := NewLogger(c)
	if err != nil {
		return nil, err
	}
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		return nil, nil
	}
	return log, nil
}

// NoArgs refuses stray words after a command that takes none.
func NoArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return cliexit.Usagef("unexpected argument %q (see %s --help)", c.Args().First(), c.Command.HelpName)
	}
	return nil
}

// UsageError is every command's OnUsageError: a short line, exit status 2.
func UsageError(c *cli.Context, err error, isSubcommand bool) error {
	return cliexit.Usagef("%v (see %s --help)", err, c.Command.HelpName)
}

// Exit passes a command's *cliexit.Error (or other urfave ExitCoder) to main,
// which prints its message as "sente: ..." and exits with its code; any other
// error is exit status 1.
func Exit(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(cli.ExitCoder); ok {
		return err
	}
	return cliexit.Errorf(cliexit.Failed, "%s", err.Error())
}

// NREPLClientFlags say which nREPL server a terminal client talks to. Their
// environment variables are SENTE_NREPL_*: SENTE_HOST and SENTE_PORT belong to
// the gateway's HTTP side, and SENTE_NREPL_PORT is shared on purpose with
// `sente gateway --nrepl-port`: the same port, seen from both ends.
func NREPLClientFlags(host *string, port *int) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "host", EnvVars: []string{"SENTE_NREPL_HOST"}, DefaultText: nreplfind.DefaultHost, Destination: host,
			Usage: "nREPL server `HOST` to connect to (SENTE_HOST is not read: it is the gateway's listen address)"},
		&cli.IntFlag{Name: "port", EnvVars: []string{"SENTE_NREPL_PORT"}, DefaultText: ".nrepl-port in this or a parent directory, else 1339", Destination: port,
			Usage: "nREPL server `PORT` (SENTE_NREPL_PORT is the one sente gateway --nrepl-port reads too; SENTE_PORT is the gateway's HTTP port)"},
	}
}

// ChskURLFlag is --url for the sente-lite clients (send, subscribe, publish),
// with def as its default. Its variable is SENTE_CHSK_URL: SENTE_URL is
// sente runtimes' http:// base.
func ChskURLFlag(dest *string, def string) cli.Flag {
	return &cli.StringFlag{Name: "url", Value: def, EnvVars: []string{"SENTE_CHSK_URL"}, Destination: dest,
		Usage: "the server's sente-lite WebSocket `URL` (ws:// is assumed, http:// becomes ws://, no path means /chsk)"}
}

// TLSClientFlags are --tls-ca and --insecure, bound to o, for the commands
// that reach a gateway over wss:// or https:// (send, subscribe, publish,
// runtimes and every bench scenario).
func TLSClientFlags(o *tlsclient.Options) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "tls-ca", EnvVars: []string{"SENTE_TLS_CA"}, Destination: &o.CAFile,
			Usage: "trust the gateway certificate(s) in PEM `FILE` besides the system's (e.g. the one sente gateway --tls-self-signed made)"},
		&cli.BoolFlag{Name: "insecure", EnvVars: []string{"SENTE_INSECURE"}, Destination: &o.Insecure,
			Usage: "accept any TLS certificate (tests with self-signed gateways only: the connection can be read and changed)"},
	}
}

// IsPiped reports whether f is a pipe or a regular file, rather than a
// terminal or a device such as /dev/null.
func IsPiped(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice == 0
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}

// ParseSize reads a byte count such as 1048576, 512KiB, 16MiB or 1GiB.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive size such as 1048576, 512KiB or 16MiB", s)
	}
	return n * mult, nil
}

// FormatSize writes n as ParseSize reads it, in the largest binary unit that
// divides it: 16MiB, 1MiB, 1000.
func FormatSize(n int64) string {
	for _, u := range sizeUnits[:3] {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// CodeList is a repeatable flag that keeps each value whole; urfave's
// StringSliceFlag would split Clojure code at its commas.
type CodeList struct {
	Env     string   // the flag's environment variable
	Vals    []string // in command-line order
	envSeen bool     // the first Set has been looked at
	fromEnv bool     // Vals holds only the environment's value
}

// serialized is what Serialize gives urfave, which Sets it again under the
// flag's other names (-e and --expr share this value, so that is a no-op).
const serialized = "\x00sente-code-list\x00"

// Set appends one value. urfave applies the environment variable with a Set
// before parsing the command line; values given on the command line replace it.
func (l *CodeList) Set(v string) error {
	if v == serialized {
		return nil
	}
	if !l.envSeen {
		l.envSeen = true
		if e, ok := os.LookupEnv(l.Env); ok && e == v {
			l.Vals, l.fromEnv = []string{v}, true
			return nil
		}
	}
	if l.fromEnv {
		l.Vals, l.fromEnv = nil, false
	}
	l.Vals = append(l.Vals, v)
	return nil
}

func (l *CodeList) String() string { return "" }

// Serialize implements cli.Serializer; see serialized.
func (l *CodeList) Serialize() string { return serialized }
