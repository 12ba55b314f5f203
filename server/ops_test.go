package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/almanac-fs/almanac/internal/servertest"
	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/sdk"
	"github.com/almanac-fs/almanac/server"
)

const (
	readToken  = "read-secret-6f1c9b2e"
	writeToken = "write-secret-a83d40f7"
	wrongToken = "wrong-secret-0c5e7d11"
)

// TestAuth checks bearer tokens: refused when missing or unknown, a read
// token for lookups only, a write token for both; health checks need none;
// no token ever reaches the logs, error messages or metrics.
func TestAuth(t *testing.T) {
	logs := &syncBuffer{}
	env := servertest.Start(t, servertest.Options{
		Auth:   server.NewAuth(map[string]server.Scope{readToken: server.ScopeRead, writeToken: server.ScopeWrite}),
		Logger: newLogger(logs),
	})
	lookup := func(c *sdk.Client) error {
		res, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: servertest.DriverRanking, Entities: drivers(1001)})
		if err == nil {
			if got, _, err := res.Float64(0, "conv_rate"); got != 0.91 || err != nil {
				t.Errorf("conv_rate %v, %v; want 0.91", got, err)
			}
		}
		return err
	}
	push := func(c *sdk.Client) error {
		_, err := c.Push(t.Context(), servertest.PushSource, map[string][]any{"driver_id": {1001}, "event_ts": {env.Now}, "lat": {1.0}})
		return err
	}
	tests := []struct {
		name     string
		token    string // "" sends none
		call     func(*sdk.Client) error
		code     codes.Code
		mentions []string
	}{
		{"lookup without token", "", lookup, codes.Unauthenticated, []string{"token", "authorization"}},
		{"lookup with unknown token", wrongToken, lookup, codes.Unauthenticated, []string{"token"}},
		{"lookup with read token", readToken, lookup, codes.OK, nil},
		{"lookup with write token", writeToken, lookup, codes.OK, nil},
		{"push without token", "", push, codes.Unauthenticated, []string{"token"}},
		{"push with unknown token", wrongToken, push, codes.Unauthenticated, []string{"token"}},
		{"push with read token", readToken, push, codes.PermissionDenied, []string{"read", "write"}},
		{"push with write token", writeToken, push, codes.OK, nil},
	}
	var messages []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []sdk.Option
			if tt.token != "" {
				opts = append(opts, sdk.WithToken(tt.token))
			}
			err := tt.call(dial(t, env.Addr, opts...))
			if tt.code == codes.OK {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			checkStatus(t, err, tt.code, tt.mentions...)
			messages = append(messages, err.Error())
		})
	}

	t.Run("malformed authorization", func(t *testing.T) {
		for _, header := range []string{readToken, "Basic " + readToken, "Bearer", "Bearer "} {
			conn := rawClient(t, env.Addr)
			ctx := metadataContext(t, "authorization", header)
			_, err := almanacv1.NewFeatureServerClient(conn).GetOnlineFeatures(ctx, &almanacv1.GetOnlineFeaturesRequest{
				Kind:     &almanacv1.GetOnlineFeaturesRequest_FeatureService{FeatureService: servertest.DriverRanking},
				Entities: map[string]*almanacv1.RepeatedValue{"driver_id": {Val: []*almanacv1.Value{int64Val(1001)}}},
			})
			checkStatus(t, err, codes.Unauthenticated)
		}
	})

	t.Run("health without token", func(t *testing.T) {
		resp, err := healthpb.NewHealthClient(rawClient(t, env.Addr)).Check(t.Context(), &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health check: %v, %v; want SERVING", resp, err)
		}
	})

	t.Run("tokens never exposed", func(t *testing.T) {
		metrics, _ := get(t, env.HTTPURL+"/metrics")
		exposed := map[string]string{"logs": logs.String(), "metrics": metrics, "error messages": strings.Join(messages, "\n")}
		for where, text := range exposed {
			for _, token := range []string{readToken, writeToken, wrongToken} {
				if strings.Contains(text, token) {
					t.Errorf("token %q appears in the %s:\n%s", token, where, text)
				}
			}
		}
	})
}

// selfSigned returns a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "almanac test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		IsCA:         true,

		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// TestTLS serves over TLS with a certificate made in the test: an SDK
