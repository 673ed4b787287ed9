package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/exec/rlmrest"
	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/sqlite"
)

// BenchmarkServeDirect drives an in-process radmfa serve over HTTP with
// valid codes for distinct users (run with -cpuprofile to see where a
// decision's time goes; scripts/bench core measures the real thing).
func BenchmarkServeDirect(b *testing.B) {
	dir := b.TempDir()
	db := filepath.Join(dir, "radmfa.db")
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: db}, sqlite.Options{Create: true})
	if err != nil {
		b.Fatal(err)
	}
	dev := mfa.Device{Name: "totp1", Kind: mfa.DeviceTOTP, Algorithm: "SHA1", Digits: 6, Period: 30, Secret: mfa.Secret("12345678901234567890")}
	const users = 100000
	names, devs := make([]string, users), make([]mfa.Device, users)
	for i := range names {
		names[i], devs[i] = fmt.Sprintf("d%d", i), dev
	}
	if err := st.ImportUsers(context.Background(), "bench", names, devs); err != nil {
		b.Fatal(err)
	}
	st.Close()
	cfg := &config{DataDir: dir}
	cfg.Store.Path = db
	cfg.Serve.Listen = []string{"127.0.0.1:0"}
	s, err := startServer(context.Background(), cfg, zerolog.Nop(), serverOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.shutdown(5e9)
	url := "http://" + s.listeners[0].Addr().String() + "/radius/authorize?client=bench"
	code := aliceCodeB(dev)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	var next atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) % users
			body, _ := rlmrest.EncodeRequest(mfa.Request{UserName: fmt.Sprintf("d%d", i), Passcode: mfa.Secret(code)}, rlmrest.Packet{})
			resp, err := client.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

func aliceCodeB(dev mfa.Device) string {
	c, _ := mfa.Code(dev, mfa.Step(dev, timeNow()))
	return c
}

var timeNow = time.Now
