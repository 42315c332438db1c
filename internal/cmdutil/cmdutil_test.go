package cmdutil

import "testing"

func TestSizes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int64
		ok   bool
		back string // FormatSize(n)
	}{
		{"16MiB", 16 << 20, true, "16MiB"},
		{"1MiB", 1 << 20, true, "1MiB"},
		{"512 KiB", 512 << 10, true, "512KiB"},
		{"1GiB", 1 << 30, true, "1GiB"},
		{"1048576", 1 << 20, true, "1MiB"},
		{"1000", 1000, true, "1000"},
		{"2KB", 2000, true, "2000"},
		{"3B", 3, true, "3"},
		{"0", 0, false, ""},
		{"-1KiB", 0, false, ""},
		{"12XB", 0, false, ""},
		{"", 0, false, ""},
	} {
		n, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || n != tc.n {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok %v", tc.in, n, err, tc.n, tc.ok)
		}
		if tc.ok && FormatSize(n) != tc.back {
			t.Errorf("FormatSize(%d) = %q, want %q", n, FormatSize(n), tc.back)
		}
	}
}

func TestCodeList(t *testing.T) {
	t.Setenv("TEST_CODE", "(a, b)")
	l := &CodeList{Env: "TEST_CODE"}
	// urfave Sets the environment's value first; the command line replaces it.
	for _, v := range []string{"(a, b)", "1", serialized, "(+ 1, 2)"} {
		if err := l.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if len(l.Vals) != 2 || l.Vals[0] != "1" || l.Vals[1] != "(+ 1, 2)" {
		t.Errorf("Vals = %q", l.Vals)
	}
}
