//! The headless command line: every subcommand over the same [`Deck`], human output by default,
//! machine-readable JSON only with `--json`.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::agents::AgentEvent;
use crate::approval::{PlanRecord, State};
use crate::audit::export::{self, Format};
use crate::audit::{AuditFilter, AuditRecord};
use crate::error::{Error, Result};
use crate::intent;
use crate::pipeline::{Answer, Deck, OpenOptions, ReportRecord, RequestOptions, Submission};

/// `println!` for human-readable output. Every line the CLI prints may hold request, plan,
/// store or AWS text, so the whole line goes through [`crate::sanitize::line`]: controls, bidi
/// and invisible characters print as visible `\u{..}` escapes, and data cannot start a line of
/// its own. Multi-line blocks go through [`print_block`].
macro_rules! outln {
    () => {
        println!()
    };
    ($($arg:tt)*) => {
        println!("{}", $crate::sanitize::line(&format!($($arg)*)))
    };
}

/// `eprintln!` with the same rule as [`outln!`].
macro_rules! errln {
    ($($arg:tt)*) => {
        eprintln!("{}", $crate::sanitize::line(&format!($($arg)*)))
    };
}

#[derive(Debug, Parser)]
#[command(
    name = "opsdeck",
    version,
    about = "Run AWS by talking to it: plain-language requests become reviewed, approved, audited plans.",
    after_help = "Examples:\n  opsdeck classify --json \"Create 3 t3.medium instances in ap-south-1 with ALB\"\n  opsdeck ask \"Create 3 t3.medium instances in ap-south-1 with ALB\"\n  opsdeck plans show <id> --artifact\n  opsdeck --user bob approve <id>\n  opsdeck apply <id>\n  opsdeck audit verify"
)]
pub struct Cli {
    /// Tenant (team) to act in.
    #[arg(long, global = true, env = "OPSDECK_TENANT")]
    pub tenant: Option<String>,
    /// Act as this user instead of the OS account (recorded as such in the audit trail).
    #[arg(long, global = true)]
    pub user: Option<String>,
    /// Storage backend: local (embedded, default) or aws (shared DynamoDB + S3).
    #[arg(long, global = true, env = "OPSDECK_BACKEND", value_parser = ["local", "aws"])]
    pub backend: Option<String>,
    /// Directory holding all state, config and logs (default: the platform data directory).
    #[arg(long, global = true, env = "OPSDECK_HOME")]
    pub home: Option<PathBuf>,
    /// Print machine-readable JSON only.
    #[arg(long, global = true)]
    pub json: bool,
    /// AWS endpoint for every service (after AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>).
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The tenant's AWS configuration to act through for this command (`none`: the base
    /// credentials); default: the one selected with `configs use`.
    #[arg(long, global = true, env = "OPSDECK_AWS_CONFIG", value_name = "NAME")]
    pub aws_config: Option<String>,
    /// Without a subcommand, the full-screen console opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set up a tenant: you (the OS account, or --user) become its first admin with a TOTP
    /// secret to enrol; on a tenant already set up, where you stand and what to do next.
    Init,
    /// Print your current TOTP code (for people without an authenticator app; the risk is
    /// stated and the printing audited). Outside the demo tenant only for your own OS account.
    Totp {
        /// Only the six digits (for `--totp $(opsdeck totp --code-only)`); the risk goes to stderr.
        #[arg(long)]
        code_only: bool,
    },
    /// Try everything on a local AWS stand-in: a seeded demo account, a demo tenant with a
    /// second approver, and the console on it. Never reaches AWS.
    Demo {
        /// Install the stand-in (moto, pinned) into the data directory without asking.
        #[arg(long)]
        install: bool,
        /// Keep the stand-in running without the console (Ctrl-C stops it), for `opsdeck
        /// --tenant demo ...` from other terminals.
        #[arg(long, conflicts_with = "stop")]
        serve: bool,
        /// Stop a stand-in an earlier `opsdeck demo` left running.
        #[arg(long)]
        stop: bool,
    },
    /// Show how a request is understood (offline; nothing is stored).
    Classify {
        /// Read one request per line from FILE ("-" for stdin) and print one result per line.
        #[arg(long, value_name = "FILE")]
        batch: Option<String>,
        /// The request.
        text: Vec<String>,
    },
    /// Plan a request: mutating plans are queued for approval, their id printed.
    Ask {
        /// Ansible inventory (YAML or INI) to configure instead of finding hosts by tag.
        #[arg(long, value_name = "FILE")]
        inventory: Option<PathBuf>,
        /// The request, in plain language.
        #[arg(required = true)]
        text: Vec<String>,
        /// Write a report's files (e.g. findings.json, findings.csv) and report.json into DIR.
        #[arg(long, value_name = "DIR")]
        export: Option<PathBuf>,
    },
    /// Submit hand-written Terraform (a directory, applied as a stack), a playbook, or both
    /// (the playbook then runs on the hosts the Terraform creates) for review and apply.
    Submit {
        /// Directory with the .tf files.
        dir: Option<PathBuf>,
        /// Stack name (its state is kept under this name).
        #[arg(long)]
        stack: Option<String>,
        /// An Ansible playbook (one .yml file).
        #[arg(long, value_name = "FILE")]
        playbook: Option<PathBuf>,
        /// The playbook's hosts, when there is no Terraform to create them.
        #[arg(long, value_name = "FILE", requires = "playbook")]
        inventory: Option<PathBuf>,
    },
    /// List and inspect plans.
    #[command(subcommand)]
    Plans(PlansCommand),
    /// Approve a plan someone else requested (registered approvers, with a TOTP code).
    Approve {
        id: String,
        #[arg(long)]
        comment: Option<String>,
        /// Current code from your authenticator app.
        #[arg(long, env = "OPSDECK_TOTP")]
        totp: Option<String>,
        /// Emergency: let this one approval stand in for all required ones (needs --reason;
        /// flagged in the audit trail; never lifts a policy deny).
        #[arg(long, requires = "reason")]
        break_glass: bool,
        /// Why glass is being broken.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject a plan, with a reason (approvers, admins or the requester; with a TOTP code).
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
        #[arg(long, env = "OPSDECK_TOTP")]
        totp: Option<String>,
    },
    /// Run an approved plan (Ctrl-C cancels it cleanly).
    Apply { id: String },
    /// Terraform stacks: list them, show one (state version, lock), break a stale lock.
    Stacks {
        #[command(subcommand)]
        command: Option<StacksCommand>,
    },
    /// Browse, verify and export the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Manage tenants and their guardrail settings.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Registered users, their roles and TOTP enrolment.
    #[command(subcommand, alias = "user")]
    Users(UsersCommand),
    /// Rego policies: list, test, add and remove tenant files.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Why a request or plan was routed as it was: which words led to which agent and parameters.
    Explain {
        /// A plan id, or a request text.
        #[arg(required = true)]
        what: Vec<String>,
    },
    /// Serve the Model Context Protocol on stdin/stdout for AI tools (they can queue plans,
    /// never approve them).
    Mcp,
    /// The shared backend (DynamoDB + S3): create and check its tables and buckets, flush the
    /// local journal, migrate a local store into it.
    #[command(subcommand)]
    Backend(BackendCommand),
    /// The tenant's AWS configurations (account role, regions, VPC, tags, budget) and the one
    /// you act through.
    #[command(subcommand)]
    Configs(ConfigsCommand),
}

