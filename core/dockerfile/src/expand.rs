//! Word splitting, quote removal and variable expansion of instruction arguments, as
//! Docker's shell lexer does them: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:+alt}` and `${VAR+alt}`; single quotes are literal, double quotes expand, the
//! escape character (`\` or the `# escape=` directive's) quotes the next character.

/// Looks a variable up; `None` when it is unset.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Splits `text` at unquoted, unescaped whitespace, keeping quotes and escapes in the words
/// (for [`process`] later).
pub fn split_words(text: &str, escape: char) -> Vec<String> {
    split(text, escape, false)
}

/// [`split_words`], except that whitespace right after an unquoted `<<` stays in the word, as
/// BuildKit's lexer has it, so `<< EOF` is one (heredoc) word.
pub fn split_heredoc_words(text: &str, escape: char) -> Vec<String> {
    split(text, escape, true)
}

fn split(text: &str, escape: char, heredocs: bool) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == escape && q == '"' {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                in_word = true;
                cur.push(c);
                if c == escape {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                } else if c == '\'' || c == '"' {
                    quote = Some(c);
                } else if heredocs && c == '<' && chars.peek() == Some(&'<') {
                    cur.push('<');
                    chars.next();
                    while let Some(&w) = chars.peek().filter(|w| w.is_whitespace()) {
                        cur.push(w);
                        chars.next();
                    }
                }
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// Removes quotes and escapes from one word and expands its variables.
pub fn process(word: &str, escape: char, vars: Lookup<'_>) -> Result<String, String> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == escape {
            if let Some(&n) = chars.get(i + 1) {
                out.push(n);
            }
            i += 2;
        } else if c == '\'' {
            let end = find(&chars, i + 1, '\'').ok_or("unmatched single quote")?;
            out.extend(&chars[i + 1..end]);
            i = end + 1;
        } else if c == '"' {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unmatched double quote".into()),
                    Some('"') => break,
                    Some(&e) if e == escape => {
                        match chars.get(i + 1) {
                            Some(&n) if n == '"' || n == '$' || n == escape => out.push(n),
                            Some(&n) => {
                                out.push(e);
                                out.push(n);
                            }
                            None => out.push(e),
                        }
                        i += 2;
                    }
                    Some('$') => i = variable(&chars, i, escape, vars, &mut out)?,
                    Some(&o) => {
                        out.push(o);
                        i += 1;
                    }
                }
            }
            i += 1;
        } else if c == '$' {
            i = variable(&chars, i, escape, vars, &mut out)?;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Ok(out)
}

/// Expands the variables of a heredoc body (`COPY <<EOF`), as BuildKit does: `$VAR` and
/// `${VAR...}` are replaced and the escape character quotes the next character (it is
/// removed), but quotes are kept: the body is file content, not Dockerfile words.
pub fn process_raw(text: &str, escape: char, vars: Lookup<'_>) -> Result<String, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == escape {
            if let Some(&n) = chars.get(i + 1) {
                out.push(n);
            }
            i += 2;
        } else if c == '$' {
            i = variable(&chars, i, escape, vars, &mut out)?;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Ok(out)
}

fn find(chars: &[char], from: usize, c: char) -> Option<usize> {
    (from..chars.len()).find(|&j| chars[j] == c)
}

fn is_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expands the variable at `chars[i] == '$'`; returns the index after it.
fn variable(
    chars: &[char],
    i: usize,
    escape: char,
    vars: Lookup<'_>,
    out: &mut String,
) -> Result<usize, String> {
    match chars.get(i + 1) {
        Some('{') => {
            let mut depth = 1;
            let mut j = i + 2;
            while j < chars.len() {
                match chars[j] {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            if j >= chars.len() {
                return Err("missing '}' in a variable reference".into());
            }
            let inner: String = chars[i + 2..j].iter().collect();
            let name_len = inner.chars().take_while(|&c| is_name(c)).count();
            let (name, rest) = inner.split_at(name_len);
            if name.is_empty() {
                return Err(format!("bad substitution ${{{inner}}}"));
            }
            let value = vars(name);
            let expanded = |w: &str| process(w, escape, vars);
            let result = match rest {
                "" => value.unwrap_or_default(),
                r if r.starts_with(":-") => match value.filter(|v| !v.is_empty()) {
                    Some(v) => v,
                    None => expanded(&r[2..])?,
                },
                r if r.starts_with('-') => match value {
                    Some(v) => v,
                    None => expanded(&r[1..])?,
                },
                r if r.starts_with(":+") => match value.filter(|v| !v.is_empty()) {
                    Some(_) => expanded(&r[2..])?,
                    None => String::new(),
                },
                r if r.starts_with('+') => match value {
                    Some(_) => expanded(&r[1..])?,
                    None => String::new(),
                },
                _ => return Err(format!("unsupported modifier in ${{{inner}}}")),
            };
            out.push_str(&result);
            Ok(j + 1)
        }
        Some(&c) if is_name(c) && !c.is_ascii_digit() => {
            let mut j = i + 1;
            while j < chars.len() && is_name(chars[j]) {
                j += 1;
            }
            let name: String = chars[i + 1..j].iter().collect();
            out.push_str(&vars(&name).unwrap_or_default());
            Ok(j)
        }
        _ => {
            out.push('$');
            Ok(i + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "A" => Some("alpha".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn p(w: &str) -> String {
        process(w, '\\', &vars).unwrap()
    }

    #[test]
    fn expands_every_form() {
        assert_eq!(p("$A/${A}x"), "alpha/alphax");
        assert_eq!(
            p("${B:-def}|${EMPTY:-def}|${EMPTY-def}|${B-d2}"),
            "def|def||d2"
        );
        assert_eq!(
            p("${A:+set}|${B:+set}|${EMPTY+set}|${EMPTY:+set}"),
            "set||set|"
        );
        assert_eq!(p("${B:-$A}"), "alpha");
        assert_eq!(p("'$A' \"$A\" \\$A"), "$A alpha $A");
        assert_eq!(p("a$"), "a$");
        assert!(process("${", '\\', &vars).is_err());
        assert!(process("'x", '\\', &vars).is_err());
        assert!(process("${A:?x}", '\\', &vars).is_err());
    }

    #[test]
    fn splits_outside_quotes() {
        assert_eq!(
            split_words(r#"a="x y" b c\ d 'e f'"#, '\\'),
            vec![r#"a="x y""#, "b", r"c\ d", "'e f'"]
        );
        assert_eq!(split_words("  ", '\\'), Vec::<String>::new());
        assert_eq!(split_words("a`  b", '`'), vec!["a` ", "b"]);
        assert_eq!(split_words("cat << EOF", '\\'), vec!["cat", "<<", "EOF"]);
        assert_eq!(
            split_heredoc_words("cat << EOF '<< x' a<<  b", '\\'),
            vec!["cat", "<< EOF", "'<< x'", "a<<  b"]
        );
    }

    #[test]
    fn raw_expansion_keeps_quotes() {
        let raw = |t: &str| process_raw(t, '\\', &vars).unwrap();
        assert_eq!(
            raw("'$A' \"${A}\" \\$A \\\\ x\n"),
            "'alpha' \"alpha\" $A \\ x\n"
        );
        assert_eq!(raw("${B:-d} $EMPTY."), "d .");
    }
}
