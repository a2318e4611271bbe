package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// loader collects the problems found while reading one configuration.
type loader struct {
	file     string
	sources  map[string]string
	problems []Problem
	lines    map[string]int // key path -> line in the file, for ordering problems
}

func (l *loader) add(key, msg, hint string) {
	l.problems = append(l.problems, Problem{File: l.source(key), Key: key, Message: msg, Hint: hint})
}

func (l *loader) source(key string) string {
	return sourceFor(l.file, l.sources, key)
}

// parse is Load on bytes. name is what problems call the file; useEnv
// applies the MXGUARD_* environment variables.
//
// What happens, in order:
//  1. the YAML is parsed into nodes (syntax errors stop here, with a
//     line); scalars of string-typed keys are kept as written, so that
//     socket_mode: 0660 stays "0660" and timeout: 5 stays "5";
//  2. values of the wrong shape (a list where a mapping belongs, ...) are
//     reported and dropped, because viper would silently merge them;
//  3. viper layers defaults, the file and the environment;
//  4. every key's value is converted to its type; a value that does not
//     convert is reported and replaced by the default;
//  5. UnmarshalExact decodes the result; unknown keys are reported with
//     their path and a suggestion, instead of mapstructure's "'dns' has
//     invalid keys: servrs";
//  6. the restriction list items are parsed, warn_if_reject is applied;
//  7. Validate checks the meaning of everything.
func parse(name string, data []byte, useEnv bool) (*Config, error) {
	l := &loader{file: name, sources: map[string]string{}, lines: map[string]int{}}
	raw, ok := l.readYAML(data)
	if !ok {
		return nil, &Errors{Problems: l.problems}
	}
	l.checkShape(raw)

	v := viper.New()
	for _, k := range schema {
		v.SetDefault(k.key, k.def)
	}
	if useEnv {
		v.SetEnvPrefix("MXGUARD")
		v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
		v.AutomaticEnv()
		for _, k := range schema {
			if s, ok := os.LookupEnv(envName(k.key)); ok && s != "" {
				l.sources[k.key] = "$" + envName(k.key)
			}
		}
		var classes map[string]any
		for k, val := range raw {
			if strings.EqualFold(k, "classes") {
				classes = mapOf(val)
			}
		}
		for class := range classes {
			key := "classes." + strings.ToLower(class)
			if s, ok := os.LookupEnv(envName(key)); ok && s != "" {
				l.sources[key] = "$" + envName(key)
			}
		}
	}
	if err := v.MergeConfigMap(raw); err != nil {
		l.add("", err.Error(), "")
		return nil, &Errors{Problems: l.problems}
	}

	for _, k := range schema {
		if k.kind == kindRestrictions {
			continue
		}
		got := v.Get(k.key)
		if got == nil {
			// Only when an environment variable named after a section
			// (MXGUARD_DNS, MXGUARD_AUTH_SPF) shadows the key: viper then
			// finds nothing, not even the file's value.
			var ok bool
			if got, ok = lookupRaw(raw, k.key); !ok {
				v.Set(k.key, k.def)
				continue
			}
		}
		val, msg, hint := coerce(k.kind, got)
		if msg != "" {
			l.add(k.key, msg, hint)
			val = k.def
		}
		v.Set(k.key, val)
	}

	c := &Config{}
	if err := v.UnmarshalExact(c, viper.DecodeHook(restrictionHook)); err != nil {
		// mapstructure reports unknown keys as "'dns' has invalid keys:
		// servrs" (spf13/viper#1724), and fills Metadata.Unused only when
		// it does not fail; so decode again, leniently, to learn their
		// full paths.
		c = &Config{}
		var md mapstructure.Metadata
		err2 := v.Unmarshal(c, viper.DecodeHook(restrictionHook),
			func(dc *mapstructure.DecoderConfig) { dc.Metadata = &md })
		if err2 != nil || len(md.Unused) == 0 {
			l.add("", "cannot decode the configuration: "+err.Error(), "")
			return nil, &Errors{Problems: l.problems}
		}
		sort.Strings(md.Unused)
		for _, k := range md.Unused {
			l.add(k, fmt.Sprintf("unknown key %q", k), suggestKey(k))
		}
	}
	c.file = name
	c.sources = l.sources

	classes := map[string]bool{}
	for n := range c.Classes {
		classes[n] = true
	}
	for _, list := range restrictionLists {
		p := c.list(list)
		*p = l.parseList(list, *p, classes)
	}
	for _, n := range sortedKeys(c.Classes) {
		c.Classes[n] = l.parseList("classes."+n, c.Classes[n], classes)
	}

	all := l.inFileOrder(append(l.problems, c.Validate()...))
	var warnings []Problem
	fatal := false
	for _, p := range all {
		if p.Warning {
			warnings = append(warnings, p)
		} else {
			fatal = true
		}
	}
	if fatal {
		return nil, &Errors{Problems: all}
	}
	c.Warnings = warnings
	c.normalize()
	return c, nil
}

