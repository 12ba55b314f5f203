package server

import (
	"bufio"
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// Scope is what a token allows.
type Scope string

// Token scopes: read allows lookups, write allows push (and lookups).
const (
	ScopeRead  Scope = "read"
	ScopeWrite Scope = "write"
)

// Auth checks bearer tokens ("authorization: Bearer TOKEN" metadata). Tokens
// are compared in constant time and never logged.
type Auth struct {
	tokens map[string]Scope
}

// NewAuth returns an Auth accepting the given tokens with their scopes.
func NewAuth(tokens map[string]Scope) *Auth {
	return &Auth{tokens: tokens}
}

// ReadTokens reads a tokens file (see ParseTokens) and returns an Auth
// accepting its tokens.
func ReadTokens(path string) (*Auth, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read tokens: %w", err)
	}
	defer f.Close()
	tokens, err := ParseTokens(f, path)
	if err != nil {
		return nil, err
	}
	return NewAuth(tokens), nil
}

// ParseTokens reads tokens, one "TOKEN SCOPE" a line with scope read or
// write; blank lines and lines starting with # are skipped. A token is
// printable ASCII, as gRPC metadata carries it, and is listed once. name
// (the file's) starts every error, with the line at fault; errors never
// quote a token.
func ParseTokens(r io.Reader, name string) (map[string]Scope, error) {
	tokens := map[string]Scope{}
	lineOf := map[string]int{}
	sc := bufio.NewScanner(r)
	line := 1
	for ; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s:%d: want \"TOKEN read\" or \"TOKEN write\", got %d words", name, line, len(fields))
		}
		token, scope := fields[0], Scope(fields[1])
		if scope != ScopeRead && scope != ScopeWrite {
			return nil, fmt.Errorf("%s:%d: unknown scope %q: write read or write", name, line, registry.Clip(string(scope)))
		}
		for i := range len(token) {
			if token[i] < '!' || token[i] > '~' {
				return nil, fmt.Errorf("%s:%d: the token holds a character that gRPC metadata cannot carry: use printable ASCII", name, line)
			}
		}
		if first, ok := lineOf[token]; ok {
			return nil, fmt.Errorf("%s:%d: the token of line %d again: list each token once, with its one scope", name, line, first)
		}
		tokens[token], lineOf[token] = scope, line
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read tokens: %s:%d: %w", name, line, err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("%s holds no tokens", name)
	}
	return tokens, nil
}

// TokensInClear reports whether bearer tokens would cross the network in
// clear text: tokens are required, TLS is off, and the gRPC listener at
// listen takes connections from other hosts (it is not bound to a loopback
// address).
func TokensInClear(listen net.Addr, tokens, tls bool) bool {
	tcp, ok := listen.(*net.TCPAddr)
	return tokens && !tls && ok && !tcp.IP.IsLoopback()
}

// scopeOf returns the scope of token, or "" when it is not known.
func (a *Auth) scopeOf(token string) Scope {
	var found Scope
	for t, sc := range a.tokens {
		if subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 {
			found = sc
		}
	}
	return found
}

// needs returns the scope a method needs; health and reflection need none.
func needs(method string) Scope {
	switch method {
	case almanacv1.FeatureServer_GetOnlineFeatures_FullMethodName:
		return ScopeRead
	case almanacv1.FeatureServer_Push_FullMethodName:
		return ScopeWrite
	}
	return ""
}

// authorize checks the request's token when tokens are configured.
func (s *Server) authorize(ctx context.Context, method string) error {
	a := s.opts.Auth
	need := needs(method)
	if a == nil || need == "" {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	var token string
	for _, v := range md.Get("authorization") {
		if t, ok := strings.CutPrefix(v, "Bearer "); ok {
			token = strings.TrimSpace(t)
		}
	}
	if token == "" {
		return status.Error(codes.Unauthenticated, `missing token: send metadata "authorization: Bearer TOKEN"`)
	}
	scope := a.scopeOf(token)
	switch {
	case scope == "":
		return status.Error(codes.Unauthenticated, "unknown token")
	case need == ScopeWrite && scope != ScopeWrite:
		return status.Errorf(codes.PermissionDenied, "token has scope %q; %s needs %q", scope, method, ScopeWrite)
	}
	return nil
}
