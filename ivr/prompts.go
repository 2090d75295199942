package ivr

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

// builtinPrompts holds the prompts rendered by scripts/gen-prompts.sh from
// ivr/prompts.tsv: prompts/<language>/<name>.wav, and prompts/<name>.wav for
// audio that serves every language, such as the hold music.
//
//go:embed prompts
var builtinPrompts embed.FS

const (
	builtinPromptRoot = "prompts"
	promptExtension   = ".wav"
)

// Sentinel errors of prompt lookup.
var (
	// ErrPromptNotFound means no file exists for a prompt in a language,
	// neither in the prompt folder nor among the built-in prompts.
	ErrPromptNotFound = errors.New("prompt not found")
	// ErrInvalidPromptName means a prompt name or language is not a plain
	// name of letters, digits, "_" and "-".
	ErrInvalidPromptName = errors.New("invalid prompt name")
)

// PromptError reports a prompt that could not be opened. It unwraps to
// ErrPromptNotFound, ErrInvalidPromptName or the file system error.
type PromptError struct {
	Name     string
	Language string
	// Dir is the prompt folder that was searched, or empty when only the
	// built-in prompts were.
	Dir string
	Err error
}

func (e *PromptError) Error() string {
	switch {
	case errors.Is(e.Err, ErrPromptNotFound):
		return fmt.Sprintf("prompt %q not found for language %s (looked in %s)", e.Name, e.Language, e.searched())
	case errors.Is(e.Err, ErrInvalidPromptName):
		return fmt.Sprintf("prompt %q for language %q: %v: use letters, digits, \"_\" and \"-\" only", e.Name, e.Language, e.Err)
	default:
		return fmt.Sprintf("reading prompt %q for language %s: %v", e.Name, e.Language, e.Err)
	}
}

func (e *PromptError) Unwrap() error { return e.Err }

func (e *PromptError) searched() string {
	if e.Dir == "" {
		return "the built-in prompts"
	}
	return e.Dir + " and the built-in prompts"
}

// PromptSet finds prompt WAV files: first in an optional folder laid out
// like the built-in prompts, then among the built-in prompts. Within each,
// <language>/<name>.wav comes before the language-neutral <name>.wav. A
// PromptSet does not change after NewPromptSet and is safe for concurrent
// use.
type PromptSet struct {
	// dir is the override folder, or "" when there is none.
	dir string
	// sources are searched in order: the override folder, then the
	// built-in prompts.
	sources []fs.FS
}

// NewPromptSet returns the built-in prompts, overridden by the files in dir
// when dir is not empty. A dir that does not exist or is not a folder is an
// error naming it.
func NewPromptSet(dir string) (*PromptSet, error) {
	builtin, err := fs.Sub(builtinPrompts, builtinPromptRoot)
	if err != nil {
		return nil, fmt.Errorf("opening built-in prompts: %w", err)
	}
	if dir == "" {
		return &PromptSet{sources: []fs.FS{builtin}}, nil
	}

	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("opening prompt folder %s: %w (create it, or leave ivr.prompt_dir empty for the built-in prompts)", dir, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("opening prompt folder %s: %w (point ivr.prompt_dir at a folder)", dir, errNotFolder)
	}
	return &PromptSet{dir: dir, sources: []fs.FS{os.DirFS(dir), builtin}}, nil
}

// errNotFolder is wrapped when ivr.prompt_dir names a file.
var errNotFolder = errors.New("not a folder")

// Dir returns the override folder, or "" when only built-in prompts are
// used.
func (p *PromptSet) Dir() string { return p.dir }

// Open returns the WAV file of a prompt in a language. Errors are
// *PromptError values that wrap ErrPromptNotFound or ErrInvalidPromptName.
func (p *PromptSet) Open(name, language string) ([]byte, error) {
	source, file, err := p.locate(name, language)
	if err != nil {
		return nil, err
	}

	data, err := fs.ReadFile(source, file)
	if err != nil {
		return nil, &PromptError{Name: name, Language: language, Dir: p.dir, Err: err}
	}
	return data, nil
}

// locate finds the file of a prompt without reading it.
func (p *PromptSet) locate(name, language string) (fs.FS, string, error) {
	if !isPlainName(name) || !isPlainName(language) {
		return nil, "", &PromptError{Name: name, Language: language, Dir: p.dir, Err: ErrInvalidPromptName}
	}

	candidates := []string{path.Join(language, name+promptExtension), name + promptExtension}
	for _, source := range p.sources {
		for _, file := range candidates {
			info, err := fs.Stat(source, file)
			if err == nil && !info.IsDir() {
				return source, file, nil
			}
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, "", &PromptError{Name: name, Language: language, Dir: p.dir, Err: err}
			}
		}
	}
	return nil, "", &PromptError{Name: name, Language: language, Dir: p.dir, Err: ErrPromptNotFound}
}

// Names returns the sorted names of every prompt that Open finds for the
// language. Folders that cannot be read are skipped.
func (p *PromptSet) Names(language string) []string {
	if !isPlainName(language) {
		return nil
	}

	var names []string
	for _, source := range p.sources {
		for _, folder := range []string{language, "."} {
			names = append(names, promptNamesIn(source, folder)...)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func promptNamesIn(source fs.FS, folder string) []string {
	entries, err := fs.ReadDir(source, folder)
	if err != nil {
		return nil
	}

	var names []string
	for _, entry := range entries {
		name, isPrompt := strings.CutSuffix(entry.Name(), promptExtension)
		if isPrompt && !entry.IsDir() && isPlainName(name) {
			names = append(names, name)
		}
	}
	return names
}

// isPlainName reports whether s is usable as one path element: letters,
// digits, "_" and "-", so that no name can leave the prompt folder.
func isPlainName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}
