package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// maxPasswordLength is the longest password registration accepts (as the clientapi).
const maxPasswordLength = 512

// readPassword returns the new account's password: the first line of file ("-": of
// stdin) when file is set; otherwise asked on the terminal without echo, twice, when stdin
// is one; otherwise the first line of stdin (for scripts that pipe it in).
func readPassword(file string, stdin io.Reader, prompt io.Writer) (string, error) {
	var pw string
	var err error
	switch {
	case file == "-":
		pw, err = firstLine(stdin, "standard input")
	case file != "":
		var f *os.File
		if f, err = os.Open(file); err != nil {
			return "", fmt.Errorf("-password-file: %w", err)
		}
		pw, err = firstLine(f, file)
		f.Close()
	default:
		if t, ok := stdin.(*os.File); ok && term.IsTerminal(int(t.Fd())) {
			pw, err = askTwice(int(t.Fd()), prompt)
		} else {
			pw, err = firstLine(stdin, "standard input (not a terminal, so the password is read from it)")
		}
	}
	if err != nil {
		return "", err
	}
	switch {
	case pw == "":
		return "", errors.New("the password is empty")
	case len(pw) > maxPasswordLength:
		return "", fmt.Errorf("the password is longer than %d bytes", maxPasswordLength)
	}
	return pw, nil
}

// firstLine reads up to the first newline (dropping it and a carriage return before it).
func firstLine(r io.Reader, what string) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, maxPasswordLength+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from %s: %w", what, err)
	}
	if line == "" && errors.Is(err, io.EOF) {
		return "", fmt.Errorf("no password on %s", what)
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

// askTwice asks for the password on the terminal fd without echo, then for it again.
func askTwice(fd int, prompt io.Writer) (string, error) {
	ask := func(label string) ([]byte, error) {
		fmt.Fprint(prompt, label)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt)
		if err != nil {
			return nil, fmt.Errorf("reading the password: %w", err)
		}
		return b, nil
	}
	first, err := ask("Password: ")
	if err != nil {
		return "", err
	}
	second, err := ask("Confirm password: ")
	if err != nil {
		return "", err
	}
	if !bytes.Equal(first, second) {
		return "", errors.New("the passwords do not match")
	}
	return string(first), nil
}
