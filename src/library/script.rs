//! Library scripts (kind `script`): one shell script, run on instances through SSM Run Command
//! (`AWS-RunShellScript`). What is checked of its text when it is added, and the text that is
//! sent: the script with a fixed preamble that gives its typed parameters as environment
//! variables (`OPSDECK_<NAME>`), each value written into the text only as base64, so no value
//! is ever shell syntax. Nothing here runs a shell: `pipeline/library/scripts.rs` does.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Values;
use crate::error::{Error, Result};

/// The largest script: what one Run Command sends, the preamble aside.
pub const MAX_SCRIPT_BYTES: usize = 64 * 1024;
/// Every parameter's environment variable starts with this, so none can be PATH, IFS,
/// LD_PRELOAD, BASH_ENV or any other name a shell or the loader gives a meaning to.
pub const ENV_PREFIX: &str = "OPSDECK_";
/// The exit status of a script whose preamble could not decode a value (`base64 -d` missing or
/// failing): it stops before the script's first line.
pub const PREAMBLE_FAILED: i32 = 125;

/// The shell that runs a script: its first line says which (`#!/bin/bash`,
/// `#!/usr/bin/env bash`, `#!/bin/sh`); a script without one runs with `sh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shell {
    Bash,
    Sh,
}

impl Shell {
    pub fn as_str(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Sh => "sh",
        }
    }
}

/// The first lines a script may start with, and the shell each names.
const SHEBANGS: &[(&str, Shell)] = &[
    ("#!/bin/bash", Shell::Bash),
    ("#!/usr/bin/env bash", Shell::Bash),
    ("#!/bin/sh", Shell::Sh),
];

/// The shell a script asks for, and whether its first line is a shebang.
pub fn shell_of(text: &str) -> Result<(Shell, bool)> {
    let first = text.lines().next().unwrap_or_default();
    if !first.starts_with("#!") {
        return Ok((Shell::Sh, false));
    }
    let first = first.trim_end_matches([' ', '\t']);
    SHEBANGS
        .iter()
        .find(|(s, _)| *s == first)
        .map(|(_, shell)| (*shell, true))
        .ok_or_else(|| {
            Error::input(format!(
                "the script's first line '{}' names a shell opsdeck does not run: #!/bin/bash, #!/usr/bin/env bash, #!/bin/sh, or no shebang for sh",
                crate::sanitize::line(first)
            ))
        })
}

/// A script's text as it may be added: a `.sh` file, UTF-8, at most [`MAX_SCRIPT_BYTES`], no
/// NUL or control character other than tab and newline (a carriage return is refused: Unix
/// line endings), no hidden character (bidi overrides, zero-width), a shebang opsdeck knows.
pub fn check_text(name: &str, bytes: &[u8]) -> Result<Shell> {
    if !name.ends_with(".sh") {
        return Err(Error::input(format!(
            "{} is not a .sh file: a script entry is one shell script",
            crate::sanitize::line(name)
        )));
    }
    if bytes.len() > MAX_SCRIPT_BYTES {
        return Err(Error::input(format!(
            "{name} is {} bytes; a script sent through SSM is at most {} KiB: install larger programs as a package and run them from a short script",
            bytes.len(),
            MAX_SCRIPT_BYTES / 1024
        )));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Error::input(format!("{name} is not UTF-8 text ({e})")))?;
    if text.trim().is_empty() {
        return Err(Error::input(format!("{name} is empty")));
    }
    for (i, line) in text.split('\n').enumerate() {
        let bad = line
            .chars()
            .find(|c| (c.is_control() && *c != '\t') || crate::plan::verify::is_hidden(*c));
        if let Some(c) = bad {
            let what = match c {
                '\r' => "a carriage return (save the file with Unix line endings)".to_string(),
                '\0' => "a NUL byte".to_string(),
                c if c.is_control() => format!("the control character U+{:04X}", c as u32),
                c => format!(
                    "the hidden character U+{:04X}, which shows the text differently from what the shell runs",
                    c as u32
                ),
            };
            return Err(Error::input(format!(
                "line {} of {name} holds {what}: nothing was added",
                i + 1
            )));
        }
    }
    Ok(shell_of(text)?.0)
}

/// The environment variable a parameter reaches the script as: `keep_days` is
/// `OPSDECK_KEEP_DAYS` (parameter names are lowercase letters, digits and `_`, starting with a
/// letter, so this is a shell identifier).
pub fn env_name(param: &str) -> String {
    format!("{ENV_PREFIX}{}", param.to_ascii_uppercase())
}

