// Command axon-generate-keys writes a new ed25519 signing key file in Synapse's format
// ("ed25519 a_XXXX <unpadded base64 seed>", written by matrix/signing), the file
// global.private_key_path names. A key that is already there is kept: it says so, prints
// the key's ID and exits 0, so a setup script can run it on every deployment. -force
// replaces the key (after a warning, keeping the old file beside it as
// <file>.replaced-<unix time>): remote servers then have to fetch the new key, and events
// signed with the old one can only be checked while they still have it.
//
//	axon-generate-keys -out /var/lib/axon/signing.key
//	axon-generate-keys -config axon.yaml   # writes to the config's global.private_key_path
//	axon-generate-keys -config axon.yaml -force
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"strconv"
	"time"

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
	force := fs.Bool("force", false, "replace an existing key file (the old one is kept as <file>.replaced-<unix time>)")
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
	if _, err := os.Stat(path); err == nil && !*force {
		return keep(cfg, path, stdout, stderr)
	} else if err != nil && !errors.Is(err, iofs.ErrNotExist) {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *force && cfg.Global.KeyID != "" {
		if _, err := os.Stat(path); err == nil {
			fmt.Fprintf(stderr, "-force with global.key_id %q would give the new key the old key's ID, which remote servers "+
				"would take for the old key: set key_id to \"\" (a new random ID) or to a new ID first\n", cfg.Global.KeyID)
			return 1
		}
	}
	key, err := cfg.NewSigningKey()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *force {
		backup, err := replaceKeyFile(path, key)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if backup != "" {
			fmt.Fprintf(stderr, "WARNING: replaced the signing key in %s; the old key is in %s. Remote servers must fetch the new key, "+
				"and events signed with the old one can only be checked while they still have it: keep the old file.\n", path, backup)
		}
	} else if err := signing.WriteKeyFile(path, key); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s\nkey ID: %s\npublic key: %s\n", path, key.ID, signing.EncodeBase64(key.Public()))
	return 0
}

// keep reports the key already in path and exits 0, unless the file is not a key file or
// its ID is not the config's global.key_id (the server would refuse to start with it).
func keep(cfg *config.Config, path string, stdout, stderr io.Writer) int {
	keys, err := signing.LoadKeyFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "%s exists but is not a usable key file (%v); not touching it (-force replaces it)\n", path, err)
		return 1
	}
	k := keys[0]
	if want := cfg.Global.KeyID; want != "" && signing.KeyID(want) != k.ID {
		fmt.Fprintf(stderr, "%s holds key %s, but global.key_id is %q: set key_id to %q (or empty), or replace the key with -force\n",
			path, k.ID, want, k.ID)
		return 1
	}
	fmt.Fprintf(stdout, "keeping the existing key in %s (-force replaces it)\nkey ID: %s\npublic key: %s\n",
		path, k.ID, signing.EncodeBase64(k.Public()))
	return 0
}

// replaceKeyFile writes key to path; an existing file is first renamed to
// path.replaced-<unix time>, whose name it returns ("" when there was none).
func replaceKeyFile(path string, key signing.SigningKey) (backup string, err error) {
	tmp := path + ".new"
	_ = os.Remove(tmp)
	if err := signing.WriteKeyFile(tmp, key); err != nil {
		return "", err
	}
	if _, err := os.Stat(path); err == nil {
		backup = path + ".replaced-" + strconv.FormatInt(time.Now().Unix(), 10)
		if err := os.Link(path, backup); err != nil {
			os.Remove(tmp)
			return "", fmt.Errorf("keeping the old key: %w", err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return backup, nil
}
