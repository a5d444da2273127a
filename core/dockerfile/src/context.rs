//! The build context as Docker sees it: `.dockerignore` filtering and wildcard COPY/ADD sources.
//!
//! Patterns follow `moby/patternmatcher` (the `.dockerignore` reader, then
//! `MatchesOrParentMatches`): a path is excluded when the last pattern matching it or one of its
//! parent directories is not an exception. `*`, `?` and `\` never cross a `/`; `**` matches any
//! number of directories (`**` at the end matches everything below). As in Docker, a pattern that
//! starts with `**` and has no other wildcard matches any path ending with the rest (`**.md`
//! matches `a/b.md`). Escapes (`\x`) always mean the literal `x`.
//!
//! Wildcard sources follow BuildKit: the components before the first one with a wildcard are a
//! plain path, the others are matched one directory level at a time with Go's `filepath.Match`
//! (no `**`). Paths outside a directory's tree are never followed: symlinks below the context
//! are not traversed, and a source whose parent resolves outside the root is not found.

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// A build context directory filtered by its `.dockerignore`.
#[derive(Debug)]
pub struct Context {
    root: PathBuf,
    /// The canonical root, to refuse sources whose parents resolve outside it.
    canonical: PathBuf,
    patterns: Vec<Pattern>,
}

/// One `.dockerignore` line.
#[derive(Debug)]
struct Pattern {
    /// The cleaned pattern, without its `!`.
    text: String,
    exception: bool,
    glob: Glob,
}

/// A compiled pattern, with Docker's fast paths (which also decide the odd `**x` suffix case).
#[derive(Debug)]
enum Glob {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Tokens(Vec<Tok>),
}

#[derive(Debug)]
enum Tok {
    Lit(char),
    /// `?`: one character but `/`.
    One,
    /// `*`: any run of characters but `/`.
    Star,
    Class(Class),
    /// `**` (a following `/` eaten) before more pattern: nothing, or anything ending in `/`.
    Dirs,
    /// `**` at the end: anything.
    Rest,
}

/// `[...]` as in Go's `filepath.Match`: `^` negates, `\` escapes, `lo-hi` ranges.
#[derive(Debug)]
struct Class {
    negated: bool,
    ranges: Vec<(char, char)>,
}

impl Class {
    fn matches(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != self.negated
    }
}

/// Go's `ErrBadPattern`.
const BAD_PATTERN: &str = "syntax error in pattern";

/// Compiles a pattern; `deep` gives `**` its `.dockerignore` meaning (else it is two `*`).
fn compile(p: &str, deep: bool) -> Result<Vec<Tok>, &'static str> {
    let chars: Vec<char> = p.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if deep && chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                toks.push(if i == chars.len() {
                    Tok::Rest
                } else {
                    Tok::Dirs
                });
            }
            '*' => toks.push(Tok::Star),
            '?' => toks.push(Tok::One),
            '\\' => match chars.get(i) {
                Some(&e) => {
                    i += 1;
                    toks.push(Tok::Lit(e));
                }
                None => return Err(BAD_PATTERN),
            },
            '[' => toks.push(Tok::Class(class(&chars, &mut i)?)),
            c => toks.push(Tok::Lit(c)),
        }
    }
    Ok(toks)
}

/// The class after a `[`, up to and including its `]`.
fn class(chars: &[char], i: &mut usize) -> Result<Class, &'static str> {
    // One class character: not `-` or `]` unescaped, and not the end of the pattern.
    fn one(chars: &[char], i: &mut usize) -> Result<char, &'static str> {
        match chars.get(*i) {
            None | Some('-') | Some(']') => Err(BAD_PATTERN),
            Some('\\') => {
                let c = *chars.get(*i + 1).ok_or(BAD_PATTERN)?;
                *i += 2;
                Ok(c)
            }
            Some(&c) => {
                *i += 1;
                Ok(c)
            }
        }
    }
    let negated = chars.get(*i) == Some(&'^');
    if negated {
        *i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        if chars.get(*i) == Some(&']') && !ranges.is_empty() {
            *i += 1;
            return Ok(Class { negated, ranges });
        }
        let lo = one(chars, i)?;
        let hi = if chars.get(*i) == Some(&'-') {
            *i += 1;
            one(chars, i)?
        } else {
            lo
        };
        ranges.push((lo, hi));
    }
}

