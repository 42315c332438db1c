package eval

import "strings"

// inputNames are the names through which Clojure code reads *in*: the var
// itself, the readers that default to it, and clojure.main/repl. A symbol is
// matched on its name alone (clojure.core/read-line, edn/read), which errs
// towards cloning a session that was not needed.
var inputNames = map[string]bool{
	"*in*":        true,
	"read-line":   true,
	"read":        true,
	"read+string": true,
	"repl":        true,
}

// mayReadInput reports whether code names something that reads *in*.
//
// nREPL gives input only to an eval in a session of its own, and a session
// costs a clone and a close (which the JVM nREPL answers after a 100 ms
// sleep), so sente eval clones one only for code that can use its piped
// stdin. Code that reaches *in* through a function it does not name still
// gets need-input; sente then says why the input cannot reach it.
func mayReadInput(code string) bool {
	for i := 0; i < len(code); {
		c := code[i]
		switch {
		case c == ';':
			for i < len(code) && code[i] != '\n' {
				i++
			}
		case c == '"':
			i++
			for i < len(code) && code[i] != '"' {
				if code[i] == '\\' {
					i++
				}
				i++
			}
			i++
		case c == '\\':
			// A character literal: \a, \(, \newline.
			i += 2
			for i < len(code) && !isDelimiter(code[i]) {
				i++
			}
		case isDelimiter(c) || isMacroChar(c):
			i++
		default:
			start := i
			for i < len(code) && !isDelimiter(code[i]) {
				i++
			}
			if inputNames[symbolName(code[start:i])] {
				return true
			}
		}
	}
	return false
}

// symbolName is the name part of a symbol token: read in clojure.core/read.
func symbolName(tok string) string {
	if j := strings.LastIndexByte(tok, '/'); j > 0 && j < len(tok)-1 {
		return tok[j+1:]
	}
	return tok
}

func isDelimiter(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', ',', '(', ')', '[', ']', '{', '}', '"', ';':
		return true
	}
	return false
}

// isMacroChar reports the reader macro characters that may start a token:
// 'x `x ~x ~@x @x ^x #'x #(...).
func isMacroChar(c byte) bool {
	switch c {
	case '\'', '`', '~', '@', '^', '#':
		return true
	}
	return false
}