// list returns a pointer to the stage list named name.
func (c *Config) list(name string) *[]Restriction {
	switch name {
	case "client":
		return &c.Client
	case "helo":
		return &c.Helo
	case "sender":
		return &c.Sender
	case "recipient":
		return &c.Recipient
	}
	return nil
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// readYAML parses data into a map with viper's conventions, reporting
// syntax errors with their line.
func (l *loader) readYAML(data []byte) (raw map[string]any, ok bool) {
	defer func() {
		// The YAML parser is third-party code fed by the user; a panic in
		// it is a problem with the file, not a crash.
		if x := recover(); x != nil {
			l.problems = append(l.problems, Problem{File: l.file, Message: fmt.Sprintf("cannot parse YAML: %v", x)})
			raw, ok = nil, false
		}
	}()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		l.yamlError(err)
		return nil, false
	}
	raw = map[string]any{}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return raw, true // empty file: all defaults
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return raw, true
	}
	if root.Kind != yaml.MappingNode {
		l.problems = append(l.problems, Problem{File: l.file, Line: root.Line,
			Message: "the configuration must be a mapping of keys to values",
			Hint:    "start with a key, e.g. listen: inet:127.0.0.1:8891"})
		return nil, false
	}
	markStrings(root)
	l.recordLines(root)
	if err := doc.Decode(&raw); err != nil {
		l.yamlError(err)
		return nil, false
	}
	if raw == nil {
		raw = map[string]any{}
	}
	return raw, true
}

func (l *loader) yamlError(err error) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, m := range msgs {
		p := Problem{File: l.file, Message: strings.TrimPrefix(m, "yaml: ")}
		if mm := yamlLineRE.FindStringSubmatch(m); mm != nil {
			p.Line, _ = strconv.Atoi(mm[1])
			p.Message = mm[2]
		}
		p.Message = "YAML: " + p.Message
		l.problems = append(l.problems, p)
	}
}

// recordLines notes where the keys, sections and list items are, at
// every depth, so that problems can be reported in the order of the file.
func (l *loader) recordLines(root *yaml.Node) {
	l.recordSection("", root)
}

func (l *loader) recordSection(section string, m *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		key := joinKey(section, strings.ToLower(m.Content[i].Value))
		l.lines[key] = m.Content[i].Line
		switch val := m.Content[i+1]; {
		case val.Kind == yaml.SequenceNode:
			for j, item := range val.Content {
				l.lines[fmt.Sprintf("%s[%d]", key, j)] = item.Line
			}
		case val.Kind == yaml.MappingNode && sections[key]:
			l.recordSection(key, val)
		}
	}
}

// inFileOrder sorts problems by the line of their key in the file; those
// about values from the environment or the defaults keep their order,
// after the others.
func (l *loader) inFileOrder(ps []Problem) []Problem {
	line := func(p Problem) int {
		if p.Line > 0 {
			return p.Line
		}
		if p.File != l.file {
			return math.MaxInt
		}
		k := p.Key
		for k != "" {
			if n, ok := l.lines[k]; ok {
				return n
			}
			i := strings.LastIndexAny(k, ".[")
			if i < 0 {
				break
			}
			k = k[:i]
		}
		if p.Key == "" {
			return 0
		}
		return math.MaxInt
	}
	sort.SliceStable(ps, func(i, j int) bool { return line(ps[i]) < line(ps[j]) })
	return ps
}

// markStrings tags the scalars of string-typed keys, and every scalar in
// restriction lists, as strings, so that they reach us as written: YAML
// would read socket_mode: 0660 as the number 432, timeout: 5 as 5
// (nanoseconds, once decoded), and text: 1e3 as 1000.
func markStrings(root *yaml.Node) {
	markSection("", root)
}

// markSection is markStrings for the mapping m at the key path section
// ("" for the top level).
func markSection(section string, m *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		key := joinKey(section, strings.ToLower(m.Content[i].Value))
		val := m.Content[i+1]
		switch {
		case key == "classes":
			if val.Kind == yaml.MappingNode {
				for j := 1; j < len(val.Content); j += 2 {
					markAll(val.Content[j])
				}
			}
		case sections[key]:
			if val.Kind == yaml.MappingNode {
				markSection(key, val)
			}
		default:
			markKey(key, val)
		}
	}
}

func markKey(key string, val *yaml.Node) {
	k, ok := schemaKey(key)
	if !ok {
		return
	}
	switch k.kind {
	case kindString, kindDuration:
		markScalar(val)
	case kindStrings:
		markScalar(val)
		if val.Kind == yaml.SequenceNode {
			for _, n := range val.Content {
				markScalar(n)
			}
		}
	case kindRestrictions:
		markAll(val)
	}
}

func markScalar(n *yaml.Node) {
	// Explicit tags (!!binary ...) are left alone: only the implicit
	// guess is overridden.
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" && n.Tag != "!!str" && n.Style&yaml.TaggedStyle == 0 {
		n.Tag = "!!str"
	}
}

func markAll(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode {
		markScalar(n)
		return
	}
	if n.Kind == yaml.AliasNode {
		return // the anchor is marked (or not) where it is defined
	}
	for _, c := range n.Content {
		markAll(c)
	}
}

