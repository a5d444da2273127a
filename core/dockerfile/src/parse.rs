//! The Dockerfile parser: parser directives (`# syntax=` is ignored, `# escape=` honoured),
//! comments, line continuations, JSON exec form, heredocs, and instructions with their line
//! numbers. Values stay raw (quotes and variables in place); the frontend expands them with
//! the ARG and ENV values in scope.
//!
//! Heredocs follow BuildKit's parser: in a `RUN`, `COPY` or `ADD` line (not in JSON form),
//! every word `[N]<<[-]NAME` (after continuation lines are joined; `<< NAME` too) starts a
//! here-document, and the lines after the instruction are the bodies, in the order of the
//! words, each up to a line that is exactly `NAME` (with `<<-`, after leading tabs). Body
//! lines are raw: no continuations, comments or directives.

use crate::error::{parse_err, DockerfileError, Result};
use crate::expand::{split_heredoc_words, split_words};

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The escape character (`\` unless `# escape=` says otherwise).
    pub escape: char,
    /// `ARG` instructions before the first `FROM` (usable in `FROM`).
    pub meta_args: Vec<(usize, Vec<ArgDecl>)>,
    /// The stages, in order.
    pub stages: Vec<Stage>,
}

/// One `FROM` and its instructions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Line of the `FROM`.
    pub line: usize,
    /// The base (an image or an earlier stage's name), raw.
    pub base: String,
    /// The name given with `AS`, lower-cased.
    pub name: Option<String>,
    /// The instructions after `FROM`.
    pub instructions: Vec<Instruction>,
}

/// An instruction and its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Line where the instruction starts.
    pub line: usize,
    /// What it does.
    pub command: Command,
}

/// A command line in shell form (run with `/bin/sh -c`) or exec form (a JSON array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellOrExec {
    /// Shell form, the text as written.
    Shell(String),
    /// Exec form, the arguments.
    Exec(Vec<String>),
}

impl ShellOrExec {
    /// The argument vector (`SHELL... TEXT` for the shell form, `shell` being e.g.
    /// `["/bin/sh", "-c"]`).
    pub fn argv(&self, shell: &[String]) -> Vec<String> {
        match self {
            Self::Shell(text) => shell.iter().cloned().chain([text.clone()]).collect(),
            Self::Exec(args) => args.clone(),
        }
    }
}

/// A here-document: `<<NAME` in a `RUN`, `COPY` or `ADD` line and the lines after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The terminator, quotes removed (for `COPY`, the file's name).
    pub name: String,
    /// Whether variables in the body are expanded (`COPY`): the name was not quoted.
    pub expand: bool,
    /// `<<-NAME`: leading tabs are stripped from the body's lines.
    pub chomp: bool,
    /// The body as written, each line ending in `\n`.
    pub content: String,
}

impl Heredoc {
    /// The body, with leading tabs stripped from every line for `<<-`.
    pub fn body(&self) -> String {
        if !self.chomp {
            return self.content.clone();
        }
        self.content
            .split_inclusive('\n')
            .map(|l| l.trim_start_matches('\t'))
            .collect()
    }
}

/// The parts of a heredoc word: `[digits]<<[-][whitespace]WORD` where `WORD` is one word
/// without `<`; `None` for any other word. Returns the heredoc without content.
pub fn heredoc_word(word: &str) -> Option<Heredoc> {
    let rest = word.trim_start_matches(|c: char| c.is_ascii_digit());
    let rest = rest.strip_prefix("<<")?;
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = rest.trim_start();
    if rest.is_empty() || rest.contains('<') || split_words(rest, '\\').len() != 1 {
        return None;
    }
    let (name, quoted) = unquote(rest)?;
    Some(Heredoc {
        name,
        expand: !quoted,
        chomp,
        content: String::new(),
    })
}

/// Quote removal without variable expansion (a heredoc name); also says whether any quotes
/// were removed (an escaped quote does not count, as in BuildKit). `None` if a quote is open.
fn unquote(word: &str) -> Option<(String, bool)> {
    let mut out = String::new();
    let mut quoted = false;
    let mut quote: Option<char> = None;
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some('"') if c == '\\' => match chars.next() {
                Some(n) if matches!(n, '"' | '$' | '\\') => out.push(n),
                Some(n) => {
                    out.push(c);
                    out.push(n);
                }
                None => out.push(c),
            },
            Some(_) => out.push(c),
            None if c == '\\' => out.extend(chars.next()),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                quoted = true;
            }
            None => out.push(c),
        }
    }
    quote.is_none().then_some((out, quoted))
}