// client trusting it works (with a token too), a plain-text client and a
// client that does not trust the certificate fail.
func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	env := servertest.Start(t, servertest.Options{
		Auth: server.NewAuth(map[string]server.Scope{readToken: server.ScopeRead}),
		GRPCOptions: []grpc.ServerOption{grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
		}))},
	})
	query := sdk.Query{FeatureService: servertest.DriverRanking, Entities: drivers(1001)}

	t.Run("trusted", func(t *testing.T) {
		c := dial(t, env.Addr, sdk.WithTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}), sdk.WithToken(readToken))
		res, err := c.GetOnlineFeatures(t.Context(), query)
		if err != nil {
			t.Fatal(err)
		}
		if got, st, err := res.Float64(0, "conv_rate"); got != 0.91 || st != sdk.Present || err != nil {
			t.Errorf("conv_rate %v %v, %v", got, st, err)
		}
	})
	t.Run("plain text", func(t *testing.T) {
		c := dial(t, env.Addr, sdk.WithToken(readToken))
		_, err := c.GetOnlineFeatures(t.Context(), query)
		checkStatus(t, err, codes.Unavailable)
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		c := dial(t, env.Addr, sdk.WithTLS(&tls.Config{RootCAs: x509.NewCertPool(), MinVersion: tls.VersionTLS12}), sdk.WithToken(readToken))
		_, err := c.GetOnlineFeatures(t.Context(), query)
		checkStatus(t, err, codes.Unavailable, "certificate")
	})
}

// TestMetrics checks /metrics after a few requests, /healthz and /readyz.
func TestMetrics(t *testing.T) {
	env := servertest.Start(t, servertest.Options{})
	c := dial(t, env.Addr)
	const method = "/almanac.v1.FeatureServer/GetOnlineFeatures"
	for range 2 {
		if _, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: servertest.DriverRanking, Entities: drivers(1001, 1002, 1003)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.GetOnlineFeatures(t.Context(), sdk.Query{Features: []string{"driver_stats:trips"}, Entities: drivers(1001)}); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: "no_such_service", Entities: drivers(1001)})
	checkStatus(t, err, codes.NotFound)
	_, err = c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: servertest.DriverRanking, Entities: sdk.Entities{"driver_id": {"x"}}})
	checkStatus(t, err, codes.InvalidArgument)
	if _, err := c.Push(t.Context(), servertest.PushSource, map[string][]any{"driver_id": {1001, 1002}, "event_ts": {env.Now, env.Now}}); err != nil {
		t.Fatal(err)
	}
	env.Clock.Set(env.Now.Add(90 * time.Second))

	pushSeries := series("almanac_requests_total", "code", "OK", "feature_service", "", "method", "/almanac.v1.FeatureServer/Push")
	eventually(t, pushSeries, func() bool { return scrape(t, env)[pushSeries] == 1 })
	got := scrape(t, env)
	want := map[string]float64{
		series("almanac_requests_total", "code", "OK", "feature_service", servertest.DriverRanking, "method", method):              2,
		series("almanac_requests_total", "code", "OK", "feature_service", "", "method", method):                                    1,
		series("almanac_requests_total", "code", "NotFound", "feature_service", "unknown", "method", method):                       1,
		series("almanac_requests_total", "code", "InvalidArgument", "feature_service", servertest.DriverRanking, "method", method): 1,
		pushSeries: 1,
		series("almanac_request_duration_seconds_count", "feature_service", servertest.DriverRanking, "method", method): 3,
		series("almanac_request_entities_count"):                            3,
		series("almanac_request_entities_sum"):                              7,
		series("almanac_online_store_duration_seconds_count", "op", "read"): 3,
		series("almanac_pushed_rows_total"):                                 2,
		series("almanac_registry_version"):                                  float64(env.Server.Version()),
		series("almanac_registry_reload_failures_total"):                    0,
	}
	for s, w := range want {
		if g, ok := got[s]; !ok || g != w {
			t.Errorf("%s = %v (exposed: %v), want %v", s, g, ok, w)
		}
	}
	for _, view := range []string{"driver_stats", "driver_profile", "driver_embedding", "customer_stats"} {
		if _, ok := got[series("almanac_feature_freshness_seconds", "view", view)]; !ok {
			t.Errorf("no almanac_feature_freshness_seconds for view %s", view)
		}
	}
	for s := range got {
		if strings.Contains(s, "no_such_service") {
			t.Errorf("%s: an unknown service name became a label value", s)
		}
	}
	var buckets int
	for s := range got {
		if strings.HasPrefix(s, "almanac_request_duration_seconds_bucket{") && strings.Contains(s, servertest.DriverRanking) {
			buckets++
		}
	}
	if buckets < 2 {
		t.Errorf("almanac_request_duration_seconds has %d buckets for %s; want a histogram", buckets, servertest.DriverRanking)
	}

	for path, wantBody := range map[string]string{"/healthz": "ok", "/readyz": "ready"} {
		body, code := get(t, env.HTTPURL+path)
		if code != http.StatusOK || !strings.Contains(body, wantBody) {
			t.Errorf("%s: %d %q, want 200 %q", path, code, body, wantBody)
		}
	}
}