/// Runs the pattern as an NFA: states `0..=n` are "before token i", `n+1+i` is inside the
/// `.*` of a `**` at token i. Linear in the path, whatever the pattern.
fn run(toks: &[Tok], s: &str) -> bool {
    let n = toks.len();
    let closure = |set: &mut [bool]| {
        for i in 0..n {
            if set[i] && matches!(toks[i], Tok::Star | Tok::Dirs | Tok::Rest) {
                set[i + 1] = true;
            }
        }
    };
    let mut cur = vec![false; 2 * (n + 1)];
    let mut next = cur.clone();
    cur[0] = true;
    closure(&mut cur);
    for c in s.chars() {
        next.fill(false);
        for i in 0..n {
            if cur[n + 1 + i] {
                next[n + 1 + i] = true;
                next[i + 1] |= c == '/';
            }
            if !cur[i] {
                continue;
            }
            match &toks[i] {
                Tok::Lit(x) => next[i + 1] |= c == *x,
                Tok::One => next[i + 1] |= c != '/',
                Tok::Class(cl) => next[i + 1] |= cl.matches(c),
                Tok::Star => next[i] |= c != '/',
                Tok::Rest => next[i] = true,
                Tok::Dirs => {
                    next[n + 1 + i] = true;
                    next[i + 1] |= c == '/';
                }
            }
        }
        closure(&mut next);
        if !next.contains(&true) {
            return false;
        }
        std::mem::swap(&mut cur, &mut next);
    }
    cur[n]
}

const SPECIAL: [char; 5] = ['*', '?', '[', ']', '\\'];

impl Glob {
    /// A `.dockerignore` pattern (already cleaned, without `!`).
    fn dockerignore(p: &str) -> Result<Glob, &'static str> {
        let toks = compile(p, true)?;
        Ok(if !p.contains(SPECIAL) {
            Glob::Exact(p.to_owned())
        } else if p.starts_with("**") && !p[2..].contains(SPECIAL) {
            Glob::Suffix(p[2..].to_owned())
        } else if p.ends_with("**") && !p[..p.len() - 2].contains(SPECIAL) {
            Glob::Prefix(p[..p.len() - 2].to_owned())
        } else {
            Glob::Tokens(toks)
        })
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            Glob::Exact(e) => path == e,
            Glob::Prefix(p) => path.starts_with(p.as_str()),
            Glob::Suffix(s) => path.ends_with(s.as_str()) || s.strip_prefix('/') == Some(path),
            Glob::Tokens(t) => run(t, path),
        }
    }
}

/// Go's `filepath.Clean` on a `/`-separated path.
fn clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." if out.last().is_some_and(|l| *l != "..") => {
                out.pop();
            }
            ".." if rooted => {}
            c => out.push(c),
        }
    }
    match (rooted, out.join("/")) {
        (true, body) => format!("/{body}"),
        (false, body) if body.is_empty() => ".".to_owned(),
        (false, body) => body,
    }
}

