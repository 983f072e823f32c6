// Command axon-create-account creates a user account (an admin with -admin), the way to
// make the first account of a server whose registration is closed. Two ways:
//
//   - against a running server (the default): Synapse's shared-secret registration at
//     /_synapse/admin/v1/register (a single-use nonce, then an HMAC-SHA1 of the request
//     keyed with client_api.registration_shared_secret), which the clientapi serves;
//     the URL and the secret come from the config file, -url and -shared-secret-file;
//   - -direct: straight into the userapi's database, through the userapi's own code
//     (userapi.NewInternalAPI over the database the config names), with no server
//     running or with one running on the same database.
//
// Without -password-file it asks for the password on the terminal, without echo, twice;
// when standard input is not a terminal it reads one line from it instead.
//
//	axon-create-account -config axon.yaml -user alice -admin
//	axon-create-account -config axon.yaml -user bob -password-file pw.txt
//	echo "$PW" | axon-create-account -config axon.yaml -user bob -password-file -
//	axon-create-account -config axon.yaml -direct -user alice -admin
//	axon-create-account -url https://matrix.example.org -shared-secret-file secret.txt -user carol
//
// Exit status: 0 created, 1 refused or failed (the reason on standard error), 2 bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/axon-matrix/axon/internal/config"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// options are the command-line flags.
type options struct {
	configPath       string
	url              string
	sharedSecretFile string
	user             string
	displayName      string
	admin            bool
	passwordFile     string
	direct           bool
	timeout          time.Duration
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("axon-create-account", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.StringVar(&o.configPath, "config", "", "the server's config file: its URL and registration_shared_secret, or with -direct its databases")
	fs.StringVar(&o.url, "url", "", "the server's client API base URL (default: client_api.public_base_url, else the monolith's http_bind on localhost)")
	fs.StringVar(&o.sharedSecretFile, "shared-secret-file", "", "read the registration shared secret from this file instead of the config")
	fs.StringVar(&o.user, "user", "", "the new user's localpart (or full @localpart:server ID); required")
	fs.StringVar(&o.displayName, "display-name", "", "the new user's display name (default: the localpart)")
	fs.BoolVar(&o.admin, "admin", false, "make the user a server admin")
	fs.StringVar(&o.passwordFile, "password-file", "", `read the password from the first line of this file ("-": standard input) instead of asking`)
	fs.BoolVar(&o.direct, "direct", false, "write to the database the config names instead of calling the running server")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	case o.user == "":
		return nil, errors.New("-user is required")
	case o.direct && o.configPath == "":
		return nil, errors.New("-direct needs -config (the databases to write to)")
	case o.direct && (o.url != "" || o.sharedSecretFile != ""):
		return nil, errors.New("-direct writes to the database: -url and -shared-secret-file do not apply")
	case !o.direct && o.configPath == "" && (o.url == "" || o.sharedSecretFile == ""):
		return nil, errors.New("give -config, or -url and -shared-secret-file")
	case o.timeout <= 0:
		return nil, errors.New("-timeout must be positive")
	}
	return o, nil
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "axon-create-account:", err)
		return 2
	}
	userID, err := create(o, stdin, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "axon-create-account:", err)
		return 1
	}
	kind := "user"
	if o.admin {
		kind = "admin"
	}
	fmt.Fprintf(stdout, "created %s %s\n", kind, userID)
	return 0
}

// account is what create makes.
type account struct {
	localpart, password, displayName string
	admin                            bool
}

// create reads the config and the password and creates the account one way or the other.
func create(o *options, stdin io.Reader, prompt io.Writer) (string, error) {
	var cfg *config.Config
	if o.configPath != "" {
		c, err := config.Load(o.configPath)
		if err == nil {
			err = c.Validate()
		}
		if err != nil {
			return "", err
		}
		cfg = c
	}
	localpart, err := localpartOf(o.user, cfg)
	if err != nil {
		return "", err
	}
	// Everything that can be refused without the password is checked before asking for it.
	var reg *remote
	if !o.direct {
		if reg, err = newRemote(o, cfg); err != nil {
			return "", err
		}
	}
	password, err := readPassword(o.passwordFile, stdin, prompt)
	if err != nil {
		return "", err
	}
	acc := account{localpart: localpart, password: password, displayName: o.displayName, admin: o.admin}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	if o.direct {
		return createDirect(ctx, cfg, acc)
	}
	return reg.register(ctx, acc)
}

// localpartOf accepts a localpart or a full user ID of this server (when the config says
// which that is), and lower-cases it as registration does.
func localpartOf(user string, cfg *config.Config) (string, error) {
	if strings.HasPrefix(user, "@") {
		local, server, ok := strings.Cut(user[1:], ":")
		if !ok || local == "" {
			return "", fmt.Errorf("-user %q: want a localpart or @localpart:server", user)
		}
		if cfg != nil && server != cfg.Global.ServerName {
			return "", fmt.Errorf("-user %q: this server is %q", user, cfg.Global.ServerName)
		}
		user = local
	}
	return strings.ToLower(user), nil
}
