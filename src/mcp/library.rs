//! The library's MCP tools, read-only: list, search, show and compare the tenant's entries, as
//! `opsdeck library list|search|show|diff --json` answer (the same core calls, the same reader
//! check). Using an entry is the `ask` tool's `use` and `set` ([`use_entry`]), planned like
//! `opsdeck ask --use … --set …`: gates, dry runs and a person's approval as for any plan.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Extensions};
use rmcp::{ErrorData, schemars, tool, tool_router};
use serde::Deserialize;
use serde_json::json;

use super::{OpsdeckMcp, ok_json, schemas, tool_error};
use crate::error::{Error, Result};
use crate::pipeline::{Deck, UseRequest};

#[derive(Debug, Deserialize, schemars::JsonSchema, Default)]
pub struct ListArgs {
    /// Also list the built-in catalogue: every template opsdeck renders plans from, with what
    /// it reads, its safety defaults and limits.
    #[serde(default)]
    pub built_in: bool,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SearchArgs {
    /// Words that must all be in an entry's name, description, tags or kind, e.g. "web terraform".
    pub words: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ShowArgs {
    /// NAME or NAME@VERSION, e.g. "web-tier@2" (without a version: the latest not deprecated).
    pub entry: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct DiffArgs {
    /// The older version, NAME@VERSION, e.g. "web-tier@1".
    pub a: String,
    /// The newer version, NAME@VERSION, e.g. "web-tier@2".
    pub b: String,
}

/// `ask` with `use`: the entry planned as `opsdeck ask --use ENTRY --set … --stack …` plans it,
/// refused the way the command line refuses the same flags.
pub(super) fn use_entry(
    d: &Deck,
    text: &str,
    entry: Option<String>,
    set: Vec<String>,
    stack: Option<String>,
    confirm_reading: Option<usize>,
) -> Result<Option<crate::approval::PlanRecord>> {
    let Some(entry) = entry else {
        if !set.is_empty() || stack.is_some() {
            return Err(Error::input(
                "set and stack give a library entry's parameter values and stack: name the entry with use (NAME or NAME@VERSION)",
            ));
        }
        return Ok(None);
    };
    if confirm_reading.is_some() {
        return Err(Error::input(
            "use plans a library entry: there is no reading to confirm; leave out confirm_reading",
        ));
    }
    d.library()
        .plan(
            &UseRequest {
                entry,
                text: text.to_string(),
                set,
                stack,
                inventory: None,
                reading: None,
            },
            &crate::events::quiet,
        )
        .map(Some)
}

#[tool_router(router = library_tools, vis = "pub(super)")]
impl OpsdeckMcp {
    #[tool(
        description = "List the tenant's artifact library: each entry's name, kind (terraform, ansible, role or script), latest version, number of versions and uses, owner, tags and whether every version is deprecated. With built_in, also the built-in templates. Use an entry with the ask tool's use argument.",
        annotations(
            title = "List library entries",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        ),
        output_schema = schemas::library_entries()
    )]
    async fn library_list(
        &self,
        ext: Extensions,
        Parameters(args): Parameters<ListArgs>,
    ) -> std::result::Result<CallToolResult, ErrorData> {
        let out = self
            .blocking(&ext, move |d| {
                let lib = d.library();
                let mut v = json!({"entries": lib.list()?});
                if args.built_in {
                    v["built_in"] = serde_json::to_value(lib.builtin()).unwrap_or_default();
                }
                Ok(v)
            })
            .await;
        match out {
            Ok(v) => ok_json(v),
            Err(e) => tool_error(&e),
        }
    }

    #[tool(
        description = "Search the tenant's artifact library: entries whose name, description, tags or kind hold every word.",
        annotations(
            title = "Search the library",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        ),
        output_schema = schemas::library_entries()
    )]
    async fn library_search(
        &self,
        ext: Extensions,
        Parameters(args): Parameters<SearchArgs>,
    ) -> std::result::Result<CallToolResult, ErrorData> {
        match self
            .blocking(&ext, move |d| d.library().search(&args.words))
            .await
        {
            Ok(entries) => ok_json(json!({"entries": entries})),
            Err(e) => tool_error(&e),
        }
    }

    #[tool(
        description = "Show a version of a library entry (NAME@VERSION, or NAME for the latest not deprecated): its manifest (description, tags, typed parameters with defaults, files with SHA-256), who added it, approvals, deprecation, the plans that used it, and every version of the entry.",
        annotations(
            title = "Show a library entry",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        ),
        output_schema = schemas::library_entry()
    )]
    async fn library_show(
        &self,
        ext: Extensions,
        Parameters(args): Parameters<ShowArgs>,
    ) -> std::result::Result<CallToolResult, ErrorData> {
        match self
            .blocking(&ext, move |d| d.library().show(&args.entry))
            .await
        {
            Ok(detail) => ok_json(serde_json::to_value(&detail).unwrap_or_default()),
            Err(e) => tool_error(&e),
        }
    }

    #[tool(
        description = "Compare two versions of a library entry (NAME@A and NAME@B): the manifest's words that differ, then each file as a unified diff, as `opsdeck library diff` prints it.",
        annotations(
            title = "Compare two library versions",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        ),
        output_schema = schemas::library_diff()
    )]
    async fn library_diff(
        &self,
        ext: Extensions,
        Parameters(args): Parameters<DiffArgs>,
    ) -> std::result::Result<CallToolResult, ErrorData> {
        let (a, b) = (args.a.clone(), args.b.clone());
        match self
            .blocking(&ext, move |d| d.library().diff(&args.a, &args.b))
            .await
        {
            Ok(diff) => ok_json(json!({"a": a, "b": b, "diff": diff})),
            Err(e) => tool_error(&e),
        }
    }
}
