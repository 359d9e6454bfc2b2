package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
)

// print writes the report as a table, or as JSON with --json.
func (b *bench) print(rep *Report) error {
	if b.cfg.json {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	m := rep.Machine
	fmt.Printf("shmfs bench, %s: %s, %d cores, %d MiB, %s, %s\n", rep.Date, m.CPU, m.Cores, m.MemoryMiB, m.Kernel, m.Go)
	fmt.Printf("segment I/O %s; median of %d runs; ratio = shmfs ÷ kernel (median of per-run ratios)\n\n", rep.Config.SegmentIO, rep.Config.Runs)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "operation\tshmfs\tkernel\tkernel path\tratio\ttarget\t")
	for _, r := range rep.Rows {
		kern, ratio := "", ""
		if r.Kernel != nil {
			kern = num(*r.Kernel) + " " + r.Unit
		}
		if r.Ratio != nil {
			ratio = num(*r.Ratio)
		}
		verdict := ""
		if r.Met != nil {
			verdict = "ok"
			if !*r.Met {
				verdict = "MISSED"
			}
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\t%s\t%s %s\t\n", r.Op, num(r.Shmfs), r.Unit, kern, r.KernelPath, ratio, r.Target, verdict)
	}
	tw.Flush()
	if len(rep.Floors) > 0 {
		fmt.Printf("\nfloors: what every FUSE server pays here (median of %d runs)\n", rep.Config.Runs)
		tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
		for _, f := range rep.Floors {
			fmt.Fprintf(tw, "%s\t%s µs\t\n", f.Name, num(f.Us))
		}
		tw.Flush()
	}
	fmt.Printf("\nload average %s at the start, %s at the end; %.0f s\n", m.LoadStart, m.LoadEnd, rep.Seconds)
	for _, n := range rep.Notes {
		fmt.Println("note:", n)
	}
	return nil
}

// num shows three significant digits, or all of a larger integer part.
func num(v float64) string {
	a := v
	if a < 0 {
		a = -a
	}
	switch {
	case a == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return strings.TrimSuffix(fmt.Sprintf("%.3f", v), "0")
	}
}
