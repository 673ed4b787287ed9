package frconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `# radiusd.conf excerpt
localstatedir = ${prefix}/var
logdir = ${localstatedir}/log/${name}
max_request_time = 30
security { max_attributes = 200
	reject_delay = 0 }
thread pool {
	max_servers = 32   # comment
}
exec radmfa {
	wait = yes
	program = "/usr/local/bin/radmfa exec --config /etc/radmfa/radmfa.toml # not a comment"
	timeout = 10
}
post-auth {
	if (session-state:User-Name && (reply:User-Name == request:User-Name)) {
		update reply {
			&User-Name !* ANY
		}
	}
	update {
		&reply: += &session-state:
	}
}
rest rest_radmfa {
	connect_uri = "http://127.0.0.1:18122/"
	authorize {
		uri = "${..connect_uri}radius/authorize?client=%{client:shortname}"
		timeout = 12
	}
}
`

func TestParse(t *testing.T) {
	root, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  func() string
		want string
	}{
		{"top-level pair", func() string { v, _ := root.Get("max_request_time"); return v }, "30"},
		{"variables", func() string { v, _ := root.Get("logdir"); return v }, "${localstatedir}/log/${name}"},
		{"pair on the brace line", func() string { v, _ := root.Sub("security").Get("max_attributes"); return v }, "200"},
		{"pair before closing brace", func() string { v, _ := root.Sub("security").Get("reject_delay"); return v }, "0"},
		{"two-word section", func() string { v, _ := root.Sub("thread pool").Get("max_servers"); return v }, "32"},
		{"quoted with #", func() string { v, _ := root.Sub("exec radmfa").Get("program"); return v }, "/usr/local/bin/radmfa exec --config /etc/radmfa/radmfa.toml # not a comment"},
		{"nested", func() string { v, _ := root.Sub("rest rest_radmfa").Sub("authorize").Get("timeout"); return v }, "12"},
		{"braces inside quotes", func() string { v, _ := root.Sub("rest rest_radmfa").Sub("authorize").Get("uri"); return v }, "${..connect_uri}radius/authorize?client=%{client:shortname}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.got(); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	if n := len(root.Find(func(n string) bool { return strings.HasPrefix(n, "if ") })); n != 1 {
		t.Fatalf("Find if: %d", n)
	}
	if n := len(root.Find(func(n string) bool { return strings.HasPrefix(n, "rest ") })); n != 1 {
		t.Fatalf("Find rest: %d", n)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"stray brace", "}\n", "'}' without a section"},
		{"unclosed", "exec x {\n wait = yes\n", `section "exec x" (line 1) is not closed`},
		{"too deep", strings.Repeat("a {\n", 100), "nested deeper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add("a { b = \"}\" }\n")
	f.Add("x = '\\''\n{")
	f.Fuzz(func(t *testing.T, s string) {
		root, err := Parse(strings.NewReader(s))
		if err == nil && root == nil {
			t.Fatal("nil root without error")
		}
	})
}

func TestParseUnlang(t *testing.T) {
	in := `policy {
	if (("%{string:&Class}" =~ /^${policy.prefix}([0-9a-f]{32})/i)) {
		update request {
			&X := "%{md5:%{1}}"
		}
	}
	else {
		ok
	}
	if (User-Password !~ /[0-9]{6}/) { reject }
	foreach &control:Tmp-String-0 {
		ok
	}
	update request {
		&X := "%{sql:\
			SELECT x FROM y \
			WHERE a = '%{User-Name}'}"
	}
}
`
	root, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(root.Sub("policy").Sections); n != 5 {
		t.Fatalf("%d sections in policy, want 5 (if, else, if, foreach, update)", n)
	}
}

// TestDebianStockConfig parses every file of Debian's stock FreeRADIUS
// configuration, when it is installed (scripts/deps.sh installs it).
func TestDebianStockConfig(t *testing.T) {
	files, _ := filepath.Glob("/etc/freeradius/3.0/*/*")
	files = append(files, "/etc/freeradius/3.0/radiusd.conf")
	n := 0
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil || st.IsDir() || filepath.Base(f) == "README" || strings.HasSuffix(f, ".md") || strings.Contains(f, "/certs/") {
			continue
		}
		t.Run(strings.TrimPrefix(f, "/etc/freeradius/3.0/"), func(t *testing.T) {
			r, err := os.Open(f)
			if err != nil {
				t.Skip(err)
			}
			defer r.Close()
			if _, err := Parse(r); err != nil {
				t.Fatal(err)
			}
		})
		n++
	}
	if n == 0 {
		t.Skip("no FreeRADIUS configuration in /etc/freeradius/3.0")
	}
}