// TestFreshness checks almanac_feature_freshness_seconds, per view "now −
// newest materialized event time" (issue 5): with the clock at T+90s, a view
// whose newest row is at T-30m is 30m90s stale, whatever range was
// materialized; a push view is as fresh as its newest pushed row.
func TestFreshness(t *testing.T) {
	env := servertest.Start(t, servertest.Options{})
	c := dial(t, env.Addr)
	if _, err := c.Push(t.Context(), servertest.PushSource, map[string][]any{"driver_id": {1001, 1002}, "event_ts": {env.Now.Add(-time.Minute), env.Now.Add(-10 * time.Second)}}); err != nil {
		t.Fatal(err)
	}
	env.Clock.Set(env.Now.Add(90 * time.Second))
	got := scrape(t, env)
	day := 24 * time.Hour
	for view, newest := range map[string]time.Duration{
		"driver_stats":     30 * time.Minute, // driver 1002; the row at T+1h is not materialized
		"customer_stats":   time.Hour,        // customer 503
		"driver_profile":   2 * day,          // driver 1002
		"driver_embedding": 7 * day,          // drivers 1001 and 1002
		"driver_location":  10 * time.Second, // pushed
	} {
		s := series("almanac_feature_freshness_seconds", "view", view)
		if g, want := got[s], (newest + 90*time.Second).Seconds(); g != want {
			t.Errorf("%s = %v, want %v (newest event at T-%v, clock at T+90s)", s, g, want, newest)
		}
	}
}

// TestHealthAndReflection checks that grpc.health.v1 answers for the
// server and the feature service, and that reflection lists the services,
// so grpcurl works without proto files.
func TestHealthAndReflection(t *testing.T) {
	env := servertest.Start(t, servertest.Options{})
	conn := rawClient(t, env.Addr)
	health := healthpb.NewHealthClient(conn)
	for _, svc := range []string{"", almanacv1.FeatureServer_ServiceDesc.ServiceName} {
		resp, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health of %q: %v, %v; want SERVING", svc, resp, err)
		}
	}

	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{"almanac.v1.FeatureServer", "grpc.health.v1.Health"} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %q, missing %s", names, want)
		}
	}
	stream.CloseSend()

	env.Server.Shutdown()
	resp2, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil || resp2.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health after Shutdown: %v, %v; want NOT_SERVING", resp2, err)
	}
}

// TestGracefulStop stops the gRPC server while lookups are held in the
// online store: GracefulStop waits for them, they all complete with their
// values, and later requests are refused.
func TestGracefulStop(t *testing.T) {
	var gate *gateStore
	env := servertest.Start(t, servertest.Options{
		WrapStore: func(s online.Store) online.Store {
			gate = newGateStore(s)
			return gate
		},
		OnlineTimeout: time.Minute, // the gate holds reads for as long as the test needs
	})
	t.Cleanup(gate.release)
	c := dial(t, env.Addr, sdk.WithTimeout(time.Minute))
	const inFlight = 3
	var wg sync.WaitGroup
	errs := make(chan error, inFlight)
	for range inFlight {
		wg.Go(func() {
			res, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: servertest.DriverRanking, Entities: drivers(1001)})
			if err == nil {
				if got, st, err := res.Float64(0, "conv_rate"); got != 0.91 || st != sdk.Present || err != nil {
					t.Errorf("conv_rate %v %v, %v after drain", got, st, err)
				}
			}
			errs <- err
		})
	}
	for range inFlight {
		<-gate.entered
	}

	env.Server.Shutdown()
	stopped := make(chan struct{})
	go func() { env.GRPC.GracefulStop(); close(stopped) }()
	// Once new connections are refused, GracefulStop is draining; it cannot
	// return while the handlers wait at the gate.
	eventually(t, "new connections refused", func() bool {
		conn, err := grpc.NewClient(env.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, err = healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
		return err != nil
	})
	select {
	case <-stopped:
		t.Fatal("GracefulStop returned with requests in flight")
	case err := <-errs:
		t.Fatalf("a request in flight ended before its read was released: %v", err)
	default:
	}
	gate.release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("request in flight during GracefulStop: %v", err)
		}
	}
	<-stopped

	_, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: servertest.DriverRanking, Entities: drivers(1001)})
	checkStatus(t, err, codes.Unavailable)
}