/// Values a script takes: besides their types' checks, no hidden character (a bidi override
/// would show the approver something else than what the script reads).
pub fn check_values(values: &Values) -> Result<()> {
    for (name, v) in values {
        if let Value::String(s) = v
            && let Some((_, c)) = crate::plan::verify::hidden_character(s)
        {
            return Err(Error::input(format!(
                "parameter {name} holds the hidden character U+{:04X}: a script's values are shown to the approver as they are, so they hold no hidden characters",
                c as u32
            )));
        }
    }
    Ok(())
}

/// A value as the script reads it: a string as given, a number as written (3, 2.5), a bool as
/// `true` or `false`.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The preamble's lines: a comment, then one line per parameter that exports its variable and
/// sets it from base64 (only `A-Z a-z 0-9 + / =` inside single quotes: no quote, `$`, backslash
/// or newline a value could bring), stopping the script when decoding fails.
pub fn preamble(label: &str, values: &Values) -> Vec<String> {
    let mut lines = vec![format!(
        "# opsdeck: library script {label}. Parameters follow as environment variables, each value base64-encoded so that no value is shell syntax."
    )];
    for (name, v) in values {
        let env = env_name(name);
        let b64 = base64::engine::general_purpose::STANDARD.encode(value_text(v));
        lines.push(format!(
            "export {env}; {env}=\"$(printf %s '{b64}' | base64 -d)\" || exit {PREAMBLE_FAILED}"
        ));
    }
    lines
}

/// The text sent to the instances: the script's shebang line (if any) first, so the shell it
/// names runs it, then the preamble, then the rest of the script as added.
#[derive(Debug, Clone, PartialEq)]
pub struct Composed {
    pub text: String,
    /// Where the preamble starts (0-based line) and how many lines it has: the script's own
    /// line N is line N + `preamble_lines` of what runs when N is after the shebang.
    pub preamble_at: usize,
    pub preamble_lines: usize,
}

pub fn compose(script: &str, label: &str, values: &Values) -> Result<Composed> {
    let (_, shebang) = shell_of(script)?;
    let lines = preamble(label, values);
    let mut text = String::new();
    let rest = if shebang {
        let (first, rest) = script.split_once('\n').unwrap_or((script, ""));
        text.push_str(first);
        text.push('\n');
        rest
    } else {
        script
    };
    for l in &lines {
        text.push_str(l);
        text.push('\n');
    }
    text.push_str(rest);
    Ok(Composed {
        text,
        preamble_at: usize::from(shebang),
        preamble_lines: lines.len(),
    })
}

/// What a plan's SendCommand step records about the script it sends (`input.script`): which
/// library version, the shell, where the preamble is in the text, and the text's SHA-256,
/// which the executor checks before it sends.
pub fn step_record(
    entry: &str,
    version: Option<u32>,
    manifest_sha256: Option<&str>,
    file: &str,
    shell: Shell,
    composed: &Composed,
    approved: Option<bool>,
) -> Value {
    let mut v = json!({
        "entry": entry,
        "file": file,
        "shell": shell,
        "preamble_at": composed.preamble_at,
        "preamble_lines": composed.preamble_lines,
        "sha256": crate::plan::sha256_hex(composed.text.as_bytes()),
    });
    if let (Some(version), Some(sha)) = (version, manifest_sha256) {
        v["library"] = json!({
            "version": version,
            "label": format!("{entry}@{version}"),
            "manifest_sha256": sha,
            "approved": approved.unwrap_or(false),
        });
    }
    v
}

