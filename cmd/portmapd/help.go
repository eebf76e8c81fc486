package main

import (
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
)

// writeHelp writes app's --help text as urfave/cli v2's AppHelpTemplate
// renders it, without its template engine (see cmdline.go), for an App of
// portmapd's shape: a usage text, flags in categories, no commands, authors
// or copyright. Name and usage, usage text, version, description, then the
// visible flags grouped by category, the uncategorised first, categories
// and flags each in the order of their text, columns aligned by the same
// tabwriter settings. TestHelpMatchesUrfave holds the two equal.
func writeHelp(w io.Writer, app *cli.App) error {
	tw := tabwriter.NewWriter(w, 1, 8, 2, ' ', 0)
	var b strings.Builder
	helpName := app.HelpName
	if helpName == "" {
		helpName = app.Name
	}
	b.WriteString("NAME:\n   " + helpName)
	if app.Usage != "" {
		b.WriteString(" - " + indentLines(app.Usage, len(helpName)+6))
	}
	b.WriteString("\n\nUSAGE:\n   " + indentLines(app.UsageText, 3))
	if app.Version != "" && !app.HideVersion {
		b.WriteString("\n\nVERSION:\n   " + app.Version)
	}
	if app.Description != "" {
		b.WriteString("\n\nDESCRIPTION:\n   " + indentLines(app.Description, 3))
	}
	b.WriteString("\n\nGLOBAL OPTIONS:")
	for _, cat := range flagCategories(app.Flags) {
		b.WriteString("\n   ")
		if cat.name != "" {
			b.WriteString(cat.name + "\n\n   ")
		}
		b.WriteString(strings.Join(cat.flags, "\n   ") + "\n")
	}
	b.WriteString("\n")
	if _, err := io.WriteString(tw, b.String()); err != nil {
		return err
	}
	return tw.Flush()
}

// indentLines is urfave/cli's wrap at its default width (10,000 columns,
// so no line is broken): the lines after the first are indented by offset
// spaces, empty lines left empty.
func indentLines(s string, offset int) string {
	lines := strings.Split(s, "\n")
	pad := strings.Repeat(" ", offset)
	for i := 1; i < len(lines); i++ {
		if lines[i] != "" {
			lines[i] = pad + lines[i]
		}
	}
	return strings.Join(lines, "\n")
}

// flagCategory is one category of the help's flags: its name ("" for the
// flags without one) and the text of each flag, sorted.
type flagCategory struct {
	name  string
	flags []string
}

// flagCategories groups the visible flags by category as urfave/cli does
// when at least one flag has a category: the categories sorted by name (the
// flags without one first, as ""), each flag's text (its String) sorted
// within its category.
func flagCategories(flags []cli.Flag) []flagCategory {
	byName := make(map[string][]string)
	for _, f := range flags {
		if cf, ok := f.(cli.CategorizableFlag); ok && cf.IsVisible() {
			byName[cf.GetCategory()] = append(byName[cf.GetCategory()], f.String())
		}
	}
	out := make([]flagCategory, 0, len(byName))
	for name, texts := range byName {
		sort.Strings(texts)
		out = append(out, flagCategory{name, texts})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}
