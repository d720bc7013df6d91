//! Scenario files (`NN-name.nbctl`): one `ovn-nbctl` command per line, shell
//! quoting, `\` continuation, `#` comments, `# tier:` and `# allow-warn:`
//! headers, `@sb ` lines for `ovn-sbctl`, `@sb-late ` lines for `ovn-sbctl`
//! once northd has translated the rest (SB state ovn-controller would write
//! about rows northd creates, such as `IGMP_Group`). Parsing only: no
//! process is run here.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// Which tool a command is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Nbctl,
    Sbctl,
}

/// One command of a scenario, split into words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub tool: Tool,
    pub args: Vec<String>,
    /// 1-based line where the command starts.
    pub line: usize,
    /// The command's text, continuation lines joined, without `@sb `.
    pub text: String,
    /// An `@sb-late ` command: run once northd has translated the other
    /// commands, then northd translates again.
    pub late: bool,
}

/// A parsed scenario file.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// File name without `.nbctl`.
    pub name: String,
    pub tier: Option<u8>,
    /// Northd warnings matching this are allowed.
    pub allow_warn: Option<String>,
    pub commands: Vec<Command>,
}

/// Errors of scenario parsing.
#[derive(Debug, Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A quote is not closed at the end of a command.
    #[error("{name}:{line}: unterminated quote")]
    Unterminated { name: String, line: usize },
    /// A `# tier:` header that is not 1, 2 or 3.
    #[error("{name}:{line}: bad tier {value:?}")]
    BadTier { name: String, line: usize, value: String },
}

/// Splits a command line into words with POSIX shell quoting rules (single
/// quotes, double quotes with `\` escapes of `"`, `\`, `$` and backquote,
/// backslash outside quotes). An unquoted `#` at the start of a word starts a
/// comment. Returns `None` on an unterminated quote.
pub fn split_words(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '#' if !in_word => break,
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => cur.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            c @ ('"' | '\\' | '$' | '`') => cur.push(c),
                            '\n' => {}
                            c => {
                                cur.push('\\');
                                cur.push(c);
                            }
                        },
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(c) => cur.push(c),
                    None => {}
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Some(words)
}

/// Parses the text of a scenario named `name`.
pub fn parse(name: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let mut sc = Scenario { name: name.to_string(), tier: None, allow_warn: None, commands: Vec::new() };
    let mut pending = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        if pending.is_empty() {
            start = lineno;
            let t = raw.trim();
            if let Some(v) = t.strip_prefix("# tier:") {
                let v = v.trim();
                sc.tier = Some(match v.parse::<u8>() {
                    Ok(n @ 1..=3) => n,
                    _ => return Err(ScenarioError::BadTier { name: name.into(), line: lineno, value: v.into() }),
                });
                continue;
            }
            if let Some(v) = t.strip_prefix("# allow-warn:") {
                sc.allow_warn = Some(v.trim().to_string());
                continue;
            }
        }
        if let Some(head) = raw.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(raw);
        let line = std::mem::take(&mut pending);
        let trimmed = line.trim_start();
        let (tool, late, rest) = match (trimmed.strip_prefix("@sb "), trimmed.strip_prefix("@sb-late ")) {
            (Some(rest), _) => (Tool::Sbctl, false, rest),
            (_, Some(rest)) => (Tool::Sbctl, true, rest),
            _ => (Tool::Nbctl, false, trimmed),
        };
        let args = split_words(rest).ok_or(ScenarioError::Unterminated { name: name.into(), line: start })?;
        if !args.is_empty() {
            sc.commands.push(Command { tool, args, line: start, text: rest.to_string(), late });
        }
    }
    if !pending.trim().is_empty() {
        let args = split_words(&pending).ok_or(ScenarioError::Unterminated { name: name.into(), line: start })?;
        if !args.is_empty() {
            sc.commands.push(Command { tool: Tool::Nbctl, args, line: start, text: pending.clone(), late: false });
        }
    }
    Ok(sc)
}

/// Reads one scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ScenarioError::Io { path: path.to_path_buf(), source })?;
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    parse(name, &text)
}

/// Reads every `*.nbctl` file of a directory, sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    let io = |source| ScenarioError::Io { path: dir.to_path_buf(), source };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "nbctl"))
        .collect();
    paths.sort();
    paths.iter().map(|p| load(p)).collect()
}

/// The scenarios shipped with the crate.
pub fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        split_words(s).unwrap()
    }

    #[test]
    fn quoting() {
        assert_eq!(
            w(r#"lsp-set-addresses vm1 "00:00:00:00:00:11 10.0.0.11""#),
            ["lsp-set-addresses", "vm1", "00:00:00:00:00:11 10.0.0.11"]
        );
        assert_eq!(
            w(r#"acl-add sw0 to-lport 100 'outport == "p1"' allow"#),
            ["acl-add", "sw0", "to-lport", "100", "outport == \"p1\"", "allow"]
        );
        assert_eq!(w(r#"a "x\"y" b\ c # comment"#), ["a", "x\"y", "b c"]);
        assert_eq!(w(r#"a""b ''"#), ["ab", ""]);
        assert_eq!(split_words("a 'b"), None);
    }

    #[test]
    fn headers_continuation_and_sbctl() {
        let text = "# tier: 2\n# allow-warn: Duplicate IP\n# a comment\nls-add sw0 \\\n  -- set x y\n\n@sb chassis-add gw1 geneve 1.1.1.1\n@sb-late destroy IGMP_Group x\n";
        let sc = parse("t", text).unwrap();
        assert_eq!(sc.tier, Some(2));
        assert_eq!(sc.allow_warn.as_deref(), Some("Duplicate IP"));
        assert_eq!(sc.commands.len(), 3);
        assert_eq!((sc.commands[2].tool, sc.commands[2].late), (Tool::Sbctl, true));
        assert_eq!(sc.commands[2].args, ["destroy", "IGMP_Group", "x"]);
        assert!(!sc.commands[1].late);
        assert_eq!(sc.commands[0].args, ["ls-add", "sw0", "--", "set", "x", "y"]);
        assert_eq!(sc.commands[0].line, 4);
        assert_eq!(sc.commands[1].tool, Tool::Sbctl);
        assert_eq!(sc.commands[1].args, ["chassis-add", "gw1", "geneve", "1.1.1.1"]);
    }

    /// Every command of the shipped scenarios splits as bash splits it.
    #[test]
    fn shipped_scenarios_split_like_bash() {
        for sc in load_dir(&scenario_dir()).unwrap() {
            for c in &sc.commands {
                let script = format!("f() {{ for a in \"$@\"; do printf '%s\\0' \"$a\"; done; }}; f {}", c.text);
                let out = std::process::Command::new("bash").arg("-c").arg(&script).output().unwrap();
                assert!(out.status.success(), "{}:{}: bash failed", sc.name, c.line);
                let words: Vec<String> =
                    String::from_utf8(out.stdout).unwrap().split_terminator('\0').map(str::to_string).collect();
                assert_eq!(c.args, words, "{}:{}", sc.name, c.line);
            }
        }
    }

    #[test]
    fn shipped_scenarios_parse() {
        let all = load_dir(&scenario_dir()).unwrap();
        assert!(all.len() >= 24);
        for sc in &all {
            assert!(!sc.commands.is_empty(), "{}", sc.name);
            assert!(sc.tier.is_some(), "{} has no tier", sc.name);
        }
    }
}
