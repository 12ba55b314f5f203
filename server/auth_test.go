package server_test

import (
	"maps"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/almanac-fs/almanac/server"
)

func TestParseTokens(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		want     map[string]server.Scope
		mentions []string // of the error, when want is nil
	}{
		{
			name: "tokens, comments and blank lines",
			file: "# readers\nr1 read\n\n  r2\tread  \n# writers\nw1 write\n",
			want: map[string]server.Scope{"r1": server.ScopeRead, "r2": server.ScopeRead, "w1": server.ScopeWrite},
		},
		{
			name:     "a token listed twice with two scopes",
			file:     "a read\nb write\n# c\na write\n",
			mentions: []string{"tokens:4:", "line 1", "once"},
		},
		{
			name:     "a token listed twice with one scope",
			file:     "a read\na read\n",
			mentions: []string{"tokens:2:", "line 1"},
		},
		{
			name:     "unknown scope",
			file:     "a read\nb admin\n",
			mentions: []string{"tokens:2:", `"admin"`, "read or write"},
		},
		{
			name:     "scope in capitals",
			file:     "a READ\n",
			mentions: []string{"tokens:1:", `"READ"`},
		},
		{
			name:     "token without a scope",
			file:     "a read\n\nb\n",
			mentions: []string{"tokens:3:", "TOKEN read"},
		},
		{
			name:     "three words",
			file:     "a read write\n",
			mentions: []string{"tokens:1:", "3 words"},
		},
		{
			name:     "a token gRPC metadata cannot carry",
			file:     "caf\u00e9 read\n",
			mentions: []string{"tokens:1:", "printable ASCII"},
		},
		{
			name:     "only comments",
			file:     "# none yet\n\n",
			mentions: []string{"tokens holds no tokens"},
		},
		{
			name:     "a line too long to read",
			file:     "a read\n" + strings.Repeat("x", 100<<10) + " read\n",
			mentions: []string{"tokens:2:", "too long"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := server.ParseTokens(strings.NewReader(tt.file), "tokens")
			if tt.want != nil {
				if err != nil || !maps.Equal(got, tt.want) {
					t.Fatalf("ParseTokens = %v, %v; want %v", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseTokens = %v, want an error", got)
			}
			for _, m := range tt.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			if strings.Contains(err.Error(), "caf") || strings.Contains(err.Error(), "xxx") {
				t.Errorf("error %q quotes a token", err)
			}
		})
	}
}

// FuzzTokens checks that ParseTokens never panics, that what it accepts is
// a set of usable tokens, and that the set reads back the same when written
// out again.
func FuzzTokens(f *testing.F) {
	for _, seed := range []string{
		"r1 read\nw1 write\n",
		"# comment\n\n  r2\tread  \r\n",
		"a read\na write\n",
		"a admin\n",
		"a\n",
		"a read write\n",
		"caf\u00e9 read\n",
		"\x00 read\n",
		"#a read\n",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, file string) {
		tokens, err := server.ParseTokens(strings.NewReader(file), "tokens")
		if err != nil {
			if tokens != nil {
				t.Fatalf("ParseTokens returned tokens %v with error %v", tokens, err)
			}
			return
		}
		if len(tokens) == 0 {
			t.Fatal("ParseTokens accepted a file without tokens")
		}
		var out strings.Builder
		for _, tok := range slices.Sorted(maps.Keys(tokens)) {
			sc := tokens[tok]
			if tok == "" || strings.HasPrefix(tok, "#") || (sc != server.ScopeRead && sc != server.ScopeWrite) {
				t.Fatalf("ParseTokens accepted token %q with scope %q", tok, sc)
			}
			for _, c := range []byte(tok) {
				if c < '!' || c > '~' {
					t.Fatalf("ParseTokens accepted token %q, which gRPC metadata cannot carry", tok)
				}
			}
			out.WriteString(tok + " " + string(sc) + "\n")
		}
		again, err := server.ParseTokens(strings.NewReader(out.String()), "tokens")
		if err != nil || !maps.Equal(again, tokens) {
			t.Fatalf("tokens %v written out and read again: %v, %v", tokens, again, err)
		}
	})
}

func TestTokensInClear(t *testing.T) {
	tcp := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 6566} }
	tests := []struct {
		name        string
		listen      net.Addr
		tokens, tls bool
		want        bool
	}{
		{name: "tokens, plaintext, all interfaces", listen: tcp("0.0.0.0"), tokens: true, want: true},
		{name: "tokens, plaintext, all interfaces (IPv6)", listen: tcp("::"), tokens: true, want: true},
		{name: "tokens, plaintext, a LAN address", listen: tcp("10.1.2.3"), tokens: true, want: true},
		{name: "tokens, plaintext, loopback", listen: tcp("127.0.0.1"), tokens: true},
		{name: "tokens, plaintext, loopback (IPv6)", listen: tcp("::1"), tokens: true},
		{name: "tokens, plaintext, another loopback address", listen: tcp("127.0.0.2"), tokens: true},
		{name: "tokens, TLS, all interfaces", listen: tcp("0.0.0.0"), tokens: true, tls: true},
		{name: "no tokens, plaintext, all interfaces", listen: tcp("0.0.0.0")},
		{name: "tokens, plaintext, a Unix socket", listen: &net.UnixAddr{Name: "/run/almanac.sock", Net: "unix"}, tokens: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := server.TokensInClear(tt.listen, tt.tokens, tt.tls); got != tt.want {
				t.Errorf("TokensInClear(%v, tokens %t, TLS %t) = %t, want %t", tt.listen, tt.tokens, tt.tls, got, tt.want)
			}
		})
	}
}