/// The heredocs a logical line starts, without content: only `RUN`, `COPY` and `ADD` not in
/// JSON form have them.
fn heredocs_in(logical: &str, escape: char) -> Vec<Heredoc> {
    if !logical.contains("<<") {
        return Vec::new();
    }
    let end = word_end(logical, escape);
    if !["RUN", "COPY", "ADD"].contains(&logical[..end].to_ascii_uppercase().as_str()) {
        return Vec::new();
    }
    let Ok((_, rest)) = flags(0, logical[end..].trim(), escape) else {
        return Vec::new();
    };
    if json_list(rest).is_some() {
        return Vec::new();
    }
    split_heredoc_words(rest, '\\')
        .iter()
        .filter_map(|w| heredoc_word(w))
        .collect()
}

/// An `ARG` declaration: a name and its raw default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    /// The name.
    pub name: String,
    /// The default, raw.
    pub default: Option<String>,
}

/// The instructions hush supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `RUN [--mount=...]... COMMAND`: the raw `--mount` values, the command and the
    /// heredocs of its line.
    Run {
        /// Raw `--mount` values.
        mounts: Vec<String>,
        /// The command (with heredocs, the shell form as written, e.g. `<<EOF` or
        /// `python3 <<EOF`).
        cmd: ShellOrExec,
        /// The heredocs, in order.
        heredocs: Vec<Heredoc>,
    },
    /// `ENV k=v ...` (or `ENV k v`), raw values.
    Env(Vec<(String, String)>),
    /// `ARG name[=default] ...`.
    Arg(Vec<ArgDecl>),
    /// `WORKDIR path`, raw.
    Workdir(String),
    /// `USER user[:group]`, raw.
    User(String),
    /// `COPY [--from=..] [--chown=..] [--chmod=..] SRC... DEST` (raw words).
    Copy(CopyArgs),
    /// `ADD [--chown=..] [--chmod=..] [--checksum=..] SRC... DEST` (raw words).
    Add(CopyArgs),
    /// `LABEL k=v ...`, raw.
    Label(Vec<(String, String)>),
    /// `CMD`.
    Cmd(ShellOrExec),
    /// `ENTRYPOINT`.
    Entrypoint(ShellOrExec),
    /// `EXPOSE port[/protocol] ...`, raw words.
    Expose(Vec<String>),
    /// `VOLUME ["/a", ...]` or `VOLUME /a /b`, raw.
    Volume(Vec<String>),
    /// `STOPSIGNAL signal`, raw.
    StopSignal(String),
    /// `SHELL ["executable", "parameters"...]`: the shell of later shell forms.
    Shell(Vec<String>),
    /// `MAINTAINER name` (deprecated): the image's author.
    Maintainer(String),
}

/// The arguments of `COPY` and `ADD`, raw.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopyArgs {
    /// `--from` (COPY only): a stage name or index, or an image.
    pub from: Option<String>,
    /// `--chown`.
    pub chown: Option<String>,
    /// `--chmod` (octal).
    pub chmod: Option<String>,
    /// `--checksum` (ADD of a URL only): `sha256:<hex>`.
    pub checksum: Option<String>,
    /// Sources (paths, URLs).
    pub sources: Vec<String>,
    /// Heredoc sources (`COPY <<EOF /dest`): files with the heredoc's body, named after it,
    /// copied after `sources`.
    pub heredocs: Vec<Heredoc>,
    /// Destination.
    pub dest: String,
}

