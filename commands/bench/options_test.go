package bench

import (
	"reflect"
	"testing"
	"time"

	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/internal/tlsclient"
)

func TestOptionsFromArgv(t *testing.T) {
	with := func(scenario string, change func(o *Options)) Options {
		o := Defaults(scenario)
		change(&o)
		return o
	}
	common := []string{"--target", "https://h:1", "--nrepl", "h:2", "--duration", "3s", "--json", "--tls-ca", "ca.pem", "--insecure"}
	setCommon := func(o *Options) {
		o.Target, o.NREPL, o.Duration, o.JSON = "https://h:1", "h:2", 3*time.Second, true
		o.TLS = tlsclient.Options{CAFile: "ca.pem", Insecure: true}
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		argv []string
		want Options
	}{
		{"eval defaults", nil, []string{"eval"}, Defaults("eval")},
		{"eval", nil, append(append([]string{"eval"}, common...), "--count", "5", "--warmup", "1", "--runtimes", "2",
			"--runtime-kind", "chsk", "--editors", "3", "--code", "(f)", "--floor=false"),
			with("eval", func(o *Options) {
				setCommon(o)
				o.Count, o.Warmup, o.Runtimes, o.RuntimeKind, o.Editors, o.Code, o.Floor = 5, 1, 2, "chsk", 3, "(f)", false
			})},
		{"fanout defaults", nil, []string{"fanout"}, Defaults("fanout")},
		{"fanout", nil, []string{"fanout", "--gateway-arg", "--batch=false", "--gateway-arg", "--client-queue=9", "--subscribers", "4",
			"--payload", "5", "--window", "6", "--rate", "7.5", "--concurrency", "8", "--batch=false", "--instances", "3", "--nats", "nats://n:4222"},
			with("fanout", func(o *Options) {
				o.GatewayArgs = []string{"--batch=false", "--client-queue=9"}
				o.Subscribers, o.Payload, o.Window, o.Rate, o.Concurrency, o.Batch = 4, 5, 6, 7.5, 8, false
				o.Instances, o.NATS = 3, "nats://n:4222"
			})},
		{"fanout environment", map[string]string{"SENTE_BENCH_INSTANCES": "2", "SENTE_BENCH_NATS": "nats://n:1", "SENTE_BENCH_BATCH": "false"}, []string{"fanout"},
			with("fanout", func(o *Options) { o.Instances, o.NATS, o.Batch = 2, "nats://n:1", false })},
		{"connect", nil, []string{"connect", "--count", "9", "--concurrency", "2", "--insecure"},
			with("connect", func(o *Options) { o.Count, o.Concurrency, o.TLS.Insecure = 9, 2, true })},
		{"idle", nil, []string{"idle", "--connections", "10", "--path", "/_nrepl", "--concurrency", "3", "--duration", "0"},
			with("idle", func(o *Options) { o.Connections, o.Path, o.Concurrency, o.Duration = 10, "/_nrepl", 3, 0 })},
		{"ping defaults", nil, []string{"ping"}, Defaults("ping")},
		{"ping", nil, append([]string{"ping"}, common...), with("ping", setCommon)},
		{"environment", map[string]string{"SENTE_BENCH_TARGET": "https://h:1", "SENTE_BENCH_NREPL": "h:2", "SENTE_BENCH_DURATION": "3s",
			"SENTE_BENCH_JSON": "true", "SENTE_BENCH_COUNT": "5", "SENTE_BENCH_WARMUP": "1", "SENTE_BENCH_RUNTIMES": "2",
			"SENTE_BENCH_RUNTIME_KIND": "chsk", "SENTE_BENCH_EDITORS": "3", "SENTE_BENCH_CODE": "(f)", "SENTE_BENCH_FLOOR": "false",
			"SENTE_TLS_CA": "ca.pem", "SENTE_INSECURE": "true"},
			[]string{"eval"},
			with("eval", func(o *Options) {
				setCommon(o)
				o.Count, o.Warmup, o.Runtimes, o.RuntimeKind, o.Editors, o.Code, o.Floor = 5, 1, 2, "chsk", 3, "(f)", false
			})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := testutil.ParseOptions(t, NewCommand, tc.env, tc.argv...)
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

// Each scenario takes the flags its table entry gives it, and no others.
func TestScenarioFlags(t *testing.T) {
	testutil.ClearEnv(t, "SENTE_")
	for _, tc := range []struct{ argv []string }{
		{[]string{"idle", "--count", "1"}},
		{[]string{"ping", "--editors", "2"}},
		{[]string{"connect", "--subscribers", "2"}},
		{[]string{"eval", "--instances", "2"}},
		{[]string{"ping", "--nats", "nats://n:1"}},
		{[]string{"connect", "--batch=false"}},
		{[]string{"eval", "--path", "/chsk"}},
		{[]string{"eval", "extra"}},
		{[]string{"eval", "--count", "many"}},
	} {
		testutil.RefusesUsage(t, NewCommand, tc.argv...)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(o *Options)
		want   string // "" is valid
	}{
		{"eval defaults", func(*Options) {}, ""},
		{"no scenario", func(o *Options) { o.Scenario = "" }, "name a scenario: sente bench SCENARIO [flags], one of eval, fanout, connect, idle, ping"},
		{"unknown scenario", func(o *Options) { o.Scenario = "x" }, `unknown scenario "x": choose one of eval, fanout, connect, idle, ping`},
		{"nothing ends the run", func(o *Options) { o.Count, o.Duration = 0, 0 }, "--count 0 and --duration 0: nothing would end the run"},
		{"idle needs no count", func(o *Options) { *o = Defaults("idle"); o.Duration = 0 }, ""},
		{"idle path", func(o *Options) { *o = Defaults("idle"); o.Path = "/x" }, `--path "/x": use /chsk or /_nrepl`},
		{"runtime kind", func(o *Options) { o.RuntimeKind = "x" }, `--runtime-kind "x": use nrepl or chsk`},
		{"fanout window", func(o *Options) { *o = Defaults("fanout"); o.Window = 0 }, "--subscribers and --window must be positive, --payload and --rate not negative"},
		{"concurrency", func(o *Options) { *o = Defaults("connect"); o.Concurrency = 0 }, "--concurrency must be positive"},
		{"instances beyond fanout", func(o *Options) { o.Instances, o.NATS = 2, "nats://n:1" }, "--instances is for the fanout scenario"},
		{"fanout instances", func(o *Options) { *o = Defaults("fanout"); o.Instances, o.NATS = 2, "nats://n:1" }, ""},
		{"fanout instances need NATS", func(o *Options) { *o = Defaults("fanout"); o.Instances = 2 },
			"--instances 2 or more needs --nats URL: the instances share channels through a NATS server"},
		{"--nrepl without --target", func(o *Options) { o.NREPL = "h:1" }, "--nrepl goes with --target: a child gateway's address is known"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Defaults("eval")
			tc.change(&o)
			switch err := validate(&o); {
			case err == nil && tc.want != "":
				t.Errorf("validate accepted it, want %q", tc.want)
			case err != nil && err.Error() != tc.want:
				t.Errorf("validate: %q, want %q", err, tc.want)
			}
		})
	}
}
