//! `opsdeck mcp`: the Model Context Protocol server, over stdio or (`--listen`, [`http`])
//! streamable HTTP with bearer tokens. Other AI tools use opsdeck's agents through it under
//! exactly the same guardrails as a person: the MCP client is recorded as the requester
//! (`userSource: "mcp"`, or `"mcp_token"` over HTTP), may queue plans but never approve or reject
//! them, and gets the same error messages the CLI prints.
//!
//! Every tool carries annotations (title, read-only / destructive / idempotent hints) and an
//! output schema ([`schemas`]); its answer is that structured value, and the same JSON as text.

pub mod http;
mod library;
pub mod schemas;

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, Extensions, Implementation, ListResourcesResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
    Resource, ResourceContents, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{
    ErrorData, RoleServer, ServerHandler, ServiceExt, schemars, tool, tool_handler, tool_router,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::approval::State;
use crate::audit::AuditFilter;
use crate::error::{Error, Result};
use crate::intent::AgentKind;
use crate::pipeline::{Deck, OpenOptions};
use crate::view::PlanView;

/// How many recent plans and audit events are offered as resources.
const RECENT: usize = 50;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct TextArgs {
    /// The request in plain language, e.g. "Create 3 t3.medium instances in ap-south-1 with ALB".
    pub text: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SuggestArgs {
    /// How many times the same request must have been asked to count as repeated (at least
    /// 2; default 3).
    #[serde(default)]
    pub min_repeats: Option<usize>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AskArgs {
    /// The request in plain language, e.g. "Create 3 t3.medium instances in ap-south-1 with ALB".
    pub text: String,
    /// A change understood with low confidence is not planned until its reading is confirmed:
    /// the refusal lists the readings, numbered from 1; call ask again with the one meant.
    #[serde(default)]
    pub confirm_reading: Option<usize>,
    /// Plan from the tenant's library entry NAME or NAME@VERSION (library_list shows them;
    /// without a version, the latest not deprecated), as `opsdeck ask --use` does: the text is
    /// recorded with the plan and may name a region.
    #[serde(default, rename = "use")]
    pub use_entry: Option<String>,
    /// Values of the entry's parameters, "NAME=VALUE" each, checked against their types.
    #[serde(default)]
    pub set: Vec<String>,
    /// The stack a Terraform entry is applied as (default: the entry's name).
    #[serde(default)]
    pub stack: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct PlanArgs {
    /// Plan id (or a unique prefix), e.g. "p-8r98qcpnex".
    pub plan_id: String,
    /// Include the generated artifacts (Terraform files) in full.
    #[serde(default)]
    pub artifacts: bool,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CancelArgs {
    /// The plan whose run to stop (id or a unique prefix): an approved plan is cancelled before
    /// it runs, a running one's runner is asked to stop. Leave it out to stop this session's
    /// running requests (an `ask` still waiting on AWS ends cancelled).
    #[serde(default)]
    pub plan_id: Option<String>,
    /// Why (recorded in the audit trail); required with plan_id.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema, Default)]
pub struct AuditArgs {
    /// Only events by this user.
    pub by: Option<String>,
    /// Only events of this agent (infra, config, ops, cost, security, monitor, ml).
    pub agent: Option<String>,
    /// Only events with this status (pending, approved, rejected, expired, executing, completed, failed, cancelled).
    pub status: Option<String>,
    /// Only events of this kind (requested, classified, planned, approved, access_denied, ...).
    pub event: Option<String>,
    /// A plan id, request id or event id (prefix).
    pub id: Option<String>,
    /// Lower time bound: ISO 8601 or a look-back such as "1h", "24h", "7d".
    pub since: Option<String>,
    /// Newest N events only (default 100).
    pub limit: Option<usize>,
}

/// The server. Over stdio one `Deck` (tenant, identity, store) serves every call; over HTTP
/// each request carries the session of the token it presented ([`http::TokenSession`]).
#[derive(Clone)]
pub struct OpsdeckMcp {
    deck: Option<Arc<Deck>>,
    tool_router: ToolRouter<Self>,
}

/// The structured answer, and the same JSON as text. Text content is shown to people by MCP
/// clients: every control, bidi and invisible character is a `\uXXXX` escape there (the same
/// value), see [`crate::sanitize::json`].
fn ok_json(v: Value) -> std::result::Result<CallToolResult, ErrorData> {
    let text = crate::sanitize::to_json_pretty(&v).unwrap_or_default();
    let mut result = CallToolResult::structured(v);
    result.content = vec![ContentBlock::text(text)];
    Ok(result)
}

/// Our errors become MCP tool errors carrying the CLI's message (the model can read and act).
fn tool_error(e: &Error) -> std::result::Result<CallToolResult, ErrorData> {
    Ok(CallToolResult::error(vec![ContentBlock::text(format!(
        "{} ({})",
        crate::sanitize::line(&e.to_string()),
        e.code()
    ))]))
}

impl OpsdeckMcp {
    /// One session for every call (stdio).
    pub fn new(deck: Deck) -> Self {
        OpsdeckMcp {
            deck: Some(Arc::new(deck)),
            tool_router: Self::tool_router() + Self::library_tools(),
        }
    }

    /// Each call acts as the token its HTTP request presented.
    pub fn per_request() -> Self {
        OpsdeckMcp {
            deck: None,
            tool_router: Self::tool_router() + Self::library_tools(),
        }
    }

    /// The session a call acts in: the server's, or the one the HTTP layer proved for this
    /// request's token.
    fn deck(&self, ext: &Extensions) -> Result<Arc<Deck>> {
        if let Some(d) = &self.deck {
            return Ok(d.clone());
        }
        ext.get::<::http::request::Parts>()
            .and_then(|p| p.extensions.get::<http::TokenSession>())
            .map(|s| s.0.clone())
            .ok_or_else(|| Error::refused("the request carries no proven bearer token"))
    }

    /// Runs blocking pipeline work off the async runtime, in the call's session.
    async fn blocking<T: Send + 'static>(
        &self,
        ext: &Extensions,
        f: impl FnOnce(&Deck) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let deck = self.deck(ext)?;
        tokio::task::spawn_blocking(move || f(&deck))
            .await
            .map_err(|e| Error::Execution(format!("worker failed: {e}")))?
    }

    async fn ask_as(
        &self,
        ext: &Extensions,
        text: String,
        want: Option<AgentKind>,
        confirm_reading: Option<usize>,
    ) -> std::result::Result<CallToolResult, ErrorData> {
        let outcome = self
            .blocking(ext, move |d| {
                d.requests().refuse_credentials(&text)?;
                if let Some(want) = want {
                    let intent = d.requests().classify(&text)?;
                    if intent.agent != want {
                        return Err(Error::input(format!(
                            "that request was understood as {}/{} rather than a {want} question; use the ask tool for it",
                            intent.agent, intent.action
                        )));
                    }
                }
                let opts = crate::pipeline::RequestOptions {
                    confirm_reading,
                    ..Default::default()
                };
                d.requests()
                    .request_with(&text, &opts, &crate::events::quiet)
            })
            .await;
        match outcome {
            Ok(crate::pipeline::Answer::Plan(rec)) => ok_json(plan_summary(&rec)),
            Ok(crate::pipeline::Answer::Report(r)) => ok_json(json!({
                "request_id": r.request_id,
                "agent": r.agent,
                "action": r.action,
                "summary": r.report.summary,
                "outputs": r.report.outputs,
                "notes": r.report.notes,
                "data": r.report.data,
                "report_uri": r.uri,
            })),
            // The readings as this front end asks for one: by the tool's own parameter.
            Err(Error::NeedsConfirmation(c)) => {
                Ok(CallToolResult::error(vec![ContentBlock::text(
                    crate::sanitize::line(&format!(
                        "this request would change something, but it was understood with low confidence ({:.2}), so nothing was planned. Its readings: {}. Call ask again with confirm_reading set to the number meant, or rephrase (needs_confirmation)",
                        c.confidence,
                        c.readings
                            .iter()
                            .enumerate()
                            .map(|(n, r)| format!("{}) {}/{}", n + 1, r.agent, r.action))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                )]))
            }
            Err(e) => tool_error(&e),
        }
    }
}

/// A plan as MCP clients read it (a contract: fields and order stay), its derived parts (cost
/// headline, next step) from the same view the CLI and the console show.
fn plan_summary(rec: &crate::approval::PlanRecord) -> Value {
    let p = &rec.plan;
    let v = PlanView::of(rec);
    json!({
        "plan_id": v.id,
        "state": v.state,
        "summary": v.summary,
        "agent": p.agent,
        "agents": p.agents,
        "action": p.action,
        "risk": v.risk,
        "cost_monthly_usd": p.cost.monthly_usd,
        "cost_delta_usd": p.cost.delta_usd(),
        "cost": v.cost.headline,
        "cost_source": p.cost.source,
        "cost_basis": v.cost.basis,
        "gates": v.gates,
        "resources": p.resources,
        "requires_approval": p.requires_approval,
        "required_approvals": rec.required_approvals,
        "requester": v.requester,
        "content_hash": v.hash,
        "next": v.next.mcp_text(),
    })
}

#[tool_router]
impl OpsdeckMcp {
    #[tool(
        description = "Classify a plain-language AWS request offline: returns the agent(s) it routes to (infra, config, ops, cost, security, monitor, ml), the action, extracted parameters and the confidence, with the words that led there. Stores nothing.",
        annotations(
            title = "Classify a request",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        ),
        output_schema = schemas::intent()
    )]
    async fn classify(
        &self,
        ext: Extensions,
        Parameters(args): Parameters<TextArgs>,
    ) -> std::result::Result<CallToolResult, ErrorData> {
        let deck = match self.deck(&ext) {
            Ok(d) => d,
            Err(e) => return tool_error(&e),
        };
        match deck.requests().classify(&args.text) {
            Ok(i) => ok_json(serde_json::to_value(&i).unwrap_or_default()),
            Err(e) => tool_error(&e),
        }
    }

    #[tool(
        description = "Plan a plain-language AWS request. Changes (e.g. creating instances) become a plan with generated Terraform, risk, cost estimate and policy gates, queued for approval by a person; the plan id is returned. MCP clients can queue plans but never approve them.",
        annotations(
            title = "Ask (plan and queue a request)",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        ),
        output_schema = schemas::answer()
    )]
    async fn ask(
        &self,
        ext: Extensions,
        Parameters(args): Parameters<AskArgs>,
    ) -> std::result::Result<CallToolResult, ErrorData> {
        if args.use_entry.is_some() || !args.set.is_empty() || args.stack.is_some() {
            let AskArgs {
                text,
                confirm_reading,
                use_entry,
                set,
                stack,
            } = args;
            let out = self
                .blocking(&ext, move |d| {
                    library::use_entry(d, &text, use_entry, set, stack, confirm_reading)
                })
                .await;
            return match out {
                Ok(Some(rec)) => ok_json(plan_summary(&rec)),
                Ok(None) => tool_error(&Error::input("name the library entry with use")),
                Err(e) => tool_error(&e),
            };
        }
        self.ask_as(&ext, args.text, None, args.confirm_reading)
            .await
    }

    #[tool(
        description = "Cancel: without plan_id, this session's running requests (an ask waiting on AWS or in its dry run ends cancelled, no plan stored); with plan_id and a reason, the run of a plan this client's user requested (approvers and admins: any plan's), before or while it runs. Audited.",
        annotations(
            title = "Cancel a running request or a plan's run",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        ),
        output_schema = schemas::cancelled()
    )]
    async fn cancel(
        &self,
        ext: Extensions,
        Parameters(args): Parameters<CancelArgs>,
    ) -> std::result::Result<CallToolResult, ErrorData> {
        let deck = match self.deck(&ext) {
            Ok(d) => d,
            Err(e) => return tool_error(&e),
        };
        let Some(plan_id) = args.plan_id else {
            deck.requests().cancel_running();
            return ok_json(json!({"cancelled": "running requests"}));
        };
        let reason = args.reason.unwrap_or_default();
        match self
            .blocking(&ext, move |d| d.runs().cancel_own(&plan_id, &reason))
            .await
        {
            Ok(rec) => ok_json(json!({
                "cancelled": "plan",
                "plan_id": rec.plan.plan_id,
                "state": rec.state.as_str(),
            })),
            Err(e) => tool_error(&e),
        }
    }

    #[tool(
        description = "Show a plan: state, summary, resources, risk, cost, policy gates, approvals; optionally its artifacts (the Terraform files).",
        annotations(
            title = "Show a plan",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        ),
        output_schema = schemas::plan_record()
    )]
    async fn show_plan(
        &self,
        ext: Extensions,
        Parameters(args): Parameters<PlanArgs>,
    ) -> std::result::Result<CallToolResult, ErrorData> {
        let out = self
            .blocking(&ext, move |d| {
                let rec = d.approvals().plan(&args.plan_id)?;
                let mut v = serde_json::to_value(&rec).unwrap_or_default();
                if args.artifacts {
                    let files: Vec<Value> = d
                        .approvals().artifacts(&rec.plan)?
                        .into_iter()
                        .map(|(a, b)| json!({"name": a.name, "sha256": a.sha256, "content": String::from_utf8_lossy(&b)}))
                        .collect();
                    v["artifact_contents"] = Value::Array(files);
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
        description = "List plans waiting for approval in this tenant, newest first, with requester, risk, cost and the worst policy gate.",
        annotations(
            title = "Plans waiting for approval",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        ),
        output_schema = schemas::pending_plans()
    )]
    async fn list_approvals(
        &self,
        ext: Extensions,
    ) -> std::result::Result<CallToolResult, ErrorData> {
        match self
            .blocking(&ext, |d| d.approvals().plans(Some(State::Pending)))
            .await
        {
            Ok(plans) => {
                ok_json(json!({"plans": plans.iter().map(plan_summary).collect::<Vec<_>>()}))
            }
            Err(e) => tool_error(&e),
        }
    }

    #[tool(
        description = "Search the tenant's audit trail (append-only, hash-chained, signed): every request, plan, approval, refusal and execution. Filters are optional.",
        annotations(
            title = "Search the audit trail",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        ),
        output_schema = schemas::audit_records()
    )]
    async fn audit_search(
        &self,
        ext: Extensions,
        Parameters(args): Parameters<AuditArgs>,
    ) -> std::result::Result<CallToolResult, ErrorData> {
        let out = self
            .blocking(&ext, move |d| {
                let filter = crate::audit::query::FilterFields {
                    user: args.by,
                    agent: args.agent,
                    status: args.status,
                    event: args.event,
                    subject: args.id,
                    since: args.since,
                    until: None,
                    limit: Some(args.limit.unwrap_or(100).min(1000)),
                }
                .into_filter(d.clock())?;
                d.trail().audit(&filter)
            })
            .await;
        match out {
            Ok(records) => ok_json(json!({"events": records})),
            Err(e) => tool_error(&e),
        }
    }

    #[tool(
        description = "Ask a cost question (Cost Explorer: spend by service, region or tag over a window, forecasts, budgets), e.g. \"What is my daily EC2 spend in ap-south-1?\"",
        annotations(
            title = "Cost question",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        ),
        output_schema = schemas::answer()
    )]
    async fn cost_query(
        &self,
        ext: Extensions,
        Parameters(args): Parameters<TextArgs>,
    ) -> std::result::Result<CallToolResult, ErrorData> {
        self.ask_as(&ext, args.text, Some(AgentKind::Cost), None)
            .await
    }

    #[tool(
        description = "Run a security scan or fetch findings (S3 public access, open security groups, IAM MFA and old keys, GuardDuty, Security Hub), e.g. \"Scan all S3 buckets for public access\".",
        annotations(
            title = "Security scan",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        ),
        output_schema = schemas::answer()
    )]
    async fn security_scan(
        &self,
        ext: Extensions,
        Parameters(args): Parameters<TextArgs>,
    ) -> std::result::Result<CallToolResult, ErrorData> {
        self.ask_as(&ext, args.text, Some(AgentKind::Security), None)
            .await
    }

    #[tool(
        description = "Query logs and metrics (CloudWatch), e.g. \"Show last 24h error logs from Lambda my-func\".",
        annotations(
            title = "Logs and metrics",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        ),
        output_schema = schemas::answer()
    )]
    async fn log_query(
        &self,
        ext: Extensions,
        Parameters(args): Parameters<TextArgs>,
    ) -> std::result::Result<CallToolResult, ErrorData> {
        self.ask_as(&ext, args.text, Some(AgentKind::Monitor), None)
            .await
    }

    #[tool(
        description = "What the tenant's past suggests, as `opsdeck suggest --json` answers: the same change asked again and again (with the plan to reuse with ask's like, and an applied infra or config plan to keep as a library entry), plans denied by the same policy rule repeatedly, and live plans dearer than an applied equivalent (the largest saving first). Read from this tenant's audit trail only.",
        annotations(
            title = "Suggestions from the past",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        ),
        output_schema = schemas::suggestions()
    )]
    async fn suggest(
        &self,
        ext: Extensions,
        Parameters(args): Parameters<SuggestArgs>,
    ) -> std::result::Result<CallToolResult, ErrorData> {
        let opts = crate::knowledge::SuggestOptions {
            min_repeats: args.min_repeats.unwrap_or(3),
            ..crate::knowledge::SuggestOptions::default()
        };
        match self
            .blocking(&ext, move |d| d.requests().suggest(&opts))
            .await
        {
            Ok(found) => ok_json(serde_json::json!({"suggestions": found})),
            Err(e) => tool_error(&e),
        }
    }

    #[tool(
        description = "Explain why a request or plan was routed as it was: which words led to which agent, action and parameters. Give a plan id or a request text.",
        annotations(
            title = "Explain the routing",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        ),
        output_schema = schemas::explanation()
    )]
    async fn explain(
        &self,
        ext: Extensions,
        Parameters(args): Parameters<TextArgs>,
    ) -> std::result::Result<CallToolResult, ErrorData> {
        let text = args.text;
        let out = self
            .blocking(&ext, move |d| d.requests().explain(&text).map(|(_, v)| v))
            .await;
        match out {
            Ok(v) => ok_json(v),
            Err(e) => tool_error(&e),
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for OpsdeckMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("opsdeck", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "opsdeck runs AWS operations from plain-language requests. Use classify to see how a request is understood, ask to plan it (changes are queued for a human to approve; you cannot approve), show_plan to review, audit_search for history. The tenant's library of Terraform modules and playbooks: library_list, library_search, library_show, library_diff; ask with use (and set) plans an entry. Resources: opsdeck://audit/recent and the artifacts of recent plans.",
        )
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> std::result::Result<ListResourcesResult, ErrorData> {
        let plans = self
            .blocking(&context.extensions, |d| d.approvals().plans(None))
            .await
            .map_err(|e| {
                ErrorData::internal_error(crate::sanitize::line(&e.to_string()).into_owned(), None)
            })?;
        let mut items = vec![
            Resource::new("opsdeck://audit/recent", "recent audit events")
                .with_description(format!(
                    "The newest {RECENT} audit events of the tenant, with their chain fields"
                ))
                .with_mime_type("application/json"),
        ];
        for rec in plans.iter().take(RECENT) {
            for a in &rec.plan.artifacts {
                items.push(
                    Resource::new(
                        format!("opsdeck://plans/{}/artifacts/{}", rec.plan.plan_id, a.name),
                        format!("{} {}", rec.plan.plan_id, a.name),
                    )
                    .with_description(crate::sanitize::line(&rec.plan.summary).into_owned())
                    .with_mime_type(schemas::mime_of(&a.name))
                    .with_size(a.size),
                );
            }
        }
        Ok(ListResourcesResult::with_all_items(items))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> std::result::Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri.clone();
        let contents = self
            .blocking(&context.extensions, move |d| read_uri(d, &uri))
            .await
            .map_err(|e| {
                ErrorData::invalid_params(crate::sanitize::line(&e.to_string()).into_owned(), None)
            })?;
        Ok(ReadResourceResult::new(vec![contents]).into())
    }
}

/// A resource's contents with its MIME type: text when it is UTF-8 (an artifact's control
/// characters made visible), base64 otherwise.
fn read_uri(d: &Deck, uri: &str) -> Result<ResourceContents> {
    if uri == "opsdeck://audit/recent" {
        let records = d.trail().audit(&AuditFilter {
            limit: Some(RECENT),
            ..AuditFilter::default()
        })?;
        let text = crate::sanitize::to_json_pretty(&records).unwrap_or_default();
        return Ok(ResourceContents::text(text, uri).with_mime_type("application/json"));
    }
    let rest = uri.strip_prefix("opsdeck://plans/").ok_or_else(|| {
        Error::not_found(
            "resource",
            uri,
            "resources are opsdeck://audit/recent and opsdeck://plans/<id>/artifacts/<name>",
        )
    })?;
    let (id, name) = rest.split_once("/artifacts/").ok_or_else(|| {
        Error::not_found(
            "resource",
            uri,
            "expected opsdeck://plans/<id>/artifacts/<name>",
        )
    })?;
    let rec = d.approvals().plan(id)?;
    let (_, bytes) = d
        .approvals()
        .artifacts(&rec.plan)?
        .into_iter()
        .find(|(a, _)| a.name == name)
        .ok_or_else(|| Error::not_found("artifact", name, format!("of plan {id}")))?;
    let contents = match String::from_utf8(bytes) {
        Ok(text) => ResourceContents::text(crate::sanitize::terminal(&text).into_owned(), uri)
            .with_mime_type(schemas::mime_of(name)),
        Err(e) => {
            use base64::Engine;
            let blob = base64::engine::general_purpose::STANDARD.encode(e.into_bytes());
            ResourceContents::blob(blob, uri).with_mime_type("application/octet-stream")
        }
    };
    Ok(contents)
}

/// Serves MCP on stdin/stdout until the client disconnects.
pub fn serve(mut open: OpenOptions) -> Result<u8> {
    open.via_mcp = true;
    let deck = Deck::open(open)?;
    runtime()?.block_on(async move {
        let service = OpsdeckMcp::new(deck)
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| Error::Execution(format!("MCP session failed to start: {e}")))?;
        service
            .waiting()
            .await
            .map_err(|e| Error::Execution(format!("MCP session ended with an error: {e}")))?;
        Ok(0)
    })
}

/// The server's runtime: pipeline work runs on its blocking pool, off these two threads.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the runtime", e))
}