/// The policy input's `script` for a step that sends one (`input.script` in the step): name,
/// shell, the script's own lines (the preamble left out, so line numbers are the file's), and
/// the library version when there is one. None for any other step.
pub fn policy_input(step_input: &Value) -> Option<Value> {
    let record = step_input.get("script").filter(|s| s.is_object())?;
    let text = step_input["commands"]
        .as_array()
        .and_then(|c| c.first())
        .and_then(Value::as_str)
        .unwrap_or_default();
    let at = record["preamble_at"].as_u64().unwrap_or(0) as usize;
    let n = record["preamble_lines"].as_u64().unwrap_or(0) as usize;
    let lines: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i < at || *i >= at + n)
        .map(|(_, l)| l)
        .collect();
    let mut v = json!({
        "name": record["entry"],
        "file": record["file"],
        "shell": record["shell"],
        "lines": lines,
    });
    if let Some(lib) = record.get("library").filter(|l| l.is_object()) {
        v["library"] = lib.clone();
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, Value)]) -> Values {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn shebangs_name_the_shell() {
        assert_eq!(shell_of("#!/bin/bash\necho").unwrap(), (Shell::Bash, true));
        assert_eq!(
            shell_of("#!/usr/bin/env bash\n").unwrap(),
            (Shell::Bash, true)
        );
        assert_eq!(shell_of("#!/bin/sh\n").unwrap(), (Shell::Sh, true));
        assert_eq!(shell_of("echo hi\n").unwrap(), (Shell::Sh, false));
        for bad in ["#!/usr/bin/python3\n", "#!/bin/bash -e\n", "#!/bin/zsh\n"] {
            assert!(shell_of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_checks() {
        assert_eq!(
            check_text("a.sh", b"#!/bin/bash\necho\tok\n").unwrap(),
            Shell::Bash
        );
        assert!(check_text("a.py", b"echo\n").is_err());
        assert!(check_text("a.sh", b"\n \n").is_err());
        assert!(check_text("a.sh", b"echo \xff\n").is_err());
        let too_big = vec![b'#'; MAX_SCRIPT_BYTES + 1];
        assert!(check_text("a.sh", &too_big).is_err());
        for (bad, said) in [
            ("echo ok\r\n", "carriage return"),
            ("echo \0\n", "NUL"),
            ("echo \u{1b}[2J\n", "U+001B"),
            ("echo ok # \u{202e}kcehc\n", "U+202E"),
            ("echo a\u{200b}b\n", "U+200B"),
        ] {
            let e = check_text("a.sh", bad.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(said) && e.contains("line 1"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn hidden_characters_in_values_are_refused() {
        assert!(check_values(&values(&[("a", json!("plain; $(id)"))])).is_ok());
        assert!(check_values(&values(&[("a", json!("x\u{202e}y"))])).is_err());
    }

    #[test]
    fn the_preamble_writes_only_base64_and_keeps_line_numbers_after_the_shebang() {
        let v = values(&[("keep_days", json!(7)), ("path", json!("'; rm -rf / #"))]);
        let c = compose(
            "#!/bin/bash\nset -eu\necho \"$OPSDECK_PATH\"\n",
            "clean@1",
            &v,
        )
        .unwrap();
        let lines: Vec<&str> = c.text.lines().collect();
        assert_eq!(lines[0], "#!/bin/bash");
        assert_eq!(c.preamble_at, 1);
        assert_eq!(c.preamble_lines, 3);
        assert_eq!(lines[4], "set -eu");
        assert!(!c.text.contains("rm -rf"), "{}", c.text);
        assert!(c.text.contains("export OPSDECK_KEEP_DAYS; OPSDECK_KEEP_DAYS=\"$(printf %s 'Nw==' | base64 -d)\" || exit 125"), "{}", c.text);
        let no_shebang = compose("echo hi\n", "x@2", &Values::new()).unwrap();
        assert_eq!(no_shebang.preamble_at, 0);
        assert!(no_shebang.text.ends_with("\necho hi\n"));
        // The policy sees the file's own lines.
        let input = json!({"commands": [c.text], "script": step_record("clean", Some(1), Some("ab"), "clean.sh", Shell::Bash, &c, Some(true))});
        let p = policy_input(&input).unwrap();
        assert_eq!(
            p["lines"],
            json!(["#!/bin/bash", "set -eu", "echo \"$OPSDECK_PATH\""])
        );
        assert_eq!(p["library"]["label"], "clean@1");
        assert!(policy_input(&json!({"commands": ["uptime"]})).is_none());
    }

    /// The values round-trip through a real shell: what the script reads is what was given,
    /// and nothing of them ran.
    #[test]
    fn values_reach_a_real_shell_as_given() {
        let Some(bash) = crate::exec::find_binary("bash") else {
            return;
        };
        let hostile = [
            "'; rm -rf / #",
            "$(id)",
            "`id`",
            "\"$HOME\" \\ end",
            "a'b\"c",
            "-n",
            "",
        ];
        for (i, h) in hostile.iter().enumerate() {
            let v = values(&[("given", json!(h)), ("n", json!(2.5)), ("on", json!(true))]);
            let script = "#!/bin/bash\nprintf '%s|%s|%s' \"$OPSDECK_GIVEN\" \"$OPSDECK_N\" \"$OPSDECK_ON\"\n";
            let c = compose(script, "t@1", &v).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join(format!("s{i}.sh"));
            std::fs::write(&file, &c.text).unwrap();
            let out = std::process::Command::new(&bash)
                .arg(&file)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .output()
                .unwrap();
            assert!(out.status.success(), "{h:?}: {out:?}");
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                format!("{h}|2.5|true"),
                "{h:?}"
            );
        }
    }
}
