package repl_test

import (
	"testing"

	replcmd "github.com/sente-clj/sente/commands/repl"
	"github.com/sente-clj/sente/internal/testutil"
	front "github.com/sente-clj/sente/repl"
)

func TestOptionsFromArgv(t *testing.T) {
	type flags struct {
		Host        string
		Port        int
		HistoryFile string
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		argv []string
		want func() flags // after the environment is set: the history default reads HOME
	}{
		{"defaults", map[string]string{"HOME": "/home/ada", "XDG_STATE_HOME": ""}, nil,
			func() flags { return flags{HistoryFile: front.DefaultHistoryFile()} }},
		{"every flag", nil, []string{"--host", "h", "--port", "7888", "--history-file", ""},
			func() flags { return flags{Host: "h", Port: 7888} }},
		{"environment", map[string]string{"SENTE_NREPL_HOST": "eh", "SENTE_NREPL_PORT": "1", "SENTE_REPL_HISTORY_FILE": "/tmp/h"}, nil,
			func() flags { return flags{Host: "eh", Port: 1, HistoryFile: "/tmp/h"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := testutil.ParseOptions(t, replcmd.NewCommand, tc.env, tc.argv...)
			if f, want := (flags{got.Host, got.Port, got.HistoryFile}), tc.want(); f != want {
				t.Errorf("got  %+v\nwant %+v", f, want)
			}
		})
	}
	for _, argv := range [][]string{{"(+ 1 2)"}, {"--port", "x"}, {"--no-such-flag"}} {
		testutil.RefusesUsage(t, replcmd.NewCommand, argv...)
	}
}
