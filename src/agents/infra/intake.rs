//! Hand-written Terraform submitted for review (`opsdeck submit --terraform DIR`): read, checked
//! for anything that would act while opsdeck plans it, and given a local backend when it names
//! none.

use std::path::Path;

use super::apply_step;
use super::resources::resources_in;
use super::validate::validate_stack_name;
use crate::agents::{Draft, DraftFile};
use crate::error::{Error, Result};
use crate::plan::{ArtifactKind, ChangeAction, CostEstimate, Risk};

/// A hand-written Terraform directory (top-level `*.tf` files) submitted for review and apply
/// through the same gates as a generated one.
pub fn from_directory(dir: &Path, stack: &str) -> Result<Draft> {
    validate_stack_name(stack)?;
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::io(format!("reading Terraform directory {}", dir.display()), e))?;
    let mut files = Vec::new();
    let mut total = 0usize;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if path.is_file() && name.ends_with(".tf") {
            let content = std::fs::read(&path)
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            total += content.len();
            files.push(DraftFile {
                name,
                kind: ArtifactKind::Terraform,
                content,
            });
        }
    }
    if files.is_empty() {
        return Err(Error::input(format!(
            "{} has no .tf files to submit",
            dir.display()
        )));
    }
    from_files(files, total, stack)
}

/// Terraform files already read (a directory submitted, or a library entry with its parameter
/// values): checked and planned as stack `stack` like a submitted directory.
pub fn from_files(mut files: Vec<DraftFile>, total: usize, stack: &str) -> Result<Draft> {
    validate_stack_name(stack)?;
    if total > 4 * 1024 * 1024 {
        return Err(Error::input(
            "the Terraform files exceed 4 MiB; submit a smaller stack",
        ));
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let problems: Vec<String> = files
        .iter()
        .flat_map(|f| {
            crate::plan::verify::handwritten_terraform_problems(
                &f.name,
                &String::from_utf8_lossy(&f.content),
            )
        })
        .collect();
    if !problems.is_empty() {
        return Err(Error::refused(format!(
            "this Terraform would act before anyone approved it, while opsdeck plans it: {}. nothing was queued or run; change the configuration and submit again",
            problems.join("; ")
        )));
    }
    let declares_backend = files
        .iter()
        .any(|f| String::from_utf8_lossy(&f.content).contains("backend \""));
    if !declares_backend {
        // State lives in the stack's directory, given at `terraform init`.
        files.push(DraftFile {
            name: "_opsdeck_backend.tf".into(),
            kind: ArtifactKind::Terraform,
            content: b"terraform {\n  backend \"local\" {}\n}\n".to_vec(),
        });
    }
    let resources = resources_in(&files, ChangeAction::Create);
    Ok(Draft {
        builtins: Vec::new(),
        summary: format!(
            "apply submitted Terraform ({} files) to stack {stack}",
            files.len()
        ),
        stack: Some(stack.to_string()),
        region: None,
        steps: vec![apply_step(stack)],
        files,
        resources,
        mutates: true,
        risk: Risk::Medium,
        risk_reasons: vec!["hand-written Terraform: review every resource".into()],
        cost: CostEstimate {
            notes: vec!["no estimate for hand-written Terraform".into()],
            ..CostEstimate::default()
        },
    })
}
