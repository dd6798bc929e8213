//! A script entry's checks before it is added: its text (`library::script::check_text`), the
//! real shell's syntax check (`bash -n` or `sh -n`, run as a process with no shell in between),
//! the credentials check, and the policy gates, which judge it as the SSM run it would make
//! (`input.script`: the `script.*` starter rules read its lines).

use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::events::{AgentEvent, Sink};
use crate::exec;
use crate::intent::AgentKind;
use crate::library::script::{self, Shell};
use crate::library::{self, Manifest};
use crate::redact::redact;

use super::super::Library;

/// Lines of the shell's complaint quoted in a refusal.
const SYNTAX_LINES: usize = 5;

impl Library<'_> {
    /// Every check a script passes before it is added; the checks made and the policies' notes.
    pub(super) fn check_script(
        &self,
        manifest: &Manifest,
        files: &[(String, Vec<u8>)],
        sink: Sink<'_>,
    ) -> Result<(Vec<String>, Vec<String>)> {
        let [(file, bytes)] = files else {
            return Err(Error::input("a script entry is one .sh file"));
        };
        let shell = script::check_text(file, bytes)?;
        let text = String::from_utf8_lossy(bytes);
        if redact(&text) != text {
            return Err(Error::refused(format!(
                "the policy gates refuse library entry {}: secrets.in_artifacts: {file} contains what looks like a credential; read secrets on the instance (Secrets Manager, SSM Parameter Store), never write them in a script. nothing was added",
                manifest.name
            )));
        }
        self.shell_syntax(&manifest.name, shell, file, bytes, sink)?;
        let defaults: library::Values = manifest
            .params
            .iter()
            .filter_map(|p| Some((p.name.clone(), p.default.clone()?)))
            .collect();
        script::check_values(&defaults)?;
        let composed = script::compose(&text, &manifest.name, &defaults)?;
        let send = crate::agents::ops::ScriptSend {
            entry: &manifest.name,
            version: None,
            file,
            shell,
            composed: &composed,
            approved: false,
        };
        // Judged as a run on the instances a request will name: which ones does not change
        // what its lines do.
        let draft = crate::agents::ops::script_draft(
            &self.tenant.default_region,
            Vec::new(),
            Vec::new(),
            "the instances a request names",
            &send,
            "",
        );
        let notes = self.judge_entry(manifest, draft, &[], &[])?;
        Ok((
            vec![
                format!("{} -n", shell.as_str()),
                "credentials".into(),
                "policy gates".into(),
            ],
            notes,
        ))
    }

    /// The shell the script names reads it without running it (`-n`): a script it refuses is
    /// refused with its own words. The shell runs with an empty environment (no BASH_ENV or
    /// ENV file is read) in a scratch directory holding only the script.
    fn shell_syntax(
        &self,
        entry: &str,
        shell: Shell,
        file: &str,
        bytes: &[u8],
        sink: Sink<'_>,
    ) -> Result<()> {
        let Some(bin) = exec::find_binary(shell.as_str()) else {
            return Err(Error::Unavailable(format!(
                "{} is not installed (not on PATH): library scripts are syntax-checked before they are added, so nothing was added",
                shell.as_str()
            )));
        };
        sink(AgentEvent::Progress {
            agent: AgentKind::Ops,
            message: format!("checking library script {entry} with {} -n", shell.as_str()),
        });
        let dir = self.scratch_dir()?;
        let path = dir.path.join(file);
        std::fs::write(&path, bytes)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        // `-n` reads the script and runs nothing, so it ends once the file is read.
        let out = Command::new(&bin)
            .arg("-n")
            .arg(file)
            .current_dir(&dir.path)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::io(format!("running {} -n", bin.display()), e))?;
        if out.status.success() {
            return Ok(());
        }
        let said = String::from_utf8_lossy(&out.stderr);
        let said: Vec<String> = said
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(SYNTAX_LINES)
            .map(|l| crate::sanitize::line(l).into_owned())
            .collect();
        Err(Error::input(format!(
            "{} -n refused library script {entry}: {}. nothing was added",
            shell.as_str(),
            if said.is_empty() {
                format!("it exited with {}", out.status)
            } else {
                said.join(" / ")
            }
        )))
    }
}
