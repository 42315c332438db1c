package repl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/chzyer/readline"

	"github.com/sente-clj/sente/internal/cliexit"
)

// DefaultHistoryFile is $XDG_STATE_HOME/sente/history when XDG_STATE_HOME is
// set, else ~/.sente_history ("" when there is no home directory either).
func DefaultHistoryFile() string {
	if dir := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "sente", "history")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".sente_history")
	}
	return ""
}

// IsTerminal reports whether f is a terminal, as the REPL's line editor needs.
func IsTerminal(f *os.File) bool {
	return f != nil && readline.IsTerminal(int(f.Fd()))
}

func (r *runner) historyFile() string {
	hf := r.cfg.HistoryFile
	if hf == "" {
		return ""
	}
	if err := os.MkdirAll(filepath.Dir(hf), 0o700); err != nil {
		r.note("keeping no history: %v", err)
		return ""
	}
	return hf
}

// interactive runs the line editor until Ctrl-D, :quit or ctx ends.
func (r *runner) interactive(ctx context.Context) error {
	rl, err := readline.NewEx(&readline.Config{
		Prompt:                 Prompt(r.sess.NS),
		HistoryFile:            r.historyFile(),
		DisableAutoSaveHistory: true, // a multi-line input is saved whole, once complete
		HistorySearchFold:      true,
		AutoComplete:           &completer{ctx: ctx, sess: r.sess},
		InterruptPrompt:        "^C",
		EOFPrompt:              "",
		Stdout:                 r.cfg.Out,
		Stderr:                 r.cfg.Err,
	})
	if err != nil {
		return cliexit.Errorf(cliexit.Unavailable, "cannot start the line editor: %v", err)
	}
	defer rl.Close()
	stop := context.AfterFunc(ctx, func() { rl.Close() })
	defer stop()

	srv := r.sess.Server
	fmt.Fprintf(r.cfg.Out, "sente repl: connected to %s at %s", srv.Name, r.cfg.Addr)
	if srv.Sente {
		fmt.Fprintf(r.cfg.Out, " (%d runtime%s connected)", srv.Runtimes, plural(srv.Runtimes))
	}
	fmt.Fprintln(r.cfg.Out, "\n:help lists commands and keys; Ctrl-D exits.")

	input := func() (string, bool) { // the server asks for a line of *in*
		rl.SetPrompt("")
		line, err := rl.Readline()
		if err != nil {
			return "", false
		}
		return line + "\n", true
	}

	var lines []string
	sp := NewSplitter()
	nforms := 0
	reset := func() {
		lines, sp, nforms = nil, NewSplitter(), 0
	}
	for {
		if len(lines) == 0 {
			rl.SetPrompt(Prompt(r.sess.NS))
		} else {
			rl.SetPrompt(ContinuationPrompt(r.sess.NS))
		}
		text, err := rl.Readline()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch {
		case errors.Is(err, readline.ErrInterrupt): // Ctrl-C at the prompt
			reset()
			continue
		case errors.Is(err, io.EOF): // Ctrl-D
			return nil
		case err != nil:
			return cliexit.Errorf(cliexit.Unavailable, "reading the terminal: %v", err)
		}
		if len(lines) == 0 {
			handled, err := r.command(ctx, text)
			if handled {
				rl.SaveHistory(strings.TrimSpace(text))
			}
			if errors.Is(err, errQuit) {
				return nil
			}
			if err != nil {
				return err
			}
			if handled {
				continue
			}
		}
		lines = append(lines, text)
		forms, serr := sp.Feed(text + "\n")
		nforms += len(forms)
		if serr != nil {
			rl.SaveHistory(OneLine(strings.Join(lines, "\n")))
			r.note("%v (input not sent)", serr)
			reset()
			continue
		}
		if sp.Pending() {
			continue
		}
		code, n := strings.Join(lines, "\n"), nforms
		reset()
		if h := OneLine(code); h != "" {
			rl.SaveHistory(h)
		}
		if n == 0 {
			continue // blank, comments, or only #_ forms
		}
		if _, err := r.eval(ctx, code, input); err != nil {
			return err
		}
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// completer completes the symbol before the cursor through the server.
type completer struct {
	ctx  context.Context
	sess *Session
}

// completeWait bounds one completion request, so Tab never hangs the editor.
const completeWait = 2 * time.Second

// Do implements readline.AutoCompleter: it returns the rest of each candidate
// that extends the word before the cursor, and the word's length.
func (c *completer) Do(line []rune, pos int) ([][]rune, int) {
	prefix := wordBefore(line, pos)
	if prefix == "" {
		return nil, 0
	}
	ctx, cancel := context.WithTimeout(c.ctx, completeWait)
	defer cancel()
	cands, err := c.sess.Complete(ctx, prefix)
	if err != nil {
		return nil, 0
	}
	seen := map[string]bool{}
	var out [][]rune
	for _, cand := range cands {
		if !strings.HasPrefix(cand, prefix) || cand == prefix || seen[cand] {
			continue
		}
		seen[cand] = true
		out = append(out, []rune(cand[len(prefix):]))
	}
	return out, len([]rune(prefix))
}

// wordBefore is the symbol or keyword that ends at pos in line.
func wordBefore(line []rune, pos int) string {
	if pos > len(line) {
		pos = len(line)
	}
	start := pos
	for start > 0 && isSymbolRune(line[start-1]) {
		start--
	}
	return string(line[start:pos])
}

// isSymbolRune is part of a symbol or keyword being completed.
func isSymbolRune(r rune) bool {
	if unicode.IsSpace(r) {
		return false
	}
	return !strings.ContainsRune("()[]{}\"',`;@^~\\", r)
}
