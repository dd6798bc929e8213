//! Reading an entry's files from disk (`library add --from`): which files a directory
//! contributes, their names and sizes.

use std::path::Path;

use super::EntryKind;
use crate::error::{Error, Result};

/// (file name, bytes) pairs, in name order.
pub type NamedFiles = Vec<(String, Vec<u8>)>;

/// Names opsdeck writes itself next to an entry's files.
const RESERVED: &[&str] = &[
    super::TFVARS_FILE,
    super::VARS_FILE,
    "opsdeck_backend_override.tf",
    "opsdeck-mirror.tfrc",
    "ansible.cfg",
];

pub fn check_file_names(files: &[(String, Vec<u8>)]) -> Result<()> {
    if files.is_empty() {
        return Err(Error::input("there are no files to add"));
    }
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    if total > super::MAX_ENTRY_BYTES {
        return Err(Error::input(
            "the entry's files exceed 4 MiB together: add a smaller module or playbook",
        ));
    }
    for (name, _) in files {
        if name.contains('/') || name.starts_with('.') || RESERVED.contains(&name.as_str()) {
            return Err(Error::input(format!(
                "{} cannot be a library file name (opsdeck writes it, or it leaves the directory)",
                crate::sanitize::line(name)
            )));
        }
    }
    Ok(())
}

/// The files `library add --from` reads: a Terraform directory's top-level `*.tf`, or one `.tf`
/// file; a playbook file, or a directory's top-level `*.yml`/`*.yaml` with `site.yml` or
/// `playbook.yml` (or its only file) as the playbook; a script's one `.sh` file.
pub fn read_entry_files(kind: EntryKind, from: &Path) -> Result<(NamedFiles, Option<String>)> {
    if kind == EntryKind::Role {
        // A role keeps its layout's directories, with notes on what it leaves out.
        return super::role::read_role_dir(from).map(|r| (r.files, None));
    }
    let wanted = |name: &str| match kind {
        EntryKind::Terraform => name.ends_with(".tf"),
        EntryKind::Ansible | EntryKind::Role => name.ends_with(".yml") || name.ends_with(".yaml"),
        EntryKind::Script => name.ends_with(".sh"),
    };
    let meta =
        std::fs::metadata(from).map_err(|e| Error::io(format!("reading {}", from.display()), e))?;
    let mut files = Vec::new();
    let mut read = |path: &Path| -> Result<()> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if !wanted(&name) {
            return Ok(());
        }
        let meta = std::fs::metadata(path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        if meta.len() > super::MAX_ENTRY_BYTES as u64 {
            return Err(Error::input(format!(
                "{} is larger than 4 MiB",
                path.display()
            )));
        }
        let bytes =
            std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        files.push((name, bytes));
        Ok(())
    };
    if meta.is_dir() && kind == EntryKind::Script {
        return Err(Error::input(format!(
            "{} is a directory: a script entry is one .sh file (--from FILE)",
            from.display()
        )));
    }
    if meta.is_dir() {
        let entries = std::fs::read_dir(from)
            .map_err(|e| Error::io(format!("reading {}", from.display()), e))?;
        for e in entries.flatten() {
            if e.path().is_file() {
                read(&e.path())?;
            }
        }
    } else {
        read(from)?;
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    if files.is_empty() {
        return Err(Error::input(format!(
            "{} holds no {} files",
            from.display(),
            match kind {
                EntryKind::Terraform => ".tf",
                EntryKind::Ansible | EntryKind::Role => ".yml or .yaml",
                EntryKind::Script => ".sh",
            }
        )));
    }
    let playbook = match kind {
        EntryKind::Terraform | EntryKind::Role | EntryKind::Script => None,
        EntryKind::Ansible => {
            let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
            let main = ["site.yml", "site.yaml", "playbook.yml", "playbook.yaml"]
                .into_iter()
                .find(|m| names.contains(m))
                .or((names.len() == 1).then(|| names[0]));
            let Some(main) = main else {
                return Err(Error::input(format!(
                    "{} holds several playbooks: name the one to run site.yml or playbook.yml, or add one file",
                    from.display()
                )));
            };
            Some(main.to_string())
        }
    };
    Ok((files, playbook))
}

/// A Terraform template that serves requests is rendered alongside the built-in stack, whose
/// `main.tf` holds the Terraform settings and the AWS provider: the template declares neither,
/// or the two would clash when the stack is planned.
pub fn check_template_files(files: &[(String, Vec<u8>)]) -> Result<()> {
    for (name, bytes) in files.iter().filter(|(n, _)| n.ends_with(".tf")) {
        let text = String::from_utf8_lossy(bytes);
        let body: serde_json::Value = hcl::from_str(&text)
            .map_err(|e| Error::input(format!("{name} does not parse as HCL: {e}")))?;
        for block in ["terraform", "provider"] {
            if body.get(block).is_some() {
                return Err(Error::input(format!(
                    "{name} declares a {block} block: a template that serves requests (--serves) is planned alongside the built-in stack, which has its own Terraform settings and AWS provider; remove the block and add it again"
                )));
            }
        }
    }
    Ok(())
}
