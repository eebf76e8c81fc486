package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// row is one line of the comparison table: a figure measured for the
// reference (twice per round: before and after ours) and for ours.
type row struct {
	Name   string    `json:"name"`
	Unit   string    `json:"unit"`
	Higher bool      `json:"higher_is_better"`
	Ref    []float64 `json:"ref"`  // per round, measured before ours
	Ours   []float64 `json:"ours"` // per round
	Ref2   []float64 `json:"ref2"` // per round, measured after ours
	// OursSeed is, for a load row of the large registry, ours on the seed
	// registry (a second portmapd) per round, measured right after Ours:
	// what the row keeps of the seed figure, without the drift of a shared
	// machine between the seed rows and these.
	OursSeed []float64 `json:"ours_seed,omitempty"`
	RefBy    string    `json:"ref_by"`
	OursBy   string    `json:"ours_by"`
	Target   string    `json:"target"`
	// MaxRatio or MinRatio is the target as a ratio ours/ref (0: none).
	MaxRatio, MinRatio float64 `json:"-"`
	// WithinNoise lets ours exceed MaxRatio by as much as the reference
	// differed from itself: only where the target says so (issue #10's
	// "within the measured noise"); every other target is a plain bound.
	WithinNoise bool `json:"-"`
	// Limit is an absolute target for ours (MaxRatio and MinRatio unused).
	Limit   float64 `json:"-"`
	Pending string  `json:"pending,omitempty"` // why ours was not measured
	Failed  string  `json:"failed,omitempty"`  // why the row stopped
	Bound   string  `json:"bound,omitempty"`   // what limited the figures

	spec loadSpec // what a load row calls
	// seed is, for a load row of the large registry, the same row on the
	// seed registry: ours must keep 90% of its figure there.
	seed *row
	args []string // what an rpcinfo row runs, after the program's name
	rss  bool     // an rpcinfo row's figure is the peak RSS, not the wall time
}

// median returns the median of v (NaN for none).
func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ratios returns, per round, ours over the mean of the two reference runs
// around it, and the reference's second run over its first (the noise).
func (r *row) ratios() (ours, noise []float64) {
	for i := range r.Ref {
		ref := r.Ref[i]
		if i < len(r.Ref2) {
			ref = (r.Ref[i] + r.Ref2[i]) / 2
			if r.Ref[i] > 0 {
				noise = append(noise, r.Ref2[i]/r.Ref[i])
			}
		}
		if i < len(r.Ours) && ref > 0 {
			ours = append(ours, r.Ours[i]/ref)
		}
	}
	return ours, noise
}

// verdict says whether ours meets the row's target.
func (r *row) verdict() string {
	switch {
	case r.Failed != "":
		return "failed"
	case r.Pending != "" || len(r.Ours) == 0:
		return "pending"
	case r.Target == "":
		return "-"
	}
	ours, noise := r.ratios()
	ratio := median(ours)
	lo, hi := spread(noise)
	met := true
	switch {
	case r.Limit > 0:
		met = median(r.Ours) <= r.Limit
	case r.MinRatio > 0:
		met = ratio >= r.MinRatio
	case r.MaxRatio > 0 && r.WithinNoise:
		// "Within the measured noise": the ratio may exceed the target by
		// as much as the reference differed from itself.
		met = ratio <= r.MaxRatio*max(hi, 1/lo, 1)
	case r.MaxRatio > 0:
		met = ratio <= r.MaxRatio
	}
	if kept, ok := r.kept(); met && ok && kept < 0.9 {
		return fmt.Sprintf("ratio met; keeps %.0f%% of the seed figure, not 90%%", 100*kept)
	}
	if met {
		return "met"
	}
	if r.MinRatio > 0 {
		return fmt.Sprintf("missed by %.0f%%", 100*(1-ratio/r.MinRatio))
	}
	if r.MaxRatio > 0 {
		return fmt.Sprintf("missed by %.0f%%", 100*(ratio/r.MaxRatio-1))
	}
	return fmt.Sprintf("missed by %.0f%%", 100*(median(r.Ours)/r.Limit-1))
}

// kept returns what a large-registry load row keeps of ours on the seed
// registry: the median over the rounds of Ours over OursSeed, measured
// side by side; without those, the median of Ours over the seed row's.
func (r *row) kept() (float64, bool) {
	var per []float64
	for i := range min(len(r.Ours), len(r.OursSeed)) {
		if r.OursSeed[i] > 0 {
			per = append(per, r.Ours[i]/r.OursSeed[i])
		}
	}
	if len(per) > 0 {
		return median(per), true
	}
	if r.seed != nil && len(r.seed.Ours) > 0 {
		return median(r.Ours) / median(r.seed.Ours), true
	}
	return 0, false
}

// spread returns the least and greatest of v (1, 1 for none).
func spread(v []float64) (lo, hi float64) {
	if len(v) == 0 {
		return 1, 1
	}
	return slices.Min(v), slices.Max(v)
}

// format renders v in the row's unit.
func (r *row) format(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	switch r.Unit {
	case "calls/s":
		return fmt.Sprintf("%.0f", v)
	case "ms":
		return fmt.Sprintf("%.2f", v)
	case "MiB":
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// writeTable writes the rows as a Markdown table.
func writeTable(w io.Writer, rows []*row) {
	fmt.Fprintln(w, "| figure | unit | reference | ours | ours/ref | ref/ref (noise) | target | verdict | bound |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, r := range rows {
		ours, noise := r.ratios()
		oursCell, ratioCell := r.format(median(r.Ours)), "-"
		if len(ours) > 0 {
			ratioCell = fmt.Sprintf("%.2f", median(ours))
		}
		if r.Pending != "" {
			oursCell = "pending"
		}
		noiseCell := "-"
		if len(noise) > 0 {
			lo, hi := spread(noise)
			noiseCell = fmt.Sprintf("%.2f (%.2f-%.2f)", median(noise), lo, hi)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.Name, r.Unit, r.format(median(r.Ref)), oursCell, ratioCell, noiseCell,
			orDash(r.Target), r.verdict(), orDash(r.Bound))
	}
}

// writeNotes writes, per row, why ours is pending or the row failed, and
// the commands behind it.
func writeNotes(w io.Writer, rows []*row) {
	for _, r := range rows {
		var notes []string
		if r.Pending != "" {
			notes = append(notes, "ours pending: "+r.Pending)
		}
		if r.Failed != "" {
			notes = append(notes, "failed: "+r.Failed)
		}
		if r.RefBy != "" {
			notes = append(notes, "reference: "+r.RefBy)
		}
		if r.OursBy != "" {
			notes = append(notes, "ours: "+r.OursBy)
		}
		if k, ok := r.kept(); ok && len(r.OursSeed) > 0 {
			notes = append(notes, fmt.Sprintf("ours on the seed registry in the same rounds: %s %s, of which this keeps %.0f%% (median of the rounds)",
				r.format(median(r.OursSeed)), r.Unit, 100*k))
		}
		if len(notes) > 0 {
			fmt.Fprintf(w, "- %s: %s\n", r.Name, strings.Join(notes, "; "))
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