/// Parses a Dockerfile.
pub fn parse(text: &str) -> Result<Dockerfile> {
    let mut escape = '\\';
    let mut lines = text.lines().enumerate().peekable();
    // Parser directives: only at the very top, before any blank line, comment or instruction.
    while let Some((n, line)) = lines.peek() {
        let Some((key, value)) = directive(line) else {
            break;
        };
        // `syntax` names a frontend image; hush is its own frontend, so it is ignored.
        if key == "escape" {
            escape = match value.as_str() {
                "\\" => '\\',
                "`" => '`',
                other => {
                    return Err(parse_err(
                        n + 1,
                        format!("invalid escape character {other:?}: use \\ or `"),
                    ))
                }
            }
        }
        lines.next();
    }
    let mut file = Dockerfile {
        escape,
        meta_args: Vec::new(),
        stages: Vec::new(),
    };
    while let Some((n, line)) = lines.next() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let start = n + 1;
        let mut logical = String::new();
        let mut cur = line.to_owned();
        loop {
            let t = cur.trim_end();
            if let Some(body) = t.strip_suffix(escape) {
                logical.push_str(body);
                // The next non-comment line continues this one.
                let mut next = None;
                for (_, l) in lines.by_ref() {
                    if l.trim_start().starts_with('#') {
                        continue;
                    }
                    next = Some(l.to_owned());
                    break;
                }
                match next {
                    Some(l) => cur = l,
                    None => break,
                }
            } else {
                logical.push_str(t);
                break;
            }
        }
        let logical = logical.trim();
        let mut heredocs = heredocs_in(logical, escape);
        for doc in &mut heredocs {
            let mut terminated = false;
            for (_, l) in lines.by_ref() {
                let candidate = if doc.chomp {
                    l.trim_start_matches('\t')
                } else {
                    l
                };
                if candidate == doc.name {
                    terminated = true;
                    break;
                }
                doc.content.push_str(l);
                doc.content.push('\n');
            }
            if !terminated {
                return Err(parse_err(
                    start,
                    format!(
                        "unterminated heredoc <<{}: no line {:?} ends it before the end of the Dockerfile",
                        doc.name, doc.name
                    ),
                ));
            }
        }
        instruction(&mut file, start, logical, heredocs)?;
    }
    if file.stages.is_empty() {
        return Err(parse_err(1, "the Dockerfile has no FROM instruction"));
    }
    Ok(file)
}

/// `# key=value` with a known directive key, lower-cased.
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.trim().strip_prefix('#')?;
    let (key, value) = rest.split_once('=')?;
    let key = key.trim().to_ascii_lowercase();
    ["syntax", "escape", "check"]
        .contains(&key.as_str())
        .then(|| (key, value.trim().to_owned()))
}

/// The byte index where the first word of `text` ends (quotes and escapes honoured).
fn word_end(text: &str, escape: char) -> usize {
    let mut quote: Option<char> = None;
    let mut it = text.char_indices();
    while let Some((i, c)) = it.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some('"') if c == escape => {
                it.next();
            }
            Some(_) => {}
            None if c.is_whitespace() => return i,
            None if c == escape => {
                it.next();
            }
            None if c == '\'' || c == '"' => quote = Some(c),
            None => {}
        }
    }
    text.len()
}

/// Splits leading `--name=value` flags off `args`.
fn flags(line: usize, mut args: &str, escape: char) -> Result<(Vec<(String, String)>, &str)> {
    let mut out = Vec::new();
    while args.starts_with("--") {
        let end = word_end(args, escape);
        let word = &args[2..end];
        let (name, value) = word.split_once('=').ok_or_else(|| {
            parse_err(line, format!("flag --{word} needs a value (--{word}=...)"))
        })?;
        out.push((name.to_ascii_lowercase(), value.to_owned()));
        args = args[end..].trim_start();
    }
    Ok((out, args))
}

/// A JSON array of strings (the exec form), if `args` is one.
fn json_list(args: &str) -> Option<Vec<String>> {
    args.starts_with('[')
        .then(|| serde_json::from_str::<Vec<String>>(args).ok())
        .flatten()
}

fn shell_or_exec(line: usize, args: &str, what: &str) -> Result<ShellOrExec> {
    if let Some(list) = json_list(args) {
        if list.is_empty() {
            return Err(parse_err(line, format!("{what} needs a command")));
        }
        return Ok(ShellOrExec::Exec(list));
    }
    if args.is_empty() {
        return Err(parse_err(line, format!("{what} needs a command")));
    }
    Ok(ShellOrExec::Shell(args.to_owned()))
}