/// A source relative to the root, cleaned (`""` for the root itself); `..` escapes are errors.
fn relative(source: &str) -> Result<String, String> {
    let c = clean(source.trim_start_matches('/'));
    if c == ".." || c.starts_with("../") {
        return Err(format!("{source} is outside the build context"));
    }
    Ok(if c == "." { String::new() } else { c })
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// BuildKit's test for wildcards in a source: `*`, `?` or `[` not escaped by `\`.
fn has_wildcards(s: &str) -> bool {
    let mut escaped = false;
    for c in s.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

/// The directory's entries whose names are UTF-8, sorted.
fn entries(dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        if let Some(name) = e.file_name().to_str() {
            out.push((name.to_owned(), e.path()));
        }
    }
    out.sort();
    Ok(out)
}

impl Context {
    /// Reads `root/.dockerignore` if present (Docker's syntax: one pattern per line, `#` comments,
    /// blank lines, leading `!` exceptions (last match wins), patterns cleaned like Go's
    /// filepath.Clean, leading `/` stripped, `**` matching any number of directories, Go
    /// filepath.Match syntax `* ? [...] \`). An invalid pattern is an error naming the line and
    /// the pattern.
    pub fn open(root: &Path) -> Result<Self, String> {
        let canonical =
            fs::canonicalize(root).map_err(|e| format!("build context {}: {e}", root.display()))?;
        let file = root.join(".dockerignore");
        let text = match fs::read(&file) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(format!("{}: {e}", file.display())),
        };
        let mut patterns = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = if n == 0 {
                line.trim_start_matches('\u{feff}')
            } else {
                line
            };
            // As in Docker, only a `#` in the first column starts a comment.
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let bad = |why: &str| {
                format!(
                    ".dockerignore line {}: invalid pattern {:?}: {why}",
                    n + 1,
                    line.trim()
                )
            };
            let mut p = line.trim();
            let exception = p.starts_with('!');
            if exception {
                p = p[1..].trim();
            }
            if p.is_empty() {
                return Err(bad("illegal exclusion pattern \"!\""));
            }
            let mut text = clean(p);
            if text.len() > 1 && text.starts_with('/') {
                text.remove(0);
            }
            let glob = Glob::dockerignore(&text).map_err(bad)?;
            patterns.push(Pattern {
                text,
                exception,
                glob,
            });
        }
        Ok(Context {
            root: root.to_owned(),
            canonical,
            patterns,
        })
    }

    /// Whether `rel` (a '/'-separated path relative to the root) is excluded. A directory
    /// excluded excludes everything below unless an exception pattern re-includes something
    /// below it (Docker's behaviour).
    pub fn is_excluded(&self, rel: &str) -> bool {
        let Ok(rel) = relative(rel) else {
            return false;
        };
        if rel.is_empty() || self.patterns.is_empty() {
            return false;
        }
        let parents: Vec<&str> = rel.match_indices('/').map(|(i, _)| &rel[..i]).collect();
        let mut excluded = false;
        for p in &self.patterns {
            // Only a pattern that would change the outcome needs matching.
            if p.exception != excluded {
                continue;
            }
            if p.glob.matches(&rel) || parents.iter().any(|d| p.glob.matches(d)) {
                excluded = !p.exception;
            }
        }
        excluded
    }

    /// Whether the context has any exclusions at all (no `.dockerignore` or only comments:
    /// false).
    pub fn has_exclusions(&self) -> bool {
        !self.patterns.is_empty()
    }

    /// Expands one COPY/ADD source (relative to the root, already variable-expanded) into the
    /// matching relative paths, cleaned and sorted (`""` is the root itself): a source without
    /// wildcards is returned if it exists and is not excluded; with wildcards (`*`, `?`, `[...]`,
    /// per path component, Go filepath.Match semantics) every matching non-excluded path. No
    /// match is an error in Docker's words: `lstat <src>: no such file or directory` for a
    /// plain source, `no source files were specified` when a wildcard matches nothing. Sources
    /// escaping the root (`..`) are errors.
    ///
    /// An excluded directory still counts when an exception re-includes something below it (it
    /// then holds only that).
    pub fn expand(&self, source: &str) -> Result<Vec<String>, String> {
        let rel = relative(source)?;
        let comps: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
        let Some(first) = comps.iter().position(|c| has_wildcards(c)) else {
            return match self.within_root(&rel).then(|| self.lstat(&rel)).flatten() {
                Some(meta) if self.visible(&rel, &meta) => Ok(vec![rel]),
                _ => Err(format!("lstat {source}: no such file or directory")),
            };
        };
        let none = || "no source files were specified".to_owned();
        let prefix = comps[..first].join("/");
        // BuildKit follows symlinks in the plain part, within the context.
        let base = match fs::canonicalize(self.root.join(&prefix)) {
            Ok(b) if b.starts_with(&self.canonical) && b.is_dir() => b,
            _ => return Err(none()),
        };
        let mut level = vec![(prefix, base)];
        for (k, comp) in comps[first..].iter().enumerate() {
            // An invalid pattern matches nothing, as in BuildKit.
            let Ok(toks) = compile(comp, false) else {
                return Err(none());
            };
            let last = first + k + 1 == comps.len();
            let mut next = Vec::new();
            for (dir, path) in &level {
                let Ok(list) = entries(path) else { continue };
                for (name, path) in list {
                    if !run(&toks, &name) {
                        continue;
                    }
                    let rel = join(dir, &name);
                    let Ok(meta) = fs::symlink_metadata(&path) else {
                        continue;
                    };
                    if last {
                        if self.visible(&rel, &meta) {
                            next.push((rel, path));
                        }
                    } else if meta.is_dir()
                        && (!self.is_excluded(&rel) || self.may_include_below(&rel))
                    {
                        next.push((rel, path));
                    }
                }
            }
            level = next;
        }
        let mut out: Vec<String> = level.into_iter().map(|(rel, _)| rel).collect();
        if out.is_empty() {
            return Err(none());
        }
        out.sort();
        Ok(out)
    }

    /// Copies `rel` (file, symlink as a symlink, or directory recursively) into `dest_root/rel`,
    /// skipping excluded paths and keeping modes (and, best effort, modification times of files
    /// and directories), so a filtered view of the context can be mounted. Parent dirs are created.
    /// Special files (sockets, FIFOs, devices) are skipped.
    pub fn stage(&self, rel: &str, dest_root: &Path) -> io::Result<()> {
        let rel = relative(rel).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        if !self.within_root(&rel) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{rel} resolves outside the build context"),
            ));
        }
        let mut parent = String::new();
        let comps: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
        for c in comps.iter().take(comps.len().saturating_sub(1)) {
            parent = join(&parent, c);
            let dst = dest_root.join(&parent);
            if fs::symlink_metadata(&dst).is_err() {
                fs::create_dir(&dst)?;
                if let Ok(meta) = fs::metadata(self.root.join(&parent)) {
                    fs::set_permissions(&dst, meta.permissions())?;
                }
            }
        }
        self.stage_entry(&rel, &self.root.join(&rel), &dest_root.join(&rel))
    }

    fn stage_entry(&self, rel: &str, src: &Path, dst: &Path) -> io::Result<()> {
        let meta = fs::symlink_metadata(src)?;
        let kind = meta.file_type();
        let excluded = self.is_excluded(rel);
        if kind.is_dir() {
            if excluded && !self.has_visible_below(rel) {
                return Ok(());
            }
            match fs::create_dir(dst) {
                Err(e) if !(e.kind() == io::ErrorKind::AlreadyExists && dst.is_dir()) => {
                    return Err(e)
                }
                _ => {}
            }
            for (name, path) in entries(src)? {
                self.stage_entry(&join(rel, &name), &path, &dst.join(&name))?;
            }
            fs::set_permissions(dst, meta.permissions())?;
            set_mtime(dst, &meta);
        } else if excluded {
            return Ok(());
        } else if kind.is_symlink() {
            remove_file(dst)?;
            symlink(fs::read_link(src)?, dst)?;
        } else if kind.is_file() {
            remove_file(dst)?;
            fs::copy(src, dst)?;
            set_mtime(dst, &meta);
        }
        Ok(())
    }

    fn lstat(&self, rel: &str) -> Option<fs::Metadata> {
        fs::symlink_metadata(self.root.join(rel)).ok()
    }

    /// Whether `rel`'s parent directory resolves inside the root (symlinks followed).
    fn within_root(&self, rel: &str) -> bool {
        let Some((parent, _)) = rel.rsplit_once('/') else {
            return true;
        };
        fs::canonicalize(self.root.join(parent)).is_ok_and(|p| p.starts_with(&self.canonical))
    }

    /// Whether `rel` is in the filtered context: not excluded, or a directory with something
    /// re-included below.
    fn visible(&self, rel: &str, meta: &fs::Metadata) -> bool {
        !self.is_excluded(rel) || (meta.is_dir() && self.has_visible_below(rel))
    }

    /// Whether something below the directory `rel` is not excluded.
    fn has_visible_below(&self, rel: &str) -> bool {
        if self.is_excluded(rel) && !self.may_include_below(rel) {
            return false;
        }
        let Ok(list) = entries(&self.root.join(rel)) else {
            return false;
        };
        list.into_iter().any(|(name, path)| {
            let child = join(rel, &name);
            !self.is_excluded(&child)
                || (fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir())
                    && self.has_visible_below(&child))
        })
    }

    /// Whether an exception could match a path strictly below the directory `rel` (an exception
    /// matching `rel` or above cannot: the exclusion of `rel` comes after it). Conservative.
    fn may_include_below(&self, rel: &str) -> bool {
        let dir: Vec<&str> = rel.split('/').collect();
        self.patterns.iter().filter(|p| p.exception).any(|p| {
            // A class may match a `/`, so no component-wise reasoning.
            if p.text.contains('[') {
                return true;
            }
            let comps: Vec<&str> = p.text.split('/').collect();
            for (k, c) in comps.iter().enumerate() {
                if c.contains("**") {
                    return true;
                }
                if k == dir.len() {
                    return true;
                }
                match compile(c, true) {
                    Ok(t) if run(&t, dir[k]) => {}
                    _ => return false,
                }
            }
            false
        })
    }
}

