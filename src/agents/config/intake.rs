//! Hand-written Ansible submitted for review (`opsdeck submit --playbook`), and inventories
//! given by hand (`--inventory`): read with a size limit and kept as they are, as artifacts.

use std::path::Path;

use super::HOST_OUTPUTS;
use crate::agents::DraftFile;
use crate::error::{Error, Result};
use crate::plan::{ArtifactKind, Inventory, Step, StepKind};

/// The largest inventory file accepted with `--inventory`.
const MAX_INVENTORY_BYTES: u64 = 1024 * 1024;

/// A hand-written playbook (one file) submitted for review: on the hosts of `inventory`, or on
/// the hosts an earlier Terraform step creates when `after_step` is given.
pub fn from_playbook(
    playbook: &Path,
    inventory: Option<&Path>,
    after_step: Option<usize>,
) -> Result<(Vec<DraftFile>, Step)> {
    let name = playbook
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    if !(name.ends_with(".yml") || name.ends_with(".yaml"))
        || name.starts_with('.')
        || name == "ansible.cfg"
    {
        return Err(Error::input(format!(
            "{} is not a playbook: give one .yml or .yaml file",
            playbook.display()
        )));
    }
    let content = read_limited(playbook, "playbook")?;
    let files = vec![DraftFile {
        name: name.clone(),
        kind: ArtifactKind::Ansible,
        content,
    }];
    from_playbook_files(files, &name, inventory, after_step)
}

/// A playbook already read, with the files it includes (a library entry's): on the hosts of
/// `inventory`, or of an earlier Terraform step.
pub fn from_playbook_files(
    mut files: Vec<DraftFile>,
    name: &str,
    inventory: Option<&Path>,
    after_step: Option<usize>,
) -> Result<(Vec<DraftFile>, Step)> {
    let name = name.to_string();
    let inventory_kind = match (inventory, after_step) {
        (Some(path), None) => {
            let (file, _) = given_inventory(path)?;
            if files.iter().any(|f| f.name == file.name) {
                return Err(Error::input(
                    "the playbook and the inventory need different file names",
                ));
            }
            let inv = Inventory::File {
                name: file.name.clone(),
            };
            files.push(file);
            inv
        }
        (None, Some(step)) => Inventory::StepOutputs {
            step,
            outputs: HOST_OUTPUTS.iter().map(|s| s.to_string()).collect(),
        },
        (Some(_), Some(_)) => {
            return Err(Error::input(
                "the hosts come from the Terraform step's outputs; leave out --inventory",
            ));
        }
        (None, None) => {
            return Err(Error::input(
                "say where the playbook runs: --inventory FILE (or submit it with a Terraform directory that creates the hosts)",
            ));
        }
    };
    let description = match &inventory_kind {
        Inventory::File { name: inv } => format!("ansible-playbook {name} on the hosts in {inv}"),
        Inventory::StepOutputs { step, .. } => {
            format!("ansible-playbook {name} on the hosts of step {step}")
        }
    };
    Ok((
        files,
        Step {
            description,
            mutates: true,
            kind: StepKind::Ansible {
                playbook: name,
                inventory: inventory_kind,
                batch: None,
                max_fail_percentage: 0,
                vars: None,
            },
        },
    ))
}

fn read_limited(path: &Path, what: &str) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::io(format!("reading {what} {}", path.display()), e))?;
    if !meta.is_file() || meta.len() > MAX_INVENTORY_BYTES {
        return Err(Error::input(format!(
            "{what} {} must be a file of at most 1 MiB",
            path.display()
        )));
    }
    std::fs::read(path).map_err(|e| Error::io(format!("reading {what} {}", path.display()), e))
}

/// An inventory given by hand: kept as it is (YAML or INI, by its extension), as an artifact.
pub(super) fn given_inventory(path: &Path) -> Result<(DraftFile, String)> {
    let content = read_limited(path, "inventory")?;
    if std::str::from_utf8(&content).is_err() {
        return Err(Error::input(format!(
            "inventory {} is not text",
            path.display()
        )));
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let name = match ext {
        "yml" | "yaml" => "inventory.yml",
        "json" => "inventory.json",
        _ => "inventory.ini",
    };
    Ok((
        DraftFile {
            name: name.into(),
            kind: ArtifactKind::Ansible,
            content,
        },
        format!(
            "the hosts in {}",
            path.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default()
        ),
    ))
}

/// The draft of a playbook run that opsdeck did not render (submitted, or from the tenant's
/// library): medium risk, every task to review, no cost estimate.
pub fn playbook_draft(
    summary: String,
    files: Vec<DraftFile>,
    step: Step,
    risk_reason: String,
) -> crate::agents::Draft {
    crate::agents::Draft {
        builtins: Vec::new(),
        summary,
        stack: None,
        region: None,
        steps: vec![step],
        files,
        resources: Vec::new(),
        mutates: true,
        risk: crate::plan::Risk::Medium,
        risk_reasons: vec![risk_reason],
        cost: crate::plan::CostEstimate {
            notes: vec!["no estimate for a hand-written playbook".into()],
            ..crate::plan::CostEstimate::default()
        },
    }
}