/// `k=v` pairs (or the legacy `k v` form when `legacy`).
fn pairs(
    line: usize,
    args: &str,
    escape: char,
    what: &str,
    legacy: bool,
) -> Result<Vec<(String, String)>> {
    let words = split_words(args, escape);
    let Some(first) = words.first() else {
        return Err(parse_err(
            line,
            format!("{what} needs at least one argument"),
        ));
    };
    if legacy && !first.contains('=') {
        let value = args[word_end(args, escape)..].trim();
        if value.is_empty() {
            return Err(parse_err(line, format!("{what} {first} needs a value")));
        }
        return Ok(vec![(first.clone(), value.to_owned())]);
    }
    words
        .iter()
        .map(|w| {
            let (k, v) = w.split_once('=').ok_or_else(|| {
                parse_err(
                    line,
                    format!("{what} arguments must be key=value, not {w:?}"),
                )
            })?;
            if k.is_empty() {
                return Err(parse_err(line, format!("{what} has an empty name")));
            }
            Ok((k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// Raw words of a `COPY`/`ADD` source list (the JSON form becomes double-quoted words; with
/// heredocs, `<< NAME` is one word).
fn copy_words(
    line: usize,
    args: &str,
    escape: char,
    what: &str,
    heredocs: bool,
) -> Result<Vec<String>> {
    let words = match serde_json::from_str::<Vec<String>>(args) {
        Ok(list) if args.starts_with('[') => list
            .iter()
            .map(|s| {
                let e = escape.to_string();
                format!(
                    "\"{}\"",
                    s.replace(escape, &(e.clone() + &e))
                        .replace('"', &(e + "\""))
                )
            })
            .collect(),
        _ if heredocs => split_heredoc_words(args, escape),
        _ => split_words(args, escape),
    };
    if words.len() < 2 {
        return Err(parse_err(
            line,
            format!("{what} needs at least one source and a destination"),
        ));
    }
    Ok(words)
}

fn copy_args(
    line: usize,
    args: &str,
    escape: char,
    what: &str,
    allowed: &[&str],
    heredocs: Vec<Heredoc>,
) -> Result<CopyArgs> {
    let (flags, rest) = flags(line, args, escape)?;
    let mut words = copy_words(line, rest, escape, what, !heredocs.is_empty())?;
    let dest = words.pop().unwrap_or_default();
    let mut out = CopyArgs {
        dest,
        ..CopyArgs::default()
    };
    if !heredocs.is_empty() && heredoc_word(&out.dest).is_some() {
        return Err(parse_err(
            line,
            format!("{what} cannot accept a heredoc as a destination"),
        ));
    }
    for w in words {
        // As in BuildKit, a heredoc source is looked up by name (the last one wins).
        let doc = if heredocs.is_empty() {
            None
        } else {
            heredoc_word(&w)
        };
        match doc {
            Some(doc) => {
                let found = heredocs.iter().rev().find(|h| h.name == doc.name);
                out.heredocs.push(Heredoc {
                    content: found.map(|h| h.content.clone()).unwrap_or_default(),
                    ..doc
                });
            }
            None => out.sources.push(w),
        }
    }
    for (name, value) in flags {
        if !allowed.contains(&name.as_str()) {
            return Err(parse_err(
                line,
                format!("{what} --{name} is not supported by hush"),
            ));
        }
        match name.as_str() {
            "from" => out.from = Some(value),
            "chown" => out.chown = Some(value),
            "checksum" => out.checksum = Some(value),
            _ => out.chmod = Some(value),
        }
    }
    Ok(out)
}

fn instruction(
    file: &mut Dockerfile,
    line: usize,
    text: &str,
    heredocs: Vec<Heredoc>,
) -> Result<()> {
    let escape = file.escape;
    let end = word_end(text, escape);
    let keyword = text[..end].to_ascii_uppercase();
    let args = text[end..].trim();
    let command = match keyword.as_str() {
        "FROM" => {
            let (flags, rest) = flags(line, args, escape)?;
            if let Some((name, _)) = flags.first() {
                return Err(parse_err(
                    line,
                    format!("FROM --{name} is not supported by hush"),
                ));
            }
            let words = split_words(rest, escape);
            let (base, name) = match words.as_slice() {
                [base] => (base.clone(), None),
                [base, as_, name] if as_.eq_ignore_ascii_case("as") => {
                    (base.clone(), Some(name.to_ascii_lowercase()))
                }
                _ => return Err(parse_err(line, "FROM takes IMAGE [AS NAME]")),
            };
            file.stages.push(Stage {
                line,
                base,
                name,
                instructions: Vec::new(),
            });
            return Ok(());
        }
        "ARG" => {
            let words = split_words(args, escape);
            if words.is_empty() {
                return Err(parse_err(line, "ARG needs a name"));
            }
            let decls = words
                .into_iter()
                .map(|w| match w.split_once('=') {
                    Some((n, d)) => ArgDecl {
                        name: n.to_owned(),
                        default: Some(d.to_owned()),
                    },
                    None => ArgDecl {
                        name: w,
                        default: None,
                    },
                })
                .collect::<Vec<_>>();
            if decls.iter().any(|d| d.name.is_empty()) {
                return Err(parse_err(line, "ARG has an empty name"));
            }
            if file.stages.is_empty() {
                file.meta_args.push((line, decls));
                return Ok(());
            }
            Command::Arg(decls)
        }
        "RUN" => {
            let (flags, rest) = flags(line, args, escape)?;
            let mut mounts = Vec::new();
            for (name, value) in flags {
                if name != "mount" {
                    return Err(parse_err(
                        line,
                        format!("RUN --{name} is not supported by hush"),
                    ));
                }
                mounts.push(value);
            }
            Command::Run {
                mounts,
                cmd: shell_or_exec(line, rest, "RUN")?,
                heredocs,
            }
        }
        "ENV" => Command::Env(pairs(line, args, escape, "ENV", true)?),
        "LABEL" => Command::Label(pairs(line, args, escape, "LABEL", false)?),
        "WORKDIR" | "USER" => {
            if args.is_empty() {
                return Err(parse_err(line, format!("{keyword} needs an argument")));
            }
            if keyword == "USER" {
                Command::User(args.to_owned())
            } else {
                Command::Workdir(args.to_owned())
            }
        }
        "COPY" => Command::Copy(copy_args(
            line,
            args,
            escape,
            "COPY",
            &["from", "chown", "chmod"],
            heredocs,
        )?),
        "ADD" => Command::Add(copy_args(
            line,
            args,
            escape,
            "ADD",
            &["chown", "chmod", "checksum"],
            heredocs,
        )?),
        "CMD" => Command::Cmd(shell_or_exec(line, args, "CMD")?),
        "ENTRYPOINT" => Command::Entrypoint(shell_or_exec(line, args, "ENTRYPOINT")?),
        "EXPOSE" | "VOLUME" => {
            let words = match json_list(args) {
                Some(list) if keyword == "VOLUME" => list,
                _ => split_words(args, escape),
            };
            if words.is_empty() {
                return Err(parse_err(line, format!("{keyword} needs an argument")));
            }
            if keyword == "EXPOSE" {
                Command::Expose(words)
            } else {
                Command::Volume(words)
            }
        }
        "STOPSIGNAL" | "MAINTAINER" => {
            if args.is_empty() {
                return Err(parse_err(line, format!("{keyword} needs an argument")));
            }
            if keyword == "STOPSIGNAL" {
                Command::StopSignal(args.to_owned())
            } else {
                Command::Maintainer(args.to_owned())
            }
        }
        "SHELL" => match json_list(args) {
            Some(list) if !list.is_empty() => Command::Shell(list),
            _ => {
                return Err(parse_err(
                    line,
                    "SHELL requires the arguments to be in JSON form",
                ))
            }
        },
        "HEALTHCHECK" | "ONBUILD" => {
            return Err(DockerfileError::Unsupported {
                line,
                instruction: keyword,
            })
        }
        _ => {
            return Err(parse_err(
                line,
                format!("unknown instruction {}", &text[..end]),
            ))
        }
    };
    let stage = file.stages.last_mut().ok_or_else(|| {
        parse_err(
            line,
            format!("{keyword} before the first FROM (only ARG may come first)"),
        )
    })?;
    stage.instructions.push(Instruction { line, command });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stages_directives_continuations_and_forms() {
        let df = parse(
            "# syntax=docker/dockerfile:1\n\
             ARG BASE=busybox\n\
             FROM ${BASE} AS Build\n\
             # a comment\n\
             RUN --mount=type=secret,id=a \\\n\
             # comment inside\n\
                 echo hi \\\n\
                 there\n\
             ENV A=1 B=\"two words\"\n\
             ENV LEGACY some value\n\
             from busybox\n\
             COPY --from=build /a /b/\n\
             CMD [\"sh\", \"-c\", \"echo\"]\n\
             ENTRYPOINT echo x\n",
        )
        .unwrap();
        assert_eq!(df.escape, '\\');
        assert_eq!(df.meta_args[0].1[0].default.as_deref(), Some("busybox"));
        assert_eq!(df.stages.len(), 2);
        assert_eq!(df.stages[0].name.as_deref(), Some("build"));
        let run = &df.stages[0].instructions[0];
        assert_eq!(run.line, 5);
        assert_eq!(
            run.command,
            Command::Run {
                mounts: vec!["type=secret,id=a".into()],
                cmd: ShellOrExec::Shell("echo hi there".into()),
                heredocs: vec![],
            }
        );
        assert_eq!(
            df.stages[0].instructions[1].command,
            Command::Env(vec![
                ("A".into(), "1".into()),
                ("B".into(), "\"two words\"".into())
            ])
        );
        assert_eq!(
            df.stages[0].instructions[2].command,
            Command::Env(vec![("LEGACY".into(), "some value".into())])
        );
        assert_eq!(df.stages[1].line, 11);
        let Command::Copy(c) = &df.stages[1].instructions[0].command else {
            panic!()
        };
        assert_eq!(c.from.as_deref(), Some("build"));
        assert_eq!(
            (c.sources.clone(), c.dest.as_str()),
            (vec!["/a".into()], "/b/")
        );
        assert_eq!(
            df.stages[1].instructions[1].command,
            Command::Cmd(ShellOrExec::Exec(vec![
                "sh".into(),
                "-c".into(),
                "echo".into()
            ]))
        );
        let sh = ["/bin/sh".to_owned(), "-c".to_owned()];
        assert_eq!(
            ShellOrExec::Shell("echo x".into()).argv(&sh),
            vec!["/bin/sh", "-c", "echo x"]
        );
    }

    #[test]
    fn escape_directive_and_errors_name_the_line() {
        let df = parse("# escape=`\nFROM busybox\nRUN echo a `\n  b\n").unwrap();
        assert_eq!(df.escape, '`');
        assert_eq!(
            df.stages[0].instructions[0].command,
            Command::Run {
                mounts: vec![],
                cmd: ShellOrExec::Shell("echo a   b".into()),
                heredocs: vec![],
            }
        );
        let e = parse("FROM busybox\n\nONBUILD RUN true\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Dockerfile line 3: unsupported instruction ONBUILD"
        );
        let e = parse("FROM busybox\nFROBNICATE x\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Dockerfile line 2: unknown instruction FROBNICATE"
        );
        let e = parse("FROM busybox\nRUN cat <<EOF\nx\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Dockerfile line 2: unterminated heredoc <<EOF"),
            "{e}"
        );
        let e = parse("RUN x\n").unwrap_err();
        assert!(
            e.to_string().contains("line 1: RUN before the first FROM"),
            "{e}"
        );
        assert!(parse("# just a comment\n").is_err());
        let e = parse("FROM busybox\nRUN --network=none true\n").unwrap_err();
        assert!(
            e.to_string().contains("RUN --network is not supported"),
            "{e}"
        );
    }

    #[test]
    fn copy_json_form_keeps_words_literal() {
        let df = parse("FROM busybox\nCOPY [\"a b\", \"/d\"]\n").unwrap();
        let Command::Copy(c) = &df.stages[0].instructions[0].command else {
            panic!()
        };
        assert_eq!(c.sources, vec!["\"a b\""]);
        assert_eq!(c.dest, "\"/d\"");
    }

    #[test]
    fn add_takes_a_checksum_and_copy_does_not() {
        let df = parse("FROM busybox\nADD --checksum=sha256:ab https://h/f /d/\n").unwrap();
        let Command::Add(c) = &df.stages[0].instructions[0].command else {
            panic!()
        };
        assert_eq!(c.checksum.as_deref(), Some("sha256:ab"));
        let e = parse("FROM busybox\nCOPY --checksum=sha256:ab f /d\n").unwrap_err();
        assert!(
            e.to_string().contains("COPY --checksum is not supported"),
            "{e}"
        );
    }

    fn doc(name: &str, expand: bool, chomp: bool, content: &str) -> Heredoc {
        Heredoc {
            name: name.into(),
            expand,
            chomp,
            content: content.into(),
        }
    }

    fn run(df: &Dockerfile, i: usize) -> (&[String], &ShellOrExec, &[Heredoc]) {
        match &df.stages[0].instructions[i].command {
            Command::Run {
                mounts,
                cmd,
                heredocs,
            } => (mounts, cmd, heredocs),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn heredoc_words_follow_buildkit() {
        let w = |s: &str| heredoc_word(s).map(|h| (h.name, h.expand, h.chomp));
        assert_eq!(w("<<EOF"), Some(("EOF".into(), true, false)));
        assert_eq!(w("<<-EOF"), Some(("EOF".into(), true, true)));
        assert_eq!(w("3<<EOF"), Some(("EOF".into(), true, false)));
        assert_eq!(w("<< EOF"), Some(("EOF".into(), true, false)));
        assert_eq!(w("<<'EOF'"), Some(("EOF".into(), false, false)));
        assert_eq!(w("<<-\"EOF\""), Some(("EOF".into(), false, true)));
        assert_eq!(w("<<eo'f'"), Some(("eof".into(), false, false)));
        // An escaped quote is part of the name and does not stop expansion.
        assert_eq!(w("<<eo\\'f"), Some(("eo'f".into(), true, false)));
        assert_eq!(w("<<'one two'"), Some(("one two".into(), false, false)));
        assert_eq!(w("<<$EOF"), Some(("$EOF".into(), true, false)));
        for not in [
            "<<",
            "<<-",
            "<<<EOF",
            "cat<<EOF",
            "\"<<EOF\"",
            "<<'EOF",
            "x",
        ] {
            assert_eq!(w(not), None, "{not}");
        }
    }

    #[test]
    fn run_heredocs_keep_bodies_raw_and_lines_right() {
        let df = parse(
            "FROM busybox\n\
             RUN <<EOF\n\
             set -e\n\
             # not a comment: part of the script \\\n\
             \n\
             echo $HOME\n\
             EOF\n\
             RUN --mount=type=secret,id=x python3 \\\n\
               <<'PY'\n\
             print('hi')\n\
             PY\n\
             RUN <<-EOF\n\
             \t\techo tabs\n\
             \tEOF\n\
             RUN <<A cat > /a && << B cat > /b\n\
             B\n\
             A\n\
             b-body\n\
             B\n\
             RUN cat <<EOF <<-EOF\n\
             first\n\
             EOF\n\
             second\n\
             \tEOF\n\
             COPY [\"<<EOF\", \"/x\"]\n\
             RUN echo '<<EOF' \"<<X\" a<<b\n\
             BOGUS\n",
        );
        // The last RUN has no heredoc (quoted, or not a word of its own), so BOGUS is an
        // instruction, and its line number counts every heredoc line before it.
        let e = df.unwrap_err();
        assert_eq!(
            e.to_string(),
            "Dockerfile line 27: unknown instruction BOGUS"
        );
        let text = "FROM busybox\n\
             RUN <<EOF\n\
             set -e\n\
             # not a comment: part of the script \\\n\
             \n\
             echo $HOME\n\
             EOF\n\
             RUN --mount=type=secret,id=x python3 \\\n\
               <<'PY'\n\
             print('hi')\n\
             PY\n\
             RUN <<-EOF\n\
             \t\techo tabs\n\
             \tEOF\n\
             RUN <<A cat > /a && << B cat > /b\n\
             B\n\
             A\n\
             b-body\n\
             B\n\
             RUN cat <<EOF <<-EOF\n\
             first\n\
             EOF\n\
             second\n\
             \tEOF\n\
             ENV AFTER=1\n";
        let df = parse(text).unwrap();
        let ins = &df.stages[0].instructions;
        assert_eq!(
            ins.iter().map(|i| i.line).collect::<Vec<_>>(),
            [2, 8, 12, 15, 20, 25]
        );
        let (_, cmd, docs) = run(&df, 0);
        assert_eq!(cmd, &ShellOrExec::Shell("<<EOF".into()));
        assert_eq!(
            docs,
            [doc(
                "EOF",
                true,
                false,
                "set -e\n# not a comment: part of the script \\\n\necho $HOME\n"
            )]
        );
        let (mounts, cmd, docs) = run(&df, 1);
        assert_eq!(mounts, ["type=secret,id=x"]);
        assert_eq!(cmd, &ShellOrExec::Shell("python3 <<'PY'".into()));
        assert_eq!(docs, [doc("PY", false, false, "print('hi')\n")]);
        let (_, _, docs) = run(&df, 2);
        assert_eq!(docs, [doc("EOF", true, true, "\t\techo tabs\n")]);
        assert_eq!(docs[0].body(), "echo tabs\n");
        // Bodies are read in the order of the words; only the current terminator ends one.
        let (_, _, docs) = run(&df, 3);
        assert_eq!(
            docs,
            [
                doc("A", true, false, "B\n"),
                doc("B", true, false, "b-body\n")
            ]
        );
        let (_, _, docs) = run(&df, 4);
        assert_eq!(
            docs,
            [
                doc("EOF", true, false, "first\n"),
                doc("EOF", true, true, "second\n")
            ]
        );
        assert_eq!(
            ins[5].command,
            Command::Env(vec![("AFTER".into(), "1".into())])
        );
    }

    #[test]
    fn copy_heredocs_become_inline_sources() {
        let df = parse(
            "FROM busybox\n\
             COPY --chmod=755 <<EOF /usr/local/bin/hello\n\
             #!/bin/sh\n\
             echo \"hello $NAME\"\n\
             EOF\n\
             COPY ctx.txt <<a.txt <<'b.txt' /dir/\n\
             a $X\n\
             a.txt\n\
             b $X\n\
             b.txt\n\
             ADD <<EOF /added\n\
             EOF\n",
        )
        .unwrap();
        let ins = &df.stages[0].instructions;
        let Command::Copy(c) = &ins[0].command else {
            panic!()
        };
        assert_eq!(c.chmod.as_deref(), Some("755"));
        assert!(c.sources.is_empty());
        assert_eq!(c.dest, "/usr/local/bin/hello");
        assert_eq!(
            c.heredocs,
            [doc("EOF", true, false, "#!/bin/sh\necho \"hello $NAME\"\n")]
        );
        assert_eq!(ins[1].line, 6);
        let Command::Copy(c) = &ins[1].command else {
            panic!()
        };
        assert_eq!(c.sources, ["ctx.txt"]);
        assert_eq!(
            c.heredocs,
            [
                doc("a.txt", true, false, "a $X\n"),
                doc("b.txt", false, false, "b $X\n")
            ]
        );
        assert_eq!(ins[2].line, 11);
        let Command::Add(c) = &ins[2].command else {
            panic!()
        };
        assert_eq!(c.heredocs, [doc("EOF", true, false, "")]);
        let e = parse("FROM busybox\nCOPY a <<EOF\nx\nEOF\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Dockerfile line 2: COPY cannot accept a heredoc as a destination"
        );
    }

    #[test]
    fn a_missing_terminator_names_the_instruction_line() {
        let e = parse("FROM busybox\n\nRUN <<EOF\necho hi\n  EOF\nEOF \n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Dockerfile line 3: unterminated heredoc <<EOF: no line \"EOF\" ends it before the end of the Dockerfile"
        );
        // The second of two heredocs, on a continuation line.
        let e = parse("FROM busybox\nCOPY <<A \\\n  <<B /d/\nA\nB-not\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Dockerfile line 2: unterminated heredoc <<B"),
            "{e}"
        );
        // Not a heredoc instruction: `<<` is left to the shell of CMD, and ENV keeps it.
        let df = parse("FROM busybox\nCMD cat <<EOF\nENV A=<<B\n").unwrap();
        assert_eq!(df.stages[0].instructions.len(), 2);
    }
}
