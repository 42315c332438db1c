package eval

import "testing"

func TestMayReadInput(t *testing.T) {
	for _, tc := range []struct {
		code string
		want bool
	}{
		{"(+ 1 2)", false},
		{"(read-line)", true},
		{"(clojure.core/read-line)", true},
		{"(read)", true},
		{"(edn/read r)", true},
		{"(read+string)", true},
		{"(slurp *in*)", true},
		{"(.readLine ^java.io.BufferedReader *in*)", true},
		{"(binding [*out* *err*] (println \"x\"))", false},
		{"#'*in*", true},
		{"@(future (read-line))", true},
		{"(clojure.main/repl)", true},
		{`(println "read-line")`, false},
		{`(println "a \" read-line")`, false},
		{"; (read-line)\n(+ 1 2)", false},
		{`(str \( \a "x")`, false},
		{"(read-string \"1\")", false},
		{"(my.app/reload!)", false},
		{"(my.app/reader)", false},
		{"(defn f [] (read-line)) (f)", true},
		{"", false},
	} {
		if got := mayReadInput(tc.code); got != tc.want {
			t.Errorf("mayReadInput(%q) = %v, want %v", tc.code, got, tc.want)
		}
	}
}
