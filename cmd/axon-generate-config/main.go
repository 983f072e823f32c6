// Command axon-generate-config prints (or writes) a fully commented Axon configuration file
// with every key at its default (internal/config.Generate; reference in docs/config.md),
// except client_api.registration_shared_secret, which gets a new random secret each time:
// axon-create-account uses it to create accounts on the running server.
//
//	axon-generate-config -server-name example.org -data-dir /var/lib/axon > axon.yaml
//	axon-generate-config -server-name example.org -out axon.yaml
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/axon-matrix/axon/internal/config"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("axon-generate-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	serverName := fs.String("server-name", "localhost", "the server name (global.server_name)")
	dataDir := fs.String("data-dir", config.DefaultDataDir, "where the server keeps its files (global.data_dir)")
	out := fs.String("out", "", "write the config to this file instead of standard output (never overwrites)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %v\n", fs.Args())
		return 2
	}
	// A fresh shared secret each time, so axon-create-account can create the first
	// (admin) account on the running server.
	raw := config.Generate(*serverName, *dataDir, config.WithRegistrationSharedSecret(config.NewSecret()))
	c, err := config.Parse(raw)
	if err == nil {
		err = c.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "invalid settings:\n%v\n", err)
		return 1
	}
	if *out == "" {
		if _, err := stdout.Write(raw); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
	if err := writeNew(*out, raw); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stderr, "wrote %s\n", *out)
	return 0
}

// writeNew writes data to a file that must not exist yet.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists; not overwriting it", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
