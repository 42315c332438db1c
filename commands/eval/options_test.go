package eval_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/sente-clj/sente/commands/eval"
	"github.com/sente-clj/sente/internal/testutil"
)

// flags is the part of Options that the command line sets.
type flags struct {
	Host    string
	Port    int
	Exprs   []string
	File    string
	NS      string
	All     bool
	JSON    bool
	Timeout time.Duration
}

func TestOptionsFromArgv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		argv []string
		want flags
	}{
		{"defaults", nil, nil, flags{}},
		{"every flag", nil,
			[]string{"--host", "h", "--port", "7888", "-e", "(+ 1, 2)", "-e", "2", "-f", "x.clj", "--ns", "my.ns", "--all", "--json", "--timeout", "3s"},
			flags{Host: "h", Port: 7888, Exprs: []string{"(+ 1, 2)", "2"}, File: "x.clj", NS: "my.ns", All: true, JSON: true, Timeout: 3 * time.Second}},
		{"environment", map[string]string{"SENTE_NREPL_HOST": "eh", "SENTE_NREPL_PORT": "1", "SENTE_EVAL_EXPR": "(a, b)", "SENTE_EVAL_FILE": "f",
			"SENTE_EVAL_NS": "n", "SENTE_EVAL_ALL": "true", "SENTE_EVAL_JSON": "true", "SENTE_EVAL_TIMEOUT": "1m"}, nil,
			flags{Host: "eh", Port: 1, Exprs: []string{"(a, b)"}, File: "f", NS: "n", All: true, JSON: true, Timeout: time.Minute}},
		{"-e replaces SENTE_EVAL_EXPR", map[string]string{"SENTE_EVAL_EXPR": "1"}, []string{"-e", "2", "-e", "3"},
			flags{Exprs: []string{"2", "3"}}},
		{"the command line wins over the environment", map[string]string{"SENTE_NREPL_PORT": "1"}, []string{"--port", "2"},
			flags{Port: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := testutil.ParseOptions(t, eval.NewCommand, tc.env, tc.argv...)
			f := flags{got.Host, got.Port, got.Exprs, got.File, got.NS, got.All, got.JSON, got.Timeout}
			if !reflect.DeepEqual(f, tc.want) {
				t.Errorf("got  %+v\nwant %+v", f, tc.want)
			}
			if got.Stdout == nil || got.Stderr == nil || got.Stdin == nil {
				t.Error("stdio not set")
			}
		})
	}
}

func TestOptionsRefused(t *testing.T) {
	testutil.ClearEnv(t, "SENTE_")
	for _, argv := range [][]string{{"(+ 1 2)"}, {"--no-such-flag"}, {"--port", "x"}, {"--timeout", "soon"}, {"-e", "1", "--expr", "2"}} {
		testutil.RefusesUsage(t, eval.NewCommand, argv...)
	}
}
