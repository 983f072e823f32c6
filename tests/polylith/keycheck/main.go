// Command keycheck is the polylith's federation key check (tests/e2e/polylith.sh, issue
// 12): it fetches GET /_matrix/key/v2/server through client-api-proxy (served by
// axon-federation-api with the keys of axon-server-key-api, arrow 11) as another server
// would, and checks that the answer is for the expected server, self-signed, and signed
// with the public half of the key file every binary reads. It retries for up to -wait
// while the proxy's health checks find the federationapi. Exit status 0 only when all holds.
//
//	keycheck -hs http://127.0.0.1:8008 -server localhost -key-file signing.key
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/signing"
)

func main() {
	hs := flag.String("hs", "http://127.0.0.1:8008", "client-api-proxy's base URL")
	server := flag.String("server", "localhost", "the expected server name")
	keyFile := flag.String("key-file", "", "the signing key file (global.private_key_path)")
	wait := flag.Duration("wait", 30*time.Second, "how long to retry")
	flag.Parse()
	deadline := time.Now().Add(*wait)
	for {
		err := check(*hs, *server, *keyFile)
		if err == nil {
			fmt.Println("keycheck: /_matrix/key/v2/server through the proxy is self-signed with the key file's key")
			return
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "keycheck:", err)
			os.Exit(1)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func check(hs, server, keyFile string) error {
	keys, err := signing.LoadKeyFile(keyFile)
	if err != nil || len(keys) == 0 {
		return fmt.Errorf("key file: %v", err)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(hs + "/_matrix/key/v2/server")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, raw)
	}
	k, err := federation.ParseServerKeys(raw)
	if err != nil {
		return err
	}
	if k.ServerName != server {
		return fmt.Errorf("keys of %q, want %q", k.ServerName, server)
	}
	if err := k.VerifySelfSigned(); err != nil {
		return err
	}
	vk, ok := k.VerifyKeys[keys[0].ID]
	if !ok || !bytes.Equal(vk.Key, keys[0].Public()) {
		return fmt.Errorf("%s is not the key file's key: %s", keys[0].ID, raw)
	}
	if _, ok := k.Signatures[server][keys[0].ID]; !ok {
		return fmt.Errorf("not signed with %s: %s", keys[0].ID, raw)
	}
	return nil
}
