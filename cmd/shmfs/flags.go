package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// parseFlags parses args into fl, flags before or after the operands. On
// --help it prints usage and the flags to stdout and reports help; a bad
// flag is an error of one line, with no usage text after it.
func parseFlags(fl *flag.FlagSet, usage string, args []string) (operands []string, help bool, err error) {
	fl.SetOutput(io.Discard)
	fl.Usage = func() {}
	for {
		if err := fl.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Print(usage)
				printFlags(os.Stdout, fl)
				return nil, true, nil
			}
			return nil, false, err
		}
		args = fl.Args()
		if len(args) == 0 {
			return operands, false, nil
		}
		if args[0] == "--" {
			return append(operands, args[1:]...), false, nil
		}
		operands = append(operands, args[0])
		args = args[1:]
	}
}

// printFlags lists the flags as the docs write them, --name, with their
// usage text. A default is shown only for a flag that takes a value and
// says nothing of its default itself: a boolean's usage says what it
// does when given (flag's own "(default true)" for --allow-other, on as
// root, contradicted its text).
func printFlags(w io.Writer, fl *flag.FlagSet) {
	fl.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			name = ""
		}
		head := "  --" + f.Name
		if name != "" {
			head += " " + name
		}
		fmt.Fprintf(w, "%s\n    \t%s", head, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if name != "" && f.DefValue != "" && f.DefValue != "0" && !strings.Contains(usage, "default") {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}