// checkShape reports and removes values whose shape viper would merge
// silently or wrongly: a scalar where a section belongs, a mapping where a
// value belongs, class names that viper would split at a dot. Empty values
// are removed: they mean the default.
func (l *loader) checkShape(raw map[string]any) {
	l.checkSection("", raw)
}

// checkSection is checkShape for the mapping m at the key path section
// ("" for the top level).
func (l *loader) checkSection(section string, m map[string]any) {
	for _, key := range sortedKeys(m) {
		val := m[key]
		full := joinKey(section, strings.ToLower(key))
		_, known := schemaKey(full)
		if val == nil {
			if !known && !sections[full] {
				// viper drops it: mapstructure would never see it.
				l.add(full, fmt.Sprintf("unknown key %q", full), suggestKey(full))
			}
			delete(m, key) // an empty value is the default
			continue
		}
		switch {
		case full == "classes":
			if cm := l.checkClasses(val); cm != nil {
				m[key] = cm
			} else {
				delete(m, key)
			}
		case sections[full]:
			sub := mapOf(val)
			if sub == nil {
				l.add(full, "must be a mapping of keys, not "+describe(val), sectionHint(full))
				delete(m, key)
				continue
			}
			l.checkSection(full, sub)
			m[key] = sub
		default:
			switch {
			case known && isMap(val):
				l.add(full, "must be a single value or a list, not a mapping", "")
				delete(m, key)
			case !known && isMap(val) && !hasValue(val):
				// viper drops a mapping without values, so mapstructure
				// would never see the unknown key.
				l.add(full, fmt.Sprintf("unknown key %q", full), suggestKey(full))
				delete(m, key)
			}
		}
	}
}

// lookupRaw finds the value of the key path key in the file's mapping,
// ignoring the case of the keys as viper does.
func lookupRaw(raw map[string]any, key string) (any, bool) {
	var cur any = raw
	for part := range strings.SplitSeq(key, ".") {
		m := mapOf(cur)
		if m == nil {
			return nil, false
		}
		found := false
		for k, val := range m {
			if strings.EqualFold(k, part) {
				cur, found = val, true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	return cur, cur != nil
}

// hasValue says whether v, a mapping, holds a value other than mappings
// and empty values at some depth: viper keeps only those.
func hasValue(v any) bool {
	for _, x := range mapOf(v) {
		if x != nil && (!isMap(x) || hasValue(x)) {
			return true
		}
	}
	return false
}

// checkClasses checks the shape of classes:, returning the classes that
// can be kept, or nil when classes: is not a mapping.
func (l *loader) checkClasses(val any) map[string]any {
	m := mapOf(val)
	if m == nil {
		l.add("classes", "must be a mapping of class names to restriction lists, not "+describe(val),
			"write classes: {strict: [unknown_client_hostname]}")
		return nil
	}
	for _, name := range sortedKeys(m) {
		ck := "classes." + strings.ToLower(name)
		switch cv := m[name].(type) {
		case nil:
			m[name] = []any{} // an empty class; viper would drop a nil
		case []any, string:
		default:
			l.add(ck, "must be a restriction list, not "+describe(cv), "")
			delete(m, name)
			continue
		}
		if !classNameRE.MatchString(strings.ToLower(name)) {
			l.add(ck, fmt.Sprintf("%q is not a valid class name", name),
				"use lower-case letters, digits, _ and -, starting with a letter or digit")
			delete(m, name)
		}
	}
	return m
}

// sectionHint lists the keys directly inside section, subsections
// included: "its keys are authserv_id, authserv_aliases, spf, dkim, dmarc".
func sectionHint(section string) string {
	var keys []string
	seen := map[string]bool{}
	for _, k := range schema {
		rest, ok := strings.CutPrefix(k.key, section+".")
		if !ok {
			continue
		}
		child, _, _ := strings.Cut(rest, ".")
		if !seen[child] {
			seen[child] = true
			keys = append(keys, child)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	return fmt.Sprintf("its keys are %s", strings.Join(keys, ", "))
}

var classNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

func isMap(v any) bool {
	switch v.(type) {
	case map[string]any, map[any]any:
		return true
	}
	return false
}

// mapOf returns v as a map with string keys, or nil if it is not a map.
func mapOf(v any) map[string]any {
	switch m := v.(type) {
	case map[string]any:
		return m
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, x := range m {
			out[fmt.Sprint(k)] = x
		}
		return out
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var (
	_ yaml.Marshaler = Restriction{}
	_ error          = Problem{}
	_ error          = (*Errors)(nil)

	restrictionType     = reflect.TypeOf(Restriction{})
	restrictionListType = reflect.TypeOf([]Restriction(nil))
)

// restrictionHook keeps each raw list item in the Restriction it decodes
// to, for parseList; a list given as one string (from the environment) is
// split the way Postfix splits main.cf.
func restrictionHook(_ reflect.Type, t reflect.Type, data any) (any, error) {
	switch t {
	case restrictionType:
		if r, ok := data.(Restriction); ok {
			return r, nil
		}
		return Restriction{raw: data, rawSet: true}, nil
	case restrictionListType:
		if s, ok := data.(string); ok {
			return splitPostfix(s), nil
		}
	}
	return data, nil
}