/// Gives `p` the modification time in `meta`, if it can be opened (best effort).
fn set_mtime(p: &Path, meta: &fs::Metadata) {
    if let (Ok(t), Ok(f)) = (meta.modified(), fs::File::open(p)) {
        let _ = f.set_modified(t);
    }
}

/// Removes a file or symlink at `p` if there is one (not a directory).
fn remove_file(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if !m.is_dir() => fs::remove_file(p),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A context with `.dockerignore` holding `ignore` and the given files (parents created).
    fn ctx(ignore: Option<&str>, files: &[&str]) -> (tempfile::TempDir, Context) {
        let dir = tempfile::tempdir().unwrap();
        if let Some(text) = ignore {
            fs::write(dir.path().join(".dockerignore"), text).unwrap();
        }
        for f in files {
            let p = dir.path().join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, f.as_bytes()).unwrap();
        }
        let c = Context::open(dir.path()).unwrap();
        (dir, c)
    }

    fn patterns(ignore: &str) -> Context {
        ctx(Some(ignore), &[]).1
    }

    #[test]
    fn comments_blank_lines_and_no_file() {
        let c = patterns("# a comment\n\n   \n\t\nfoo\n  # not a comment\n");
        assert!(c.has_exclusions());
        assert!(c.is_excluded("foo"));
        assert!(c.is_excluded("# not a comment"));
        assert!(!c.is_excluded("# a comment"));
        assert!(!c.is_excluded(""));
        assert!(!patterns("# only\n\n").has_exclusions());
        assert!(!ctx(None, &[]).1.has_exclusions());
        assert!(!ctx(None, &[]).1.is_excluded("anything"));
    }

    #[test]
    fn star_and_double_star() {
        let c = patterns("*.md\n");
        assert!(c.is_excluded("a.md"));
        assert!(!c.is_excluded("docs/a.md"));
        let c = patterns("**/*.md\n");
        assert!(c.is_excluded("a.md"));
        assert!(c.is_excluded("docs/a.md"));
        assert!(c.is_excluded("a/b/c.md"));
        assert!(!c.is_excluded("a/b/c.mdx"));
        let c = patterns("a/**/b\n");
        for p in ["a/b", "a/x/b", "a/x/y/b", "a/b/c"] {
            assert!(c.is_excluded(p), "{p}");
        }
        assert!(!c.is_excluded("a/xb"));
        let c = patterns("**/foo\nbar/**\n");
        assert!(c.is_excluded("foo") && c.is_excluded("x/y/foo") && c.is_excluded("foo/z"));
        assert!(!c.is_excluded("xfoo"));
        assert!(c.is_excluded("bar/x/y"));
        // Docker's suffix fast path: a leading `**` then no wildcard is a plain suffix.
        assert!(patterns("**.md\n").is_excluded("a/b.md"));
    }

    #[test]
    fn exception_last_match_wins() {
        let c = patterns("*.md\n!README.md\n");
        assert!(c.is_excluded("CHANGES.md"));
        assert!(!c.is_excluded("README.md"));
        let c = patterns("!README.md\n*.md\n");
        assert!(c.is_excluded("README.md"));
    }

    #[test]
    fn directories_exclude_below_unless_re_included() {
        let c = patterns("node_modules\n");
        assert!(c.is_excluded("node_modules"));
        assert!(c.is_excluded("node_modules/a/b"));
        assert!(!c.is_excluded("node_modules_x"));
        assert!(!c.is_excluded("src/node_modules"));
        let c = patterns("docs\n!docs/keep.md\n");
        assert!(c.is_excluded("docs"));
        assert!(c.is_excluded("docs/other.md"));
        assert!(!c.is_excluded("docs/keep.md"));
        assert!(c.may_include_below("docs"));
        assert!(!c.may_include_below("docs/sub"));
    }

    #[test]
    fn patterns_are_cleaned() {
        let c = patterns("/secret\n./build/../out\n! /out/keep\nsub/\n");
        assert!(c.is_excluded("secret"));
        assert!(c.is_excluded("out/x"));
        assert!(!c.is_excluded("out/keep"));
        assert!(!c.is_excluded("build"));
        assert!(c.is_excluded("sub/f"));
        assert!(c.is_excluded("./secret") && c.is_excluded("/secret"));
    }

    #[test]
    fn classes_question_mark_and_escapes() {
        let c = patterns("[a-c].txt\n?.log\n\\*.txt\n[^x]y\na?b\n");
        assert!(c.is_excluded("b.txt"));
        assert!(!c.is_excluded("d.txt"));
        assert!(c.is_excluded("a.log"));
        assert!(!c.is_excluded("ab.log"));
        assert!(c.is_excluded("axb") && !c.is_excluded("a/b"));
        assert!(c.is_excluded("*.txt"));
        assert!(!c.is_excluded("x.txt"));
        assert!(c.is_excluded("ay") && !c.is_excluded("xy"));
    }

    #[test]
    fn invalid_patterns_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        for (text, line, shown) in [
            ("# c\nok\n[\n", 3, "\"[\""),
            ("[]\n", 1, "\"[]\""),
            ("a\\\n", 1, "\"a\\\\\""),
            ("[a-]\n", 1, "\"[a-]\""),
            ("x\n!\n", 2, "\"!\""),
        ] {
            fs::write(dir.path().join(".dockerignore"), text).unwrap();
            let e = Context::open(dir.path()).unwrap_err();
            assert!(e.contains(&format!("line {line}:")), "{e}");
            assert!(e.contains(shown), "{e}");
        }
    }

    #[test]
    fn expand_sources() {
        let files = [
            "a.txt",
            "ab.txt",
            "b.txt",
            "c.md",
            "dir/x.txt",
            "dir/y.txt",
            "dir/sub/z.txt",
        ];
        let (_d, c) = ctx(None, &files);
        let ok = |s: &str| c.expand(s).unwrap();
        assert_eq!(ok("*.txt"), ["a.txt", "ab.txt", "b.txt"]);
        assert_eq!(ok("dir/*.txt"), ["dir/x.txt", "dir/y.txt"]);
        assert_eq!(ok("?.txt"), ["a.txt", "b.txt"]);
        assert_eq!(ok("*/*.txt"), ["dir/x.txt", "dir/y.txt"]);
        assert_eq!(ok("d*"), ["dir"]);
        assert_eq!(ok("[a-b].txt"), ["a.txt", "b.txt"]);
        assert_eq!(ok("./dir/../c.md"), ["c.md"]);
        assert_eq!(ok("/dir/"), ["dir"]);
        assert_eq!(ok("."), [""]);
        assert_eq!(
            c.expand("*.nope").unwrap_err(),
            "no source files were specified"
        );
        assert_eq!(
            c.expand("nope/*.txt").unwrap_err(),
            "no source files were specified"
        );
        assert_eq!(
            c.expand("missing").unwrap_err(),
            "lstat missing: no such file or directory"
        );
        assert!(c
            .expand("../x")
            .unwrap_err()
            .contains("outside the build context"));
        assert!(c.expand("dir/../../x").is_err());
    }

    #[test]
    fn expand_skips_excluded() {
        let files = ["a.txt", "b.txt", "docs/keep.md", "docs/other.md", "tmp/x"];
        let (_d, c) = ctx(Some("b.txt\ndocs\n!docs/keep.md\ntmp\n"), &files);
        assert_eq!(c.expand("*.txt").unwrap(), ["a.txt"]);
        assert!(c.expand("b.txt").unwrap_err().starts_with("lstat b.txt"));
        assert!(c.expand("docs/other.md").is_err());
        assert_eq!(c.expand("docs/*").unwrap(), ["docs/keep.md"]);
        assert_eq!(c.expand("docs").unwrap(), ["docs"]);
        assert!(c.expand("tmp").is_err());
        assert_eq!(c.expand("*").unwrap(), [".dockerignore", "a.txt", "docs"]);
    }

    #[test]
    fn stage_filtered_tree() {
        let files = [
            ".env",
            "src/main.rs",
            "src/.env",
            "src/run.sh",
            "logs/a.log",
        ];
        let (d, c) = ctx(Some("**/.env\nlogs\n"), &files);
        let root = d.path();
        fs::set_permissions(root.join("src/run.sh"), fs::Permissions::from_mode(0o750)).unwrap();
        symlink("src/main.rs", root.join("link")).unwrap();
        let out = tempfile::tempdir().unwrap();
        c.stage("", out.path()).unwrap();
        let o = out.path();
        assert!(!o.join(".env").exists() && !o.join("src/.env").exists());
        assert!(!o.join("logs").exists());
        assert_eq!(
            fs::read_to_string(o.join("src/main.rs")).unwrap(),
            "src/main.rs"
        );
        let mode = fs::metadata(o.join("src/run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o750);
        assert!(fs::symlink_metadata(o.join("link")).unwrap().is_symlink());
        assert_eq!(
            fs::read_link(o.join("link")).unwrap(),
            Path::new("src/main.rs")
        );
        assert!(o.join(".dockerignore").exists());

        // One path: its parents are created, and staging again overwrites.
        let one = tempfile::tempdir().unwrap();
        c.stage("src/main.rs", one.path()).unwrap();
        c.stage("src/main.rs", one.path()).unwrap();
        c.stage("link", one.path()).unwrap();
        c.stage("link", one.path()).unwrap();
        c.stage(".env", one.path()).unwrap();
        let names: Vec<_> = entries(one.path())
            .unwrap()
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(names, ["link", "src"]);
        assert_eq!(entries(&one.path().join("src")).unwrap().len(), 1);
        assert!(c.stage("../x", one.path()).is_err());
    }

    #[test]
    fn stage_re_included_below_excluded_dir() {
        let (_d, c) = ctx(
            Some("docs\n!docs/keep.md\n"),
            &["docs/keep.md", "docs/other.md", "docs/sub/x"],
        );
        let out = tempfile::tempdir().unwrap();
        c.stage("docs", out.path()).unwrap();
        let names: Vec<_> = entries(&out.path().join("docs"))
            .unwrap()
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(names, ["keep.md"]);
    }

    #[test]
    fn go_clean() {
        for (a, b) in [
            ("", "."),
            ("./a/../b/", "b"),
            ("/../a", "/a"),
            ("../../a", "../../a"),
            ("a//b/./c/..", "a/b"),
            ("/", "/"),
        ] {
            assert_eq!(clean(a), b, "{a}");
        }
    }
}
