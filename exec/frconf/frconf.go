// Package frconf reads FreeRADIUS 3 configuration files far enough for
// radmfa doctor: sections, "name = value" pairs and their nesting, across
// the files of a configuration directory. It does not expand variables or
// follow $INCLUDE; it reads what an admin wrote.
package frconf

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Section is one "{ … }" block: its name words ("exec radmfa",
// "authorize", "thread pool"), pairs and subsections, in file order.
type Section struct {
	Name     string // the words before "{", space-separated
	Line     int    // line of the opening brace
	Pairs    []Pair
	Sections []*Section
}

// Pair is one "name = value" (or :=, +=) line.
type Pair struct {
	Name, Value string
	Line        int
}

// maxDepth bounds nesting, so hostile input cannot exhaust the stack.
const maxDepth = 64

// Parse reads a configuration file into its top-level section (Name "").
func Parse(r io.Reader) (*Section, error) {
	root := &Section{}
	stack := []*Section{root}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		text := sc.Text()
		// A trailing backslash continues the line (long strings, long
		// conditions).
		for strings.HasSuffix(text, "\\") && sc.Scan() {
			n++
			text = text[:len(text)-1] + " " + sc.Text()
		}
		line := stripComment(text)
		for line != "" {
			cur := stack[len(stack)-1]
			switch {
			case strings.HasPrefix(line, "}"):
				if len(stack) == 1 {
					return nil, fmt.Errorf("line %d: '}' without a section", n)
				}
				stack = stack[:len(stack)-1]
				line = strings.TrimSpace(line[1:])
			case opensSection(line):
				i := openingBrace(line)
				if len(stack) >= maxDepth {
					return nil, fmt.Errorf("line %d: sections nested deeper than %d", n, maxDepth)
				}
				s := &Section{Name: strings.Join(strings.Fields(line[:i]), " "), Line: n}
				cur.Sections = append(cur.Sections, s)
				stack = append(stack, s)
				line = strings.TrimSpace(line[i+1:])
			default:
				// "name = value", possibly followed by "}" on the same line.
				end := len(line)
				if i := closingBrace(line); i >= 0 {
					end = i
				}
				if p, ok := parsePair(line[:end], n); ok {
					cur.Pairs = append(cur.Pairs, p)
				}
				line = strings.TrimSpace(line[end:])
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(stack) > 1 {
		return nil, fmt.Errorf("section %q (line %d) is not closed", stack[len(stack)-1].Name, stack[len(stack)-1].Line)
	}
	return root, nil
}

// scan finds the structural characters of a line: where a # comment
// starts (len(s) if none), and the braces that open or close sections.
// It skips quoted strings ("…", '…', `…`), regular expressions after =~ and
// !~ (/…/), and ${variable} / %{expansion} braces.
func scan(s string) (comment int, opens, closes []int) {
	var q byte
	depth := 0 // inside ${…} or %{…}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0 && c == '\\':
			i++
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'' || c == '`':
			q = c
		case c == '/' && afterMatchOp(s[:i]):
			q = '/'
		case c == '#':
			return i, opens, closes
		case c == '{' && i > 0 && (s[i-1] == '$' || s[i-1] == '%'):
			depth++
		case c == '}' && depth > 0:
			depth--
		case c == '{':
			opens = append(opens, i)
		case c == '}':
			closes = append(closes, i)
		}
	}
	return len(s), opens, closes
}

// afterMatchOp reports whether s ends with =~ or !~ (and spaces).
func afterMatchOp(s string) bool {
	s = strings.TrimRight(s, " \t")
	return strings.HasSuffix(s, "=~") || strings.HasSuffix(s, "!~")
}

func stripComment(s string) string {
	c, _, _ := scan(s)
	return strings.TrimSpace(s[:c])
}

func openingBrace(s string) int {
	if _, opens, _ := scan(s); len(opens) > 0 {
		return opens[0]
	}
	return -1
}

func closingBrace(s string) int {
	if _, _, closes := scan(s); len(closes) > 0 {
		return closes[0]
	}
	return -1
}

// opensSection reports whether the line's next structural brace opens a
// section ("name … {") rather than closing one or ending a pair.
func opensSection(line string) bool {
	o, c := openingBrace(line), closingBrace(line)
	return o >= 0 && (c < 0 || o < c) && !isPair(line[:o])
}

// operators that may follow a pair's name (unlang's update lists use the
// comparison forms too).
var operators = []string{":=", "+=", "-=", "==", "!=", "=~", "!~", "<=", ">=", "=*", "!*", "=", "<", ">"}

// isPair reports whether s starts like "name = …": one word, then an
// operator. "if (a == b)" is not a pair.
func isPair(s string) bool {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, " \t=:+-!<>~*")
	if i <= 0 {
		return false
	}
	rest := strings.TrimLeft(s[i:], " \t")
	for _, op := range operators {
		if strings.HasPrefix(rest, op) {
			return true
		}
	}
	return false
}

func parsePair(s string, line int) (Pair, bool) {
	for _, op := range []string{":=", "+=", "="} {
		if i := strings.Index(s, op); i > 0 {
			name := strings.TrimSpace(s[:i])
			if strings.ContainsAny(name, " \t\"'") {
				return Pair{}, false
			}
			v := strings.TrimSpace(s[i+len(op):])
			if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
				v = v[1 : len(v)-1]
			}
			return Pair{Name: name, Value: v, Line: line}, true
		}
	}
	return Pair{}, false
}

// Get returns the value of the first pair with the name, or "".
func (s *Section) Get(name string) (string, bool) {
	for _, p := range s.Pairs {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// Find returns the subsections whose name matches, searching the whole
// tree depth-first.
func (s *Section) Find(match func(name string) bool) []*Section {
	var out []*Section
	for _, c := range s.Sections {
		if match(c.Name) {
			out = append(out, c)
		}
		out = append(out, c.Find(match)...)
	}
	return out
}

// Sub returns the first direct subsection with the name.
func (s *Section) Sub(name string) *Section {
	for _, c := range s.Sections {
		if c.Name == name {
			return c
		}
	}
	return nil
}
