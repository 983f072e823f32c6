// Command axon-generate-keys writes a new ed25519 signing key file in Synapse's format
// ("ed25519 a_XXXX <unpadded base64 seed>", written by matrix/signing), the file
// global.private_key_path names. It never overwrites a key: losing a server's key breaks
// its federation.
//
//	axon-generate-keys -out /var/lib/axon/signing.key
//	axon-generate-keys -config axon.yaml   # writes to the config's global.private_key_path
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/matrix/signing"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("axon-generate-keys", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "the key file to write (default: global.private_key_path of -config, or "+config.Defaults("").Global.PrivateKeyPath+")")
	cfgPath := fs.String("config", "", "take the key file path (and key_id) from this config file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %v\n", fs.Args())
		return 2
	}
	cfg, err := config.LoadOrDefaults(*cfgPath, "")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	path := cfg.Global.PrivateKeyPath
	if *out != "" {
		path = *out
	}
	key, err := cfg.NewSigningKey()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := signing.WriteKeyFile(path, key); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s\nkey ID: %s\npublic key: %s\n", path, key.ID, signing.EncodeBase64(key.Public()))
	return 0
}
