//! `library`'s subcommands and the words that describe a version.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `library`: the tenant's artifact library.
#[derive(Debug, Subcommand)]
pub enum LibraryCommand {
    /// Add a version of an entry from files, once terraform (fmt -check, validate),
    /// ansible-playbook (--syntax-check) or the script's shell (bash -n, sh -n) accepts them;
    /// identical contents are the same version.
    Add {
        /// The entry's name (lowercase letters, digits, '-').
        name: String,
        /// terraform, ansible, role (an Ansible role's directory) or script (a shell script run
        /// on instances through SSM).
        #[arg(long)]
        kind: String,
        /// A directory (its top-level .tf, or .yml/.yaml files; a role's layout) or one file (a
        /// script: one .sh).
        #[arg(long, value_name = "DIR|FILE")]
        from: PathBuf,
        #[command(flatten)]
        words: LibraryWords,
    },
    /// Save an applied plan's Terraform or playbook as a version of an entry.
    Save {
        plan_id: String,
        name: String,
        #[command(flatten)]
        words: LibraryWords,
    },
    /// Every entry: kind, latest version, owner, uses.
    List {
        /// The built-in catalogue instead: every template opsdeck renders plans from, with what
        /// it reads, its safety defaults and limits (templates/catalogue.toml).
        #[arg(long)]
        built_in: bool,
    },
    /// Entries whose name, description, tags or kind hold every word.
    Search { words: Vec<String> },
    /// A version (NAME@VERSION; the latest not deprecated when none is named): its files,
    /// parameters, approvals and the plans that used it, and every version of the entry.
    /// `builtin/NAME` shows a built-in template's version and the plans rendered from it.
    Show { entry: String },
    /// Compare two versions (NAME@A NAME@B): the manifest's words, then each file's diff.
    Diff { a: String, b: String },
    /// Deprecate a version: no longer picked unless named.
    Deprecate {
        entry: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Approve a version for use (approvers; never the one who added it). Tenants with
    /// `library_requires_approval` use only approved versions.
    Approve { entry: String },
}

/// What describes an entry's version.
#[derive(Debug, Args)]
pub struct LibraryWords {
    #[arg(long, default_value = "")]
    pub description: String,
    /// A tag; repeatable.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// A typed parameter, NAME:TYPE or NAME:TYPE=DEFAULT (TYPE: string, number, bool); each is
    /// a variable of the Terraform module, an extra var of the playbook, or a script's
    /// environment variable OPSDECK_NAME; repeatable.
    #[arg(long = "param", value_name = "NAME:TYPE[=DEFAULT]")]
    pub params: Vec<String>,
    /// Make it the tenant's template for requests read as AGENT/ACTION/TARGET (infra/create/s3:
    /// the agent, action and service `classify` shows): a module is planned alongside the
    /// built-in stack, a playbook runs after the built-in playbook, parameters named like the
    /// request's taking their values.
    #[arg(long, value_name = "AGENT/ACTION/TARGET")]
    pub serves: Option<String>,
}

/// `ask --use`: a library entry instead of words alone.
#[derive(Debug, Args)]
pub struct UseArgs {
    /// Plan from a library entry (NAME or NAME@VERSION; the latest not deprecated when no
    /// version is named), through the same gates, dry runs and approvals as any plan.
    #[arg(long = "use", value_name = "NAME[@VERSION]", conflicts_with = "like")]
    pub use_entry: Option<String>,
    /// A parameter value of the library entry (`--use`), checked against its type; repeatable.
    #[arg(long, value_name = "NAME=VALUE", requires = "use_entry")]
    pub set: Vec<String>,
    /// The stack a Terraform library entry is applied as (default: the entry's name).
    #[arg(long, requires = "use_entry")]
    pub stack: Option<String>,
}