#[derive(Debug, Subcommand)]
pub enum BackendCommand {
    /// Create the tables and buckets, or fix their settings; changes nothing when all is well.
    Init,
    /// Say what is missing or misconfigured (exit 10 if anything is), and what this machine
    /// has queued while the backend was unreachable.
    Check,
    /// Flush audit events queued on this machine while the backend was unreachable.
    Sync,
    /// Copy a local store's history (trail verified before and after) into the shared backend.
    Migrate {
        #[arg(long, value_parser = ["local"])]
        from: String,
        #[arg(long, value_parser = ["aws"])]
        to: String,
        /// Only these tenants (repeatable; default: every local tenant).
        #[arg(long = "only")]
        only: Vec<String>,
    },
}

/// The fields of a configuration, as flags.
#[derive(Debug, Args, Default)]
pub struct ConfigArgs {
    /// IAM role opsdeck assumes for this configuration (arn:aws:iam::ACCOUNT:role/NAME).
    #[arg(long)]
    pub role_arn: Option<String>,
    /// External id the role's trust policy requires.
    #[arg(long)]
    pub external_id: Option<String>,
    /// Region plans may target (repeatable; the first is the default).
    #[arg(long = "region")]
    pub regions: Vec<String>,
    #[arg(long)]
    pub vpc_id: Option<String>,
    /// Subnet for new resources (repeatable).
    #[arg(long = "subnet")]
    pub subnets: Vec<String>,
    /// Security group for new resources (repeatable).
    #[arg(long = "security-group")]
    pub security_groups: Vec<String>,
    /// Never give new instances public addresses.
    #[arg(long)]
    pub private_only: Option<bool>,
    /// Tag every created resource carries, KEY=VALUE (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Monthly budget in USD for this account.
    #[arg(long)]
    pub budget: Option<f64>,
    #[arg(long)]
    pub description: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigsCommand {
    /// Add a configuration (admins, with TOTP).
    Add {
        name: String,
        #[command(flatten)]
        fields: ConfigArgs,
        #[arg(long, env = "OPSDECK_TOTP")]
        totp: Option<String>,
    },
    /// The tenant's configurations; `*` marks the one you act through.
    List,
    Show {
        name: String,
    },
    /// Change a configuration (admins, with TOTP): given flags replace those fields.
    Update {
        name: String,
        #[command(flatten)]
        fields: ConfigArgs,
        /// Drop the external id.
        #[arg(long)]
        clear_external_id: bool,
        /// Drop the VPC preferences.
        #[arg(long)]
        clear_vpc: bool,
        #[arg(long, env = "OPSDECK_TOTP")]
        totp: Option<String>,
    },
    /// Remove a configuration (admins, with TOTP).
    Remove {
        name: String,
        #[arg(long, env = "OPSDECK_TOTP")]
        totp: Option<String>,
    },
    /// Act through this configuration from now on (`none`: the base credentials).
    Use {
        name: String,
    },
    /// Assume the configuration's role and show who AWS says that is.
    Check {
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum StacksCommand {
    /// Stacks of the tenant with their status and lock holder.
    List,
    /// One stack: applied plan, state version and resources, and who holds its lock.
    Show { name: String },
    /// Break a stack's stale lock (admins and approvers; with a reason and a TOTP code;
    /// audited with who held it).
    Unlock {
        name: String,
        /// Required: breaking a lock that a running apply holds lets a second apply collide.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        reason: String,
        #[arg(long, env = "OPSDECK_TOTP")]
        totp: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Register a user and print their TOTP secret and QR code (admins; the first user of a
    /// tenant must be an admin).
    Add {
        name: String,
        /// viewer, operator, approver or admin (repeatable).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Approver group (repeatable).
        #[arg(long = "group")]
        groups: Vec<String>,
        /// The acting admin's current TOTP code.
        #[arg(long, env = "OPSDECK_TOTP")]
        totp: Option<String>,
    },
    List,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Policy files in force for the tenant.
    List,
    /// Run the Rego unit tests (starter set and tenant *_test.rego files).
    Test,
    /// Add or replace a tenant policy file (admins, with TOTP).
    Add {
        file: PathBuf,
        #[arg(long, env = "OPSDECK_TOTP")]
        totp: Option<String>,
    },
    /// Remove a tenant policy file (admins, with TOTP).
    Remove {
        name: String,
        #[arg(long, env = "OPSDECK_TOTP")]
        totp: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum PlansCommand {
    /// Plans of the tenant, newest first.
    List {
        /// Only plans in this state (pending, approved, rejected, expired, executing, succeeded, failed, cancelled).
        #[arg(long)]
        state: Option<String>,
    },
    /// One plan in full.
    Show {
        id: String,
        /// Print the generated artifacts as the tool reads them.
        #[arg(long)]
        artifact: bool,
    },
}

#[derive(Debug, Args, Default)]
pub struct FilterArgs {
    /// Events by this user (`--user` is who is acting).
    #[arg(long, value_name = "USER")]
    pub by: Option<String>,
    #[arg(long)]
    pub agent: Option<String>,
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long)]
    pub event: Option<String>,
    /// Plan id, request id or event id (prefix).
    #[arg(long)]
    pub id: Option<String>,
    /// ISO date/time or look-back such as 1h, 24h, 7d.
    #[arg(long)]
    pub since: Option<String>,
    #[arg(long)]
    pub until: Option<String>,
    /// Newest N only.
    #[arg(long)]
    pub limit: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Events of the tenant, oldest first.
    List {
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// One event (by event id or sequence number), or every event of a plan or request.
    Show { id: String },
    /// Recompute the hash chain and signatures; names the first broken record.
    Verify {
        /// Check every record's signature, not only every 8th and the last (each signature
        /// already covers all records before it).
        #[arg(long)]
        full: bool,
    },
    /// Write events with their chain fields as JSON or CSV.
    Export {
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
        /// File to write (default: stdout).
        #[arg(long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        filter: FilterArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    List,
    Add {
        name: String,
    },
    /// Print the tenant's settings as TOML (policy config, budget, approval rules).
    Show,
    /// Replace the tenant's settings from a TOML file (admins, with TOTP).
    Set {
        #[arg(long)]
        file: PathBuf,
        #[arg(long, env = "OPSDECK_TOTP")]
        totp: Option<String>,
    },
}

/// Runs the CLI; returns the process exit status.
pub fn run(cli: Cli) -> Result<u8> {
    let json_out = cli.json;
    let open = OpenOptions {
        home: cli.home.clone(),
        tenant: cli.tenant.clone(),
        user: cli.user.clone(),
        user_env: std::env::var("OPSDECK_USER").ok(),
        backend: cli.backend.clone(),
        clock: None,
        via_mcp: false,
        endpoint_url: cli.endpoint_url.clone(),
        aws_config: cli.aws_config.clone(),
    };
    let Some(command) = cli.command else {
        return crate::tui::run(open);
    };
    // Classification needs no store: it works even when the data directory is unusable.
    if let Command::Classify { batch, text } = &command {
        return classify(batch.as_deref(), text, json_out);
    }
    if let Command::Mcp = command {
        return crate::mcp::serve(open);
    }
    if let Command::Demo {
        install,
        serve,
        stop,
    } = command
    {
        return crate::demo::run(
            crate::demo::DemoOptions {
                open,
                install,
                serve,
                stop,
            },
            json_out,
        );
    }
    if let Command::Backend(cmd) = command {
        return backend(cmd, &open, json_out);
    }
    let mut open = open;
    // Managing configurations must work even when the selected one is gone.
    if matches!(&command, Command::Configs(c) if !matches!(c, ConfigsCommand::Check { .. }))
        && open.aws_config.is_none()
    {
        open.aws_config = Some("none".into());
    }
    let deck = Deck::open(open)?;
    let progress = move |e: AgentEvent| {
        if json_out {
            return;
        }
        match e {
            AgentEvent::Progress { message, .. } => errln!("· {message}"),
            AgentEvent::Output { line, .. } => errln!("  {line}"),
            AgentEvent::Result { output, .. } => {
                for l in output.to_text() {
                    outln!("{l}");
                }
            }
            AgentEvent::Failed { .. }
            | AgentEvent::PlanReady { .. }
            | AgentEvent::Finished { .. } => {}
        }
    };
    match command {
        Command::Classify { .. } | Command::Mcp | Command::Backend(_) | Command::Demo { .. } => {
            Err(Error::input("handled before the store opens"))
        }
        Command::Configs(cmd) => configs(&deck, cmd, json_out),
        Command::Init => {
            let setup = deck.init()?;
            if json_out {
                let mut v = serde_json::to_value(&setup)
                    .map_err(|e| Error::input(format!("cannot encode the set-up: {e}")))?;
                if let Some(e) = &setup.enrolment {
                    v["totp_secret"] = json!(e.secret);
                    v["otpauth_uri"] = json!(e.otpauth_uri);
                }
                print_json(&v)?;
            } else {
                print_block(&format!("{}\n", setup.lines().join("\n")));
            }
            Ok(0)
        }
        Command::Totp { code_only } => {
            let shown = deck.totp_code()?;
            if json_out {
                print_json(&shown)?;
            } else if code_only {
                errln!("{}", shown.risk);
                outln!("{}", shown.code);
            } else {
                outln!(
                    "{}  ({} in tenant {}, valid for {} s more)",
                    shown.code,
                    shown.user,
                    shown.tenant,
                    shown.valid_for_seconds
                );
                errln!("{}", shown.risk);
            }
            Ok(0)
        }
        Command::Explain { what } => {
            let (intent, v) = deck.explain(&what.join(" "))?;
            if json_out {
                print_json(&v)?;
            } else {
                outln!(
                    "routed to {} / {} (confidence {}{})",
                    v["agents"]
                        .as_array()
                        .map(|a| a
                            .iter()
                            .filter_map(|x| x.as_str())
                            .collect::<Vec<_>>()
                            .join("+"))
                        .unwrap_or_default(),
                    v["action"].as_str().unwrap_or_default(),
                    v["confidence"],
                    if intent.low_confidence { ", LOW" } else { "" }
                );
                for r in v["routed_by"].as_array().into_iter().flatten() {
                    outln!(
                        "  {:<16} {}",
                        r["word"].as_str().unwrap_or(""),
                        r["means"].as_str().unwrap_or("")
                    );
                }
                for (k, p) in v["parameters"].as_object().into_iter().flatten() {
                    let from: Vec<&str> = p["from"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|x| x.as_str())
                        .collect();
                    outln!("  {:<16} = {} (from \"{}\")", k, p["value"], from.join(" "));
                }
                for n in &intent.notes {
                    outln!("  note: {n}");
                }
            }
            Ok(0)
        }
        Command::Ask {
            inventory,
            export,
            text,
        } => {
            let opts = RequestOptions { inventory };
            match deck.request_with(&text.join(" "), &opts, &progress)? {
                Answer::Plan(rec) => {
                    if export.is_some() {
                        errln!("note: --export writes a report's files; this request made a plan");
                    }
                    print_plan_outcome(&deck, &rec, json_out)
                }
                Answer::Report(r) => {
                    if let Some(dir) = &export {
                        export_report(&r, dir)?;
                    }
                    print_report_outcome(&r, json_out)
                }
            }
        }
        Command::Submit {
            dir,
            stack,
            playbook,
            inventory,
        } => {
            let rec = deck.submit(
                &Submission {
                    terraform: dir,
                    stack,
                    playbook,
                    inventory,
                },
                &progress,
            )?;
            print_plan_outcome(&deck, &rec, json_out)
        }
        Command::Plans(PlansCommand::List { state }) => {
            let state = state.map(|s| parse_state(&s)).transpose()?;
            let plans = deck.plans(state)?;
            if json_out {
                print_json(&plans)?;
            } else if plans.is_empty() {
                outln!("no plans in tenant {}", deck.tenant.name);
            } else {
                outln!(
                    "{:<13} {:<11} {:<8} {:<10} {:>10}  {:<19} SUMMARY",
                    "PLAN",
                    "STATE",
                    "RISK",
                    "REQUESTER",
                    "$/MONTH",
                    "CREATED"
                );
                for r in &plans {
                    outln!(
                        "{:<13} {:<11} {:<8} {:<10} {:>10.2}  {:<19} {}",
                        r.plan.plan_id,
                        r.state.as_str(),
                        r.plan.risk.as_str(),
                        r.plan.requester,
                        r.plan.cost.monthly_usd,
                        &r.plan.created_at[..19.min(r.plan.created_at.len())],
                        r.plan.summary
                    );
                }
            }
            Ok(0)
        }
        Command::Plans(PlansCommand::Show { id, artifact }) => {
            let rec = deck.plan(&id)?;
            if artifact {
                let files = deck.artifacts(&rec.plan)?;
                if json_out {
                    let out: Vec<_> = files
                        .iter()
                        .map(|(a, b)| {
                            if a.kind.is_binary() {
                                json!({"name": a.name, "kind": a.kind, "sha256": a.sha256,
                                       "size": b.len(), "content": null})
                            } else {
                                json!({"name": a.name, "kind": a.kind, "sha256": a.sha256,
                                       "content": String::from_utf8_lossy(b)})
                            }
                        })
                        .collect();
                    print_json(&out)?;
                } else {
                    print_artifacts(&files)?;
                }
            } else if json_out {
                print_json(&rec)?;
            } else {
                print_plan(&rec);
            }
            Ok(0)
        }
        Command::Approve {
            id,
            comment,
            totp,
            break_glass,
            reason,
        } => {
            let glass = if break_glass { reason } else { None };
            let rec = deck.approve(&id, comment, totp.as_deref(), glass)?;
            if json_out {
                print_json(&rec)?;
            } else if rec.state == State::Approved {
                outln!(
                    "approved plan {} by {} (bound to hash {}); run it with `opsdeck apply {}`",
                    rec.plan.plan_id,
                    deck.identity.user,
                    crate::approval::short(&rec.plan.content_hash),
                    rec.plan.plan_id
                );
            } else {
                outln!(
                    "approval recorded: {} of {} for plan {}",
                    rec.approvals.len(),
                    rec.required_approvals,
                    rec.plan.plan_id
                );
            }
            Ok(0)
        }
        Command::Reject { id, reason, totp } => {
            let rec = deck.reject(&id, &reason, totp.as_deref())?;
            if json_out {
                print_json(&rec)?;
            } else {
                outln!("rejected plan {}: {reason}", rec.plan.plan_id);
            }
            Ok(0)
        }
        Command::Apply { id } => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| Error::io("starting the runtime", e))?;
            let report = rt.block_on(async {
                let (tx, rx) = tokio::sync::watch::channel(false);
                let ctrl_c = tokio::spawn(async move {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        let _ = tx.send(true);
                    }
                });
                let report = deck.apply(&id, &progress, rx).await;
                ctrl_c.abort();
                report
            })?;
            if json_out {
                print_json(&report)?;
            } else {
                outln!(
                    "plan {} {}{}; log: {}",
                    report.plan_id,
                    report.state.as_str(),
                    report
                        .exit_code
                        .map(|c| format!(" (exit {c})"))
                        .unwrap_or_default(),
                    report.log_uri.as_deref().unwrap_or("-")
                );
            }
            Ok(if report.success { 0 } else { 8 })
        }
        Command::Stacks { command } => stacks(&deck, command, json_out),
        Command::Audit(cmd) => audit(&deck, cmd, json_out),
        Command::Tenants(TenantsCommand::List) => {
            let tenants = deck.tenants()?;
            if json_out {
                print_json(&tenants)?;
            } else {
                for t in tenants {
                    outln!("{}", t.name);
                }
            }
            Ok(0)
        }
        Command::Tenants(TenantsCommand::Show) => {
            if json_out {
                print_json(&deck.tenant)?;
            } else {
                let text = toml::to_string(&deck.tenant)
                    .map_err(|e| Error::input(format!("cannot encode settings: {e}")))?;
                print_block(&text);
            }
            Ok(0)
        }
        Command::Tenants(TenantsCommand::Set { file, totp }) => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Error::io(format!("reading {}", file.display()), e))?;
            let settings: crate::tenant::Tenant =
                toml::from_str(&text).map_err(|e| Error::Config {
                    path: file.clone(),
                    detail: e.to_string().replace('\n', " "),
                })?;
            let t = deck.set_tenant_settings(settings, totp.as_deref())?;
            if json_out {
                print_json(&t)?;
            } else {
                outln!("settings of tenant {} replaced", t.name);
            }
            Ok(0)
        }
        Command::Users(UsersCommand::Add {
            name,
            roles,
            groups,
            totp,
        }) => {
            let roles = roles
                .iter()
                .map(|r| r.parse::<crate::tenant::Role>().map_err(Error::Input))
                .collect::<Result<Vec<_>>>()?;
            let e = deck.add_user(&name, roles, groups, totp.as_deref())?;
            if json_out {
                let mut v = e.user.public();
                v["totp_secret"] = json!(e.secret);
                v["otpauth_uri"] = json!(e.otpauth_uri);
                print_json(&v)?;
            } else {
                outln!(
                    "registered {} in tenant {} as {}",
                    e.user.name,
                    deck.tenant.name,
                    e.user
                        .roles
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                outln!();
                outln!(
                    "Scan this with an authenticator app (shown once; it is the user's second factor):"
                );
                outln!();
                print_block(&format!("{}\n", crate::tenant::mfa::qr(&e.otpauth_uri)));
                outln!("secret: {}", e.secret);
                outln!("uri:    {}", e.otpauth_uri);
            }
            Ok(0)
        }
        Command::Users(UsersCommand::List) => {
            let users = deck.users()?;
            if json_out {
                let v: Vec<_> = users.iter().map(|u| u.public()).collect();
                print_json(&v)?;
            } else if users.is_empty() {
                outln!(
                    "tenant {} has no registered users: anyone may ask, nobody can approve yet (`opsdeck users add NAME --role admin`)",
                    deck.tenant.name
                );
            } else {
                for u in users {
                    outln!(
                        "{:<20} {:<28} {}",
                        u.name,
                        u.roles
                            .iter()
                            .map(|r| r.as_str())
                            .collect::<Vec<_>>()
                            .join(","),
                        u.groups.join(",")
                    );
                }
            }
            Ok(0)
        }
        Command::Policy(PolicyCommand::List) => {
            let files = deck.policy_files();
            if json_out {
                print_json(&files)?;
            } else {
                for f in files {
                    outln!("{f}");
                }
            }
            Ok(0)
        }
        Command::Policy(PolicyCommand::Test) => {
            let results = deck.test_policies()?;
            let failed = results.iter().filter(|r| !r.passed).count();
            if json_out {
                print_json(&results)?;
            } else {
                for r in results.iter().filter(|r| !r.passed) {
                    outln!("FAIL {} {}: {}", r.file, r.test, r.detail);
                }
                outln!("{} passed, {} failed", results.len() - failed, failed);
            }
            Ok(if failed == 0 { 0 } else { 1 })
        }
        Command::Policy(PolicyCommand::Add { file, totp }) => {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Error::io(format!("reading {}", file.display()), e))?;
            deck.put_policy(&name, &text, totp.as_deref())?;
            if !json_out {
                outln!("policy {name} is in force for tenant {}", deck.tenant.name);
            }
            Ok(0)
        }
        Command::Policy(PolicyCommand::Remove { name, totp }) => {
            let removed = deck.remove_policy(&name, totp.as_deref())?;
            if !removed {
                return Err(Error::not_found(
                    "policy",
                    name,
                    "`opsdeck policy list` shows them",
                ));
            }
            if !json_out {
                outln!("policy {name} removed");
            }
            Ok(0)
        }
        Command::Tenants(TenantsCommand::Add { name }) => {
            let t = deck.add_tenant(&name)?;
            if json_out {
                print_json(&t)?;
            } else {
                outln!("created tenant {}", t.name);
            }
            Ok(0)
        }
    }
}

fn stacks(deck: &Deck, command: Option<StacksCommand>, json_out: bool) -> Result<u8> {
    match command.unwrap_or(StacksCommand::List) {
        StacksCommand::List => {
            let stacks = deck.stacks()?;
            let locks: Vec<Option<crate::store::StackLock>> = stacks
                .iter()
                .map(|s| deck.stack_lock(&s.name))
                .collect::<Result<_>>()?;
            if json_out {
                let v: Vec<_> = stacks
                    .iter()
                    .zip(&locks)
                    .map(|(s, l)| {
                        let mut v = serde_json::to_value(s).unwrap_or_default();
                        v["lock"] = json!(l);
                        v
                    })
                    .collect();
                print_json(&v)?;
            } else if stacks.is_empty() {
                outln!("no stacks in tenant {}", deck.tenant.name);
            } else {
                for (s, l) in stacks.into_iter().zip(locks) {
                    outln!(
                        "{:<26} {:<10} {:<16} last plan {}{}",
                        s.name,
                        format!("{:?}", s.status).to_lowercase(),
                        s.region.unwrap_or_default(),
                        s.last_applied_plan,
                        l.map(|l| format!("  LOCKED: {}", l.describe()))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(0)
        }
        StacksCommand::Show { name } => {
            let d = deck.stack_detail(&name)?;
            if json_out {
                print_json(&d)?;
                return Ok(0);
            }
            outln!("stack     {name}");
            match &d.record {
                Some(r) => {
                    outln!(
                        "status    {}  (last applied by plan {} at {})",
                        format!("{:?}", r.status).to_lowercase(),
                        r.last_applied_plan,
                        r.updated_at
                    );
                    if let Some(region) = &r.region {
                        outln!("region    {region}");
                    }
                }
                None => outln!("status    never applied"),
            }
            outln!(
                "state     {}",
                d.state
                    .as_ref()
                    .map(|s| s.describe())
                    .unwrap_or_else(|| format!(
                        "{} (version not readable without terraform)",
                        d.backend
                    ))
            );
            match &d.lock {
                Some(l) => outln!("lock      held: {}", l.describe()),
                None => outln!("lock      free"),
            }
            if !d.resources.is_empty() {
                outln!("resources");
                for r in &d.resources {
                    outln!("  {r}");
                }
            }
            Ok(0)
        }
        StacksCommand::Unlock {
            name,
            force,
            reason,
            totp,
        } => {
            if !force {
                return Err(Error::input(format!(
                    "breaking the lock of stack {name} lets another apply run on it; if the holder is really gone, repeat with --force"
                )));
            }
            let held = deck.break_stack_lock(&name, &reason, totp.as_deref())?;
            if json_out {
                print_json(&held)?;
            } else {
                outln!(
                    "lock of stack {name} broken (it was held by the {}); recorded in the audit trail",
                    held.describe()
                );
            }
            Ok(0)
        }
    }
}

fn backend(cmd: BackendCommand, open: &OpenOptions, json_out: bool) -> Result<u8> {
    use crate::store::aws::provision::Finding;
    let (store, paths) = crate::pipeline::shared_backend(open)?;
    // Only what is not fine is listed; the summary line counts the rest.
    let print_findings = |findings: &[Finding]| {
        for f in findings
            .iter()
            .filter(|f| f.status != crate::store::aws::provision::Status::Ok)
        {
            outln!(
                "{:<8} {:<40} {:<24} {}",
                f.status.as_str(),
                f.resource,
                f.aspect,
                f.detail
            );
        }
    };
    match cmd {
        BackendCommand::Init => {
            let findings = store.init()?;
            if json_out {
                print_json(&findings)?;
            } else {
                print_findings(&findings);
                let changed = findings
                    .iter()
                    .filter(|f| f.status != crate::store::aws::provision::Status::Ok)
                    .count();
                outln!(
                    "shared backend ready at {} ({} aspects of 6 tables and 3 buckets checked, {changed} changed)",
                    crate::store::Store::location(&store),
                    findings.len()
                );
            }
            Ok(0)
        }
        BackendCommand::Check => {
            let findings = store.check()?;
            let health = crate::store::Store::health(&store);
            let problems = findings.iter().filter(|f| f.status.is_problem()).count();
            if json_out {
                print_json(&json!({"findings": findings, "journal": health}))?;
            } else {
                print_findings(&findings);
                outln!(
                    "{} · this machine's journal: {} queued, {} refused{}",
                    if problems == 0 {
                        format!(
                            "all {} aspects of 6 tables and 3 buckets are as they should be",
                            findings.len()
                        )
                    } else {
                        format!("{problems} problem(s): `opsdeck backend init` fixes them")
                    },
                    health.queued,
                    health.dead_letters,
                    if health.dead_letters > 0 {
                        format!(" (see {})", store.journal().dir().display())
                    } else {
                        String::new()
                    }
                );
            }
            Ok(if problems == 0 { 0 } else { 10 })
        }
        BackendCommand::Sync => {
            let signer = crate::audit::Signer::load_or_create(&paths.data.join("keys"))?;
            let report = crate::store::Store::sync(&store, &signer)?;
            if json_out {
                print_json(&report)?;
            } else {
                outln!(
                    "flushed {} audit events and {} artifacts ({} already there); {} still queued, {} refused",
                    report.events,
                    report.artifacts,
                    report.already_there,
                    report.remaining,
                    report.dead_letters
                );
            }
            Ok(if report.remaining == 0 { 0 } else { 6 })
        }
        BackendCommand::Migrate { only, .. } => {
            let local = crate::store::LocalStore::open(&paths.data)?;
            let done = crate::store::migrate::local_to_aws(&local, &store, &only, &mut |line| {
                if !json_out {
                    errln!("· {line}");
                }
            })?;
            if json_out {
                print_json(&done)?;
            } else {
                for m in &done {
                    outln!(
                        "tenant {}: {} audit records ({} copied now), head {}; {} artifacts, {} plans",
                        m.tenant,
                        m.records,
                        m.records_copied,
                        m.head.as_deref().unwrap_or("(empty)"),
                        m.artifacts,
                        m.plans
                    );
                }
            }
            Ok(0)
        }
    }
}

fn configs(deck: &Deck, cmd: ConfigsCommand, json_out: bool) -> Result<u8> {
    use crate::tenant::AwsConfiguration;
    let tags = |list: &[String]| -> Result<std::collections::BTreeMap<String, String>> {
        list.iter()
            .map(|t| {
                t.split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .ok_or_else(|| Error::input(format!("tag '{t}' must be KEY=VALUE")))
            })
            .collect()
    };
    let show = |c: &AwsConfiguration| -> Result<()> {
        if json_out {
            return print_json(c);
        }
        outln!("configuration {} (tenant {})", c.name, c.tenant);
        outln!("  account      {}", c.account());
        outln!("  role         {}", c.role_arn);
        if let Some(e) = &c.external_id {
            outln!("  external id  {e}");
        }
        outln!(
            "  regions      {}",
            if c.regions.is_empty() {
                "any (tenant default)".to_string()
            } else {
                c.regions.join(", ")
            }
        );
        if let Some(v) = &c.vpc.vpc_id {
            outln!("  vpc          {v}");
        }
        if !c.vpc.subnet_ids.is_empty() {
            outln!("  subnets      {}", c.vpc.subnet_ids.join(", "));
        }
        if !c.vpc.security_group_ids.is_empty() {
            outln!("  groups       {}", c.vpc.security_group_ids.join(", "));
        }
        if c.vpc.private_only {
            outln!("  private only yes");
        }
        for (k, v) in &c.tags {
            outln!("  tag          {k}={v}");
        }
        if c.budget_usd > 0.0 {
            outln!("  budget       ${:.2}/month", c.budget_usd);
        }
        if !c.description.is_empty() {
            outln!("  description  {}", c.description);
        }
        outln!("  changed      {} by {}", c.updated_at, c.updated_by);
        Ok(())
    };
    match cmd {
        ConfigsCommand::Add { name, fields, totp } => {
            let role_arn = fields.role_arn.clone().ok_or_else(|| {
                Error::input("a configuration needs --role-arn arn:aws:iam::ACCOUNT:role/NAME")
            })?;
            let config = AwsConfiguration {
                name,
                tenant: deck.tenant.name.clone(),
                role_arn,
                external_id: fields.external_id.clone(),
                regions: fields.regions.clone(),
                vpc: crate::tenant::configs::VpcPreferences {
                    vpc_id: fields.vpc_id.clone(),
                    subnet_ids: fields.subnets.clone(),
                    security_group_ids: fields.security_groups.clone(),
                    private_only: fields.private_only.unwrap_or(false),
                },
                tags: tags(&fields.tags)?,
                budget_usd: fields.budget.unwrap_or(0.0),
                description: fields.description.clone().unwrap_or_default(),
                created_at: String::new(),
                created_by: String::new(),
                updated_at: String::new(),
                updated_by: String::new(),
            };
            let c = deck.add_config(config, totp.as_deref())?;
            if json_out {
                print_json(&c)?;
            } else {
                outln!(
                    "added configuration {} (account {}) to tenant {}; act through it with `opsdeck configs use {}`",
                    c.name,
                    c.account(),
                    c.tenant,
                    c.name
                );
            }
            Ok(0)
        }
        ConfigsCommand::List => {
            let all = deck.configs()?;
            let selected = deck
                .store
                .selected_config(&deck.tenant.name, &deck.identity.user)?;
            if json_out {
                print_json(&json!({"configs": all, "selected": selected}))?;
            } else if all.is_empty() {
                outln!(
                    "tenant {} has no AWS configurations: opsdeck acts with the base credentials (`opsdeck configs add NAME --role-arn ...`)",
                    deck.tenant.name
                );
            } else {
                for c in &all {
                    let mark = if selected.as_deref() == Some(c.name.as_str())
                        || (selected.is_none() && all.len() == 1)
                    {
                        "*"
                    } else {
                        " "
                    };
                    outln!(
                        "{mark} {:<20} {:<14} {:<28} {}",
                        c.name,
                        c.account(),
                        c.regions.join(","),
                        c.description
                    );
                }
            }
            Ok(0)
        }
        ConfigsCommand::Show { name } => {
            show(&deck.config(&name)?)?;
            Ok(0)
        }
        ConfigsCommand::Update {
            name,
            fields,
            clear_external_id,
            clear_vpc,
            totp,
        } => {
            let new_tags = if fields.tags.is_empty() {
                None
            } else {
                Some(tags(&fields.tags)?)
            };
            let c = deck.update_config(
                &name,
                &mut |c| {
                    if let Some(r) = &fields.role_arn {
                        c.role_arn = r.clone();
                    }
                    if clear_external_id {
                        c.external_id = None;
                    }
                    if let Some(e) = &fields.external_id {
                        c.external_id = Some(e.clone());
                    }
                    if !fields.regions.is_empty() {
                        c.regions = fields.regions.clone();
                    }
                    if clear_vpc {
                        c.vpc = Default::default();
                    }
                    if let Some(v) = &fields.vpc_id {
                        c.vpc.vpc_id = Some(v.clone());
                    }
                    if !fields.subnets.is_empty() {
                        c.vpc.subnet_ids = fields.subnets.clone();
                    }
                    if !fields.security_groups.is_empty() {
                        c.vpc.security_group_ids = fields.security_groups.clone();
                    }
                    if let Some(p) = fields.private_only {
                        c.vpc.private_only = p;
                    }
                    if let Some(t) = &new_tags {
                        c.tags = t.clone();
                    }
                    if let Some(b) = fields.budget {
                        c.budget_usd = b;
                    }
                    if let Some(d) = &fields.description {
                        c.description = d.clone();
                    }
                },
                totp.as_deref(),
            )?;
            if json_out {
                print_json(&c)?;
            } else {
                show(&c)?;
            }
            Ok(0)
        }
        ConfigsCommand::Remove { name, totp } => {
            deck.remove_config(&name, totp.as_deref())?;
            if json_out {
                print_json(&json!({"removed": name}))?;
            } else {
                outln!(
                    "removed configuration {name} from tenant {}",
                    deck.tenant.name
                );
            }
            Ok(0)
        }
        ConfigsCommand::Use { name } => {
            let chosen = deck.select_config((name != "none").then_some(name.as_str()))?;
            if json_out {
                print_json(&json!({"selected": chosen.as_ref().map(|c| &c.name)}))?;
            } else {
                match chosen {
                    Some(c) => outln!(
                        "{} now acts through configuration {} (account {}) in tenant {}",
                        deck.identity.user,
                        c.name,
                        c.account(),
                        deck.tenant.name
                    ),
                    None => outln!(
                        "{} now acts with the base credentials in tenant {}",
                        deck.identity.user,
                        deck.tenant.name
                    ),
                }
            }
            Ok(0)
        }
        ConfigsCommand::Check { name } => {
            let who = deck.check_config(name.as_deref())?;
            if json_out {
                print_json(&who)?;
            } else {
                outln!(
                    "{} → account {} as {}",
                    who.configuration.as_deref().unwrap_or("base credentials"),
                    who.account,
                    who.arn
                );
            }
            Ok(0)
        }
    }
}

/// Each artifact as the tool reads it, headed `# file: NAME` when there are several. A saved
/// Terraform plan is binary: its `show -json` (kept beside it) is what is printed for it.
fn print_artifacts(files: &[(crate::plan::ArtifactRef, Vec<u8>)]) -> Result<()> {
    let many = files.len() > 1;
    for (a, bytes) in files {
        if a.kind.is_binary() {
            outln!(
                "# file: {} (binary saved plan, {} bytes, sha256 {}; printed as its JSON below)",
                a.name,
                bytes.len(),
                a.sha256
            );
            continue;
        }
        if many {
            outln!("# file: {}", a.name);
        }
        // Artifacts carry request values; on a terminal they are text like everything else.
        print_block(&String::from_utf8_lossy(bytes));
        if many && !bytes.ends_with(b"\n") && !bytes.is_empty() {
            outln!();
        }
    }
    Ok(())
}

fn classify(batch: Option<&str>, text: &[String], json_out: bool) -> Result<u8> {
    if let Some(path) = batch {
        if !text.is_empty() {
            return Err(Error::input(
                "give either --batch FILE or a request, not both",
            ));
        }
        let reader: Box<dyn BufRead> = if path == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::io::BufReader::new(std::fs::File::open(path).map_err(
                |e| Error::io(format!("opening batch file {path}"), e),
            )?))
        };
        return classify_batch(reader, json_out);
    }
    let text = text.join(" ");
    let intent = intent::parse(&text).map_err(|e| Error::input(e.to_string()))?;
    if json_out {
        let v =
            crate::sanitize::to_json_line(&intent).map_err(|e| Error::io("encoding", e.into()))?;
        outln!("{v}");
    } else {
        let v = serde_json::to_value(&intent).unwrap_or_default();
        outln!("{}", human_intent_line(1, &v));
        for e in &intent.evidence {
            outln!("  {:<16} {}", e.word, e.meaning);
        }
        for n in &intent.notes {
            outln!("  note: {n}");
        }
    }
    Ok(0)
}

/// One output line per input line, in order; a line that cannot be read as text or classified
/// is an error object of its own and every other line is still answered.
fn classify_batch(mut reader: Box<dyn BufRead>, json_out: bool) -> Result<u8> {
    let mut failures = 0u8;
    let mut buf = Vec::new();
    for n in 1.. {
        buf.clear();
        let read = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io(format!("reading line {n}"), e))?;
        if read == 0 {
            break;
        }
        let bytes = buf
            .strip_suffix(b"\n")
            .map(|b| b.strip_suffix(b"\r").unwrap_or(b))
            .unwrap_or(&buf);
        let value = match std::str::from_utf8(bytes) {
            Ok(line) => match intent::parse(line) {
                Ok(i) => serde_json::to_value(&i).unwrap_or_default(),
                Err(e) => {
                    failures = 1;
                    json!({"line": n, "error": e.to_string()})
                }
            },
            Err(e) => {
                failures = 1;
                json!({"line": n, "error": format!(
                    "line {n} is not UTF-8 text (invalid byte at offset {}); save the file as UTF-8",
                    e.valid_up_to()
                )})
            }
        };
        if json_out {
            outln!(
                "{}",
                crate::sanitize::to_json_line(&value).unwrap_or_default()
            );
        } else {
            outln!("{}", human_intent_line(n, &value));
        }
    }
    Ok(failures)
}

fn human_intent_line(n: usize, v: &serde_json::Value) -> String {
    // An error names the line, never echoes it: the line may hold a credential.
    if let Some(err) = v.get("error") {
        return format!("line {n}: error: {}", err.as_str().unwrap_or_default());
    }
    format!(
        "{} / {}  confidence {}{}  {}",
        v["agents"]
            .as_array()
            .map(|a| a
                .iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join("+"))
            .unwrap_or_default(),
        v["action"].as_str().unwrap_or_default(),
        v["confidence"],
        if v["low_confidence"].as_bool() == Some(true) {
            " (LOW)"
        } else {
            ""
        },
        v["params"]
    )
}

/// A report's results were printed as they arrived; this adds the summary, notes and where it
/// is stored (or, with --json, the whole record including every output and the raw data).
fn print_report_outcome(r: &ReportRecord, json_out: bool) -> Result<u8> {
    if json_out {
        print_json(r)?;
    } else {
        outln!("{}", r.report.summary);
        for n in &r.report.notes {
            outln!("note: {n}");
        }
        outln!("report: {} (request {})", r.uri, r.request_id);
    }
    Ok(0)
}

/// `ask --export DIR`: report.json (the whole report) and each file the agent attached.
fn export_report(r: &ReportRecord, dir: &std::path::Path) -> Result<()> {
    let io = |e: std::io::Error| Error::io(format!("exporting the report to {}", dir.display()), e);
    std::fs::create_dir_all(dir).map_err(io)?;
    let body = serde_json::to_vec_pretty(&r.report).map_err(|e| io(e.into()))?;
    std::fs::write(
        dir.join("report.json"),
        crate::redact::redact(&String::from_utf8_lossy(&body)),
    )
    .map_err(io)?;
    for f in &r.report.files {
        // Names come from the agent; keep them inside DIR.
        let name = std::path::Path::new(&f.name)
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_else(|| "file".into());
        let text = crate::redact::redact(&String::from_utf8_lossy(&f.content));
        std::fs::write(dir.join(name), text).map_err(io)?;
    }
    errln!(
        "exported report.json{} to {}",
        r.report
            .files
            .iter()
            .map(|f| format!(", {}", f.name))
            .collect::<String>(),
        dir.display()
    );
    Ok(())
}

fn print_plan_outcome(deck: &Deck, rec: &PlanRecord, json_out: bool) -> Result<u8> {
    if json_out {
        // The plan itself, with its id under plan_id, plus where it stands.
        let mut v = serde_json::to_value(&rec.plan).map_err(|e| Error::io("encoding", e.into()))?;
        if let Some(o) = v.as_object_mut() {
            o.insert("state".into(), json!(rec.state));
        }
        print_json(&v)?;
    } else {
        print_plan(rec);
        match rec.state {
            State::Pending => {
                outln!();
                outln!(
                    "plan {} queued for approval: {}",
                    rec.plan.plan_id,
                    deck.approval_hint(rec)
                );
            }
            State::Rejected => {
                outln!();
                outln!("plan {} was denied by policy", rec.plan.plan_id);
            }
            _ => {}
        }
    }
    Ok(if rec.state == State::Rejected { 5 } else { 0 })
}

fn print_plan(rec: &PlanRecord) {
    let p = &rec.plan;
    outln!("plan      {}", p.plan_id);
    outln!("summary   {}", p.summary);
    outln!("request   {}", p.request);
    outln!(
        "agent     {} / {}  (confidence {:.2}{})",
        p.agents
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join("+"),
        p.action,
        p.intent.confidence,
        if p.intent.low_confidence { ", LOW" } else { "" }
    );
    outln!(
        "state     {}  (requested by {})",
        rec.state.as_str(),
        p.requester
    );
    outln!(
        "risk      {}{}",
        p.risk.as_str(),
        if p.risk_reasons.is_empty() {
            String::new()
        } else {
            format!(": {}", p.risk_reasons.join("; "))
        }
    );
    outln!(
        "cost      {}{}",
        p.cost.headline(),
        p.cost
            .basis()
            .map(|b| format!("  ({b})"))
            .unwrap_or_default()
    );
    for l in &p.cost.lines {
        outln!("            {:<42} ${:>9.2}", l.item, l.monthly_usd);
    }
    for n in &p.cost.notes {
        outln!("            note: {n}");
    }
    outln!("hash      {}", p.content_hash);
    outln!("gates");
    for g in &p.gates {
        outln!("  {:<5} {:<22} {}", g.result.as_str(), g.rule, g.reason);
    }
    if p.steps.len() > 1
        || p.steps
            .iter()
            .any(|s| matches!(s.kind, crate::plan::StepKind::Ansible { .. }))
    {
        outln!("steps");
        for (n, s) in p.steps.iter().enumerate() {
            outln!("  {}. {}  [{}]", n + 1, s.description, s.tool_line());
        }
    }
    for d in &p.dry_runs {
        outln!(
            "dry run   step {}: {} {}: {}",
            d.step,
            d.tool,
            d.status.as_str(),
            d.summary
        );
        for n in &d.notes {
            outln!("            note: {n}");
        }
        for h in &d.hosts {
            outln!(
                "            {:<24} ok={} changed={} failed={} unreachable={}",
                h.host,
                h.ok,
                h.changed,
                h.failed,
                h.unreachable
            );
        }
        outln!("            approval binds: {}", d.binds);
    }
    if !p.resources.is_empty() {
        outln!("resources");
    }
    for r in &p.resources {
        let sign = match r.action {
            crate::plan::ChangeAction::Create => "+",
            crate::plan::ChangeAction::Update => "~",
            crate::plan::ChangeAction::Delete => "-",
            crate::plan::ChangeAction::Replace => "-/+",
        };
        let count = if r.count > 1 {
            format!(" ×{}", r.count)
        } else {
            String::new()
        };
        let replaced = if r.action == crate::plan::ChangeAction::Replace {
            "  (REPLACED: destroyed, then created again)"
        } else {
            ""
        };
        outln!("  {sign} {}{count}{replaced}", r.address);
    }
    if p.steps
        .iter()
        .any(|s| matches!(s.kind, crate::plan::StepKind::Aws { .. }))
    {
        outln!("steps");
        for (n, s) in p.steps.iter().enumerate() {
            outln!("  {}. {}  [{}]", n + 1, s.description, s.tool_line());
        }
    }
    outln!("artifacts");
    for a in &p.artifacts {
        outln!("  {:<20} {:>7} B  sha256:{}", a.name, a.size, a.sha256);
    }
    for a in &rec.approvals {
        outln!(
            "approved  by {} at {} (hash {})",
            a.user,
            a.at,
            crate::approval::short(&a.plan_hash)
        );
    }
    if let Some(r) = &rec.rejection {
        outln!("rejected  by {} at {}: {}", r.user, r.at, r.reason);
    }
    for x in &rec.executions {
        outln!(
            "executed  by {} at {} → {} {}",
            x.started_by,
            x.started_at,
            x.outcome.as_deref().unwrap_or("running"),
            x.log_uri.as_deref().unwrap_or("")
        );
    }
}

fn audit(deck: &Deck, cmd: AuditCommand, json_out: bool) -> Result<u8> {
    match cmd {
        AuditCommand::List { filter } => {
            let records = deck.audit(&to_filter(deck, filter)?)?;
            if json_out {
                print_json(&records)?;
            } else {
                print_audit_table(&records);
            }
            Ok(0)
        }
        AuditCommand::Show { id } => {
            let all = deck.audit(&AuditFilter::default())?;
            let chosen: Vec<&AuditRecord> = match id.parse::<u64>() {
                Ok(seq) => all.iter().filter(|r| r.seq == seq).collect(),
                Err(_) => {
                    let exact: Vec<&AuditRecord> =
                        all.iter().filter(|r| r.event.event_id == id).collect();
                    if exact.is_empty() {
                        all.iter()
                            .filter(|r| {
                                r.event
                                    .plan_id
                                    .as_deref()
                                    .is_some_and(|p| p.starts_with(&id))
                                    || r.event.request_id.starts_with(&id)
                                    || r.event.event_id.starts_with(&id)
                            })
                            .collect()
                    } else {
                        exact
                    }
                }
            };
            if chosen.is_empty() {
                return Err(Error::not_found(
                    "audit event",
                    id,
                    "give an event id, a sequence number, a plan id or a request id",
                ));
            }
            if json_out {
                if chosen.len() == 1 {
                    print_json(chosen[0])?;
                } else {
                    print_json(&chosen)?;
                }
            } else {
                for r in chosen {
                    let v = crate::sanitize::to_json_pretty(r).unwrap_or_default();
                    print_block(&format!("{v}\n"));
                }
            }
            Ok(0)
        }
        AuditCommand::Verify { full } => {
            let report = deck.verify(full)?;
            if json_out {
                print_json(&report)?;
            } else if report.ok {
                outln!(
                    "audit trail of tenant {} verified: {} records, hash chain and signatures intact; head {}",
                    report.tenant,
                    report.records,
                    report.head.as_deref().unwrap_or("(empty)")
                );
            } else if let Some(b) = &report.first_break {
                outln!(
                    "audit trail of tenant {} is BROKEN at line {}{}{}: {}",
                    report.tenant,
                    b.line,
                    b.seq.map(|s| format!(" (record {s})")).unwrap_or_default(),
                    b.event_id
                        .as_deref()
                        .map(|e| format!(" event {e}"))
                        .unwrap_or_default(),
                    b.problem
                );
            }
            Ok(if report.ok { 0 } else { 9 })
        }
        AuditCommand::Export {
            format,
            output,
            filter,
        } => {
            let records = deck.audit(&to_filter(deck, filter)?)?;
            match output {
                Some(path) => {
                    let mut f = std::fs::File::create(&path)
                        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
                    export::write(&records, format, &mut f)?;
                    if !json_out {
                        errln!("wrote {} events to {}", records.len(), path.display());
                    }
                }
                None => export::write(&records, format, &mut std::io::stdout().lock())?,
            }
            Ok(0)
        }
    }
}

fn to_filter(deck: &Deck, f: FilterArgs) -> Result<AuditFilter> {
    crate::audit::query::FilterFields {
        user: f.by,
        agent: f.agent,
        status: f.status,
        event: f.event,
        subject: f.id,
        since: f.since,
        until: f.until,
        limit: f.limit,
    }
    .into_filter(deck.clock())
}

fn print_audit_table(records: &[AuditRecord]) {
    if records.is_empty() {
        outln!("no audit events match");
        return;
    }
    outln!(
        "{:>6}  {:<24} {:<10} {:<17} {:<10} {:<8} {:<13} MESSAGE",
        "SEQ",
        "TIME",
        "USER",
        "EVENT",
        "STATUS",
        "AGENT",
        "PLAN"
    );
    for r in records {
        let e = &r.event;
        outln!(
            "{:>6}  {:<24} {:<10} {:<17} {:<10} {:<8} {:<13} {}",
            r.seq,
            e.timestamp,
            e.user_id,
            e.event.as_str(),
            e.status.as_str(),
            e.agent_type.as_deref().unwrap_or("-"),
            e.plan_id.as_deref().unwrap_or("-"),
            e.message.as_deref().unwrap_or("")
        );
    }
}

fn parse_state(s: &str) -> Result<State> {
    serde_json::from_value(json!(s.to_lowercase())).map_err(|_| {
        Error::input(format!(
            "unknown state '{s}': pending, approved, rejected, expired, executing, succeeded, failed, cancelled, not_required"
        ))
    })
}

/// `--json` output: serde escapes C0 controls; [`crate::sanitize::json`] escapes what it leaves
/// raw (C1, DEL, U+2028/2029, bidi and other format characters), the value unchanged.
fn print_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<()> {
    let text =
        crate::sanitize::to_json_pretty(v).map_err(|e| Error::io("encoding output", e.into()))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(|e| Error::io("writing output", e))
}

/// Multi-line text (settings, artifacts, a QR code): lines and tabs kept, everything else as
/// [`outln!`] prints it.
fn print_block(text: &str) {
    print!("{}", crate::sanitize::terminal(text));
}
