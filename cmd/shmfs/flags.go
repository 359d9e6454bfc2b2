package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
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
				fl.SetOutput(os.Stdout)
				fl.PrintDefaults()
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
