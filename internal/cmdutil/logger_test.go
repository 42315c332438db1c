package cmdutil_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/sente-clj/sente/internal/cmdutil"
	"github.com/sente-clj/sente/internal/testutil"
)

func TestNewLogger(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		argv  []string
		level slog.Level
		json  bool
		code  int // exit status of a refused setting; 0 accepted
	}{
		{"defaults", nil, nil, slog.LevelInfo, false, 0},
		{"flags", nil, []string{"--log-level", "debug", "--log-format", "json"}, slog.LevelDebug, true, 0},
		{"environment", map[string]string{"SENTE_LOG_LEVEL": "warn", "SENTE_LOG_FORMAT": "JSON"}, nil, slog.LevelWarn, true, 0},
		{"an empty variable is the default", map[string]string{"SENTE_LOG_FORMAT": ""}, nil, slog.LevelInfo, false, 0},
		{"bad level", nil, []string{"--log-level", "loud"}, 0, false, 2},
		{"bad format", nil, []string{"--log-format", "xml"}, 0, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testutil.ClearEnv(t, "SENTE_")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var log *slog.Logger
			cmd := &cli.Command{Name: "x", Action: func(c *cli.Context) error {
				var err error
				log, err = cmdutil.NewLogger(c)
				return err
			}}
			err := testutil.RunCommand(cmd, tc.argv...)
			if tc.code != 0 {
				if ec, ok := err.(cli.ExitCoder); !ok || ec.ExitCode() != tc.code {
					t.Errorf("%v, want exit status %d", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if !log.Enabled(ctx, tc.level) || log.Enabled(ctx, tc.level-1) {
				t.Errorf("logger not at level %v", tc.level)
			}
			if _, isJSON := log.Handler().(*slog.JSONHandler); isJSON != tc.json {
				t.Errorf("JSON handler %v, want %v", isJSON, tc.json)
			}
		})
	}
}
