//! The command line's shape: global flags, subcommands and their arguments (clap). What each
//! command does lives in the sibling modules, one per command group.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::pipeline::OpenOptions;

mod audit;
mod library;
mod report;
mod report_store;
pub use audit::{AuditCommand, FilterArgs};
pub use library::{LibraryCommand, LibraryWords, UseArgs};
pub use report::{ReportCommand, ReportFormat, ReportOutput};
pub use report_store::StoredReportCommand;

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
    /// Your own directory: private signing keys, pinned tenant roots and checkpoints of the
    /// trail (default: `<home>/identity`, else the platform config directory's `identity`).
    #[arg(long, global = true, env = "OPSDECK_IDENTITY_DIR", value_name = "DIR")]
    pub identity_dir: Option<PathBuf>,
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
    /// Questions only: anything that would change something (a change request, a submission,
    /// a decision, an apply, an admin change) is refused before any planning.
    #[arg(long, global = true, env = "OPSDECK_READ_ONLY")]
    pub read_only: bool,
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
    Ask(AskArgs),
    /// Submit hand-written Terraform (a directory, applied as a stack), a playbook, or both
    /// (the playbook then runs on the hosts the Terraform creates) for review and apply.
    Submit(SubmitArgs),
    /// List and inspect plans.
    #[command(subcommand)]
    Plans(PlansCommand),
    /// Approve a plan someone else requested (registered approvers, with a TOTP code).
    Approve(ApproveArgs),
    /// Reject a plan, with a reason (approvers, admins or the requester; with a TOTP code).
    Reject(RejectArgs),
    /// Run an approved plan: on the local store in this process (Ctrl-C cancels it cleanly);
    /// on the shared backend a runner applies it and this command follows its log.
    Apply(ApplyArgs),
    /// Apply approved plans from the queue as they come, on the shared backend (or the local
    /// store): claims, heartbeats, takeover of a silent runner's claims, the log streamed back.
    Runner(RunnerArgs),
    /// Terraform stacks: list them, show one (state version, lock), break a stale lock.
    Stacks {
        #[command(subcommand)]
        command: Option<StacksCommand>,
    },
    /// Drift of applied stacks: check them (`drift [STACK…]`, `--watch` on the tenant's
    /// schedule), or queue a plan that reverts one (`drift revert STACK`) or adopts its actual
    /// values (`drift adopt STACK`).
    Drift(DriftArgs),
    /// Browse, verify and export the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Reports: cost (Cost Explorer, Budgets, savings hints), security (stored scans and
    /// remediation plans), monitoring (alarms, watched error rates), operations (the audit
    /// trail alone), compliance (controls judged from stored scans); as text, CSV, HTML or JSON.
    #[command(subcommand)]
    Report(ReportCommand),
    /// The tenant's artifact library: Terraform modules and playbooks in immutable versions,
    /// added from files or saved from an applied plan, used with `ask --use NAME@VERSION`.
    #[command(subcommand)]
    Library(LibraryCommand),
    /// Manage tenants and their guardrail settings.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Notifications (webhook, SNS) this machine still has to deliver: status, flush.
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// Registered users, their roles and TOTP enrolment.
    #[command(subcommand, alias = "user")]
    Users(UsersCommand),
    /// Your personal signing key (approvals are signatures by your own key).
    #[command(subcommand, alias = "key")]
    Keys(KeysCommand),
    /// Rego policies: list, test, add and remove tenant files.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Why a request or plan was routed as it was: which words led to which agent and parameters.
    Explain {
        /// A plan id, or a request text.
        #[arg(required = true)]
        what: Vec<String>,
    },
    /// What the tenant's past suggests: the same change asked for again and again (reuse a
    /// plan), plans denied by the same gate repeatedly, plans dearer than an applied equivalent.
    Suggest {
        /// How many times the same request must have been asked to count as repeated (2 or more).
        #[arg(long, default_value_t = 3, value_name = "N")]
        min_repeats: usize,
    },
    /// Serve the Model Context Protocol for AI tools, on stdin/stdout or (`--listen`) over
    /// streamable HTTP with bearer tokens; they can queue plans, never approve them.
    Mcp(McpArgs),
    /// Bearer tokens for `opsdeck mcp --listen` (admins): each acts as one registered user.
    #[command(subcommand, alias = "token")]
    Tokens(TokensCommand),
    /// The shared backend (DynamoDB + S3): create and check its tables and buckets, flush the
    /// local journal, migrate a local store into it.
    #[command(subcommand)]
    Backend(BackendCommand),
    /// The tenant's AWS configurations (account role, regions, VPC, tags, budget) and the one
    /// you act through.
    #[command(subcommand)]
    Configs(ConfigsCommand),
    /// Least-privilege IAM policy documents for the shared backend (docs/deploy.md).
    #[command(subcommand)]
    Iam(IamCommand),
}

#[derive(Debug, Subcommand)]
pub enum IamCommand {
    /// Print the IAM policy for ROLE (viewer, operator, approver or runner) over the shared
    /// backend in the config file: people read, request and decide; only the runner may assume
    /// the tenants' deploy roles (people are explicitly denied them).
    Policy {
        /// viewer, operator, approver or runner.
        role: String,
        /// The AWS account holding the shared backend (12 digits).
        #[arg(long)]
        account: String,
        /// A tenant the principal may reach (repeat for several); default: the tenant in the
        /// principal's `opsdeck-tenant` tag.
        #[arg(long = "for-tenant", value_name = "TENANT")]
        for_tenants: Vec<String>,
        /// A tenant deploy role ARN (repeat); default: `opsdeck-deploy-<tenant>` in any account,
        /// as deploy/terraform/deploy-role names them.
        #[arg(long = "deploy-role", value_name = "ARN")]
        deploy_roles: Vec<String>,
    },
}

/// `apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    pub id: String,
    /// Only follow the plan's run log (a runner applies it); start nothing.
    #[arg(long, conflicts_with = "detach")]
    pub follow: bool,
    /// Shared backend: hand the plan to the runners and return without following.
    #[arg(long)]
    pub detach: bool,
}

/// `runner`.
#[derive(Debug, Args)]
pub struct RunnerArgs {
    /// This runner's name in claims and logs (default: <host>-<pid>).
    #[arg(long)]
    pub name: Option<String>,
    /// Tenants to serve, comma-separated (default: --tenant, else the default tenant).
    #[arg(long, value_delimiter = ',')]
    pub tenants: Vec<String>,
    /// One pass over the queue, then exit.
    #[arg(long)]
    pub once: bool,
    /// Seconds between looks at an empty queue (1-300).
    #[arg(long, default_value_t = 2)]
    pub poll_secs: u64,
    /// Seconds between heartbeats of a claim (1-300).
    #[arg(long, default_value_t = 10)]
    pub heartbeat_secs: u64,
    /// A claim silent this long is taken over (at least three heartbeats, at most 3600).
    #[arg(long, default_value_t = 60)]
    pub stale_after_secs: u64,
}

/// `mcp`: stdio, or HTTP on a loopback address.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// Serve streamable HTTP on this loopback address (e.g. 127.0.0.1:8765, path /mcp)
    /// instead of stdio; every request needs a bearer token (`opsdeck tokens issue USER`).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// A browser origin allowed to call the HTTP server, e.g. http://localhost:3000
    /// (repeatable); a request carrying any other Origin header is refused.
    #[arg(long = "allow-origin", value_name = "ORIGIN", requires = "listen")]
    pub allow_origins: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Issue a token bound to a registered user (admins, with TOTP); the secret is shown once
    /// and only its hash is stored.
    Issue {
        /// The registered user the token acts as.
        #[arg(value_name = "USER")]
        name: String,
        /// What the token is for, e.g. "ide on alice's laptop".
        #[arg(long, default_value = "")]
        label: String,
        /// Requests a minute the token may make (1 to 10000; default 120).
        #[arg(long)]
        rate_per_minute: Option<u32>,
        /// Write the secret to this new file (mode 0600) instead of printing it; needed with
        /// --json, whose output never holds a secret.
        #[arg(long, value_name = "PATH")]
        secret_file: Option<PathBuf>,
        #[arg(long, env = "OPSDECK_TOTP")]
        totp: Option<String>,
    },
    /// Revoke a token (admins, with TOTP): refused from its next request on.
    Revoke {
        id: String,
        #[arg(long, env = "OPSDECK_TOTP")]
        totp: Option<String>,
    },
    /// The tenant's tokens, revoked ones included (admins).
    List,
}

/// `ask`: a request in plain language.
#[derive(Debug, Args)]
pub struct AskArgs {
    /// Ansible inventory (YAML or INI) to configure instead of finding hosts by tag.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// The request, in plain language.
    #[arg(required_unless_present_any = ["like", "use_entry"], conflicts_with = "like")]
    pub text: Vec<String>,
    #[command(flatten)]
    pub library: UseArgs,
    /// Plan a past plan's request again, against today's state (its reading and parameters;
    /// new artifacts, gates, dry runs and approvals). `classify` shows similar past plans.
    #[arg(long, value_name = "PLAN_ID")]
    pub like: Option<String>,
    /// Write a report's files (e.g. findings.json, findings.csv) and report.json into DIR.
    #[arg(long, value_name = "DIR")]
    pub export: Option<PathBuf>,
    /// For a change understood with low confidence: the reading you mean (1, 2 or 3, as the
    /// refusal lists them).
    #[arg(long, value_name = "N")]
    pub confirm_reading: Option<usize>,
}

/// `submit`: hand-written Terraform, a playbook, or both.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Directory with the .tf files.
    pub dir: Option<PathBuf>,
    /// Stack name (its state is kept under this name).
    #[arg(long)]
    pub stack: Option<String>,
    /// An Ansible playbook (one .yml file).
    #[arg(long, value_name = "FILE")]
    pub playbook: Option<PathBuf>,
    /// The playbook's hosts, when there is no Terraform to create them.
    #[arg(long, value_name = "FILE", requires = "playbook")]
    pub inventory: Option<PathBuf>,
}

/// `approve`: the plan, the second factor, and break-glass.
#[derive(Debug, Args)]
pub struct ApproveArgs {
    pub id: String,
    #[arg(long)]
    pub comment: Option<String>,
    /// Current code from your authenticator app.
    #[arg(long, env = "OPSDECK_TOTP")]
    pub totp: Option<String>,
    /// Emergency: let this one approval stand in for all required ones (needs --reason;
    /// flagged in the audit trail; never lifts a policy deny).
    #[arg(long, requires = "reason")]
    pub break_glass: bool,
    /// Why glass is being broken.
    #[arg(long)]
    pub reason: Option<String>,
}

/// `reject`: the plan and why.
#[derive(Debug, Args)]
pub struct RejectArgs {
    pub id: String,
    #[arg(long)]
    pub reason: String,
    #[arg(long, env = "OPSDECK_TOTP")]
    pub totp: Option<String>,
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
    /// Questions only: sessions acting through this configuration cannot request changes,
    /// decide or apply (`true`/`false`).
    #[arg(long)]
    pub read_only: Option<bool>,
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// What waits in this machine's outbox, and what was given up (with the last error).
    Status,
    /// Deliver everything waiting now, given-up notifications included.
    Flush,
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

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DriftArgs {
    #[command(subcommand)]
    pub command: Option<DriftCommand>,
    /// The stacks to check (default: every applied stack of the tenant).
    pub stacks: Vec<String>,
    /// Keep checking on the tenant's `[drift]` schedule until interrupted.
    #[arg(long)]
    pub watch: bool,
}

#[derive(Debug, Subcommand)]
pub enum DriftCommand {
    /// Queue a plan that applies a stack's recorded configuration again, changing back what
    /// drifted; approved and applied like any plan.
    Revert {
        /// The stack (or, with --hosts, the plan that applied the playbook).
        name: String,
        /// Revert an applied playbook's hosts: NAME is the plan `opsdeck drift` names.
        #[arg(long)]
        hosts: bool,
    },
    /// Queue a plan that records the actual values instead: the stack's configuration with
    /// each drifted attribute it sets literally rewritten (what cannot be is listed on the
    /// plan); approved and applied like any plan.
    Adopt { stack: String },
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
        /// The user's public key, the line their `opsdeck keys new` printed
        /// ("ssh-ed25519 AAAA…"); without it they cannot approve until `users key` registers one.
        #[arg(long)]
        key: Option<String>,
        /// The acting admin's current TOTP code.
        #[arg(long, env = "OPSDECK_TOTP")]
        totp: Option<String>,
    },
    /// Register or rotate a user's public key (admins, with TOTP), in a signed membership record.
    Key {
        name: String,
        /// The line their `opsdeck keys new` or `keys show` printed ("ssh-ed25519 AAAA…").
        #[arg(long, required = true)]
        key: String,
        #[arg(long, env = "OPSDECK_TOTP")]
        totp: Option<String>,
    },
    /// Set a user's approver groups (admins, with TOTP), in a signed membership record; no
    /// --group clears them.
    Groups {
        name: String,
        /// Approver group (repeatable).
        #[arg(long = "group")]
        groups: Vec<String>,
        #[arg(long, env = "OPSDECK_TOTP")]
        totp: Option<String>,
    },
    /// Make a user read-only (`on`: questions only in every session) or lift it (`off`);
    /// admins, with TOTP.
    ReadOnly {
        name: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
        #[arg(long, env = "OPSDECK_TOTP")]
        totp: Option<String>,
    },
    /// Change a user's roles (admins, with TOTP), in a signed membership record.
    Roles {
        name: String,
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        #[arg(long, env = "OPSDECK_TOTP")]
        totp: Option<String>,
    },
    /// Revoke a user's membership (admins, with TOTP); their approvals of plans not yet applied
    /// stop counting.
    Remove {
        name: String,
        #[arg(long, env = "OPSDECK_TOTP")]
        totp: Option<String>,
    },
    List,
    /// Map AWS principals to a user on the shared backend (admins, with TOTP): callers whose
    /// STS identity is one of them act as this user.
    Principal {
        name: String,
        /// An IAM user, role (any session of it) or assumed-role session ARN (repeatable).
        #[arg(long = "aws-principal")]
        add: Vec<String>,
        /// A mapped ARN to remove (repeatable).
        #[arg(long = "remove")]
        remove: Vec<String>,
        #[arg(long, env = "OPSDECK_TOTP")]
        totp: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create your key pair in your identity directory (never overwrites one) and print the
    /// public line to send to an admin. A passphrase comes from OPSDECK_KEY_PASSPHRASE, or is
    /// asked on a terminal.
    New,
    /// Sign with a key your SSH agent holds (SSH_AUTH_SOCK; a hardware token behind the agent
    /// too): records its public line as yours and prints it to send to an admin. The private
    /// key never touches disk here.
    Agent {
        /// Which of the agent's Ed25519 keys (`SHA256:…`), when it holds several.
        #[arg(long)]
        fingerprint: Option<String>,
    },
    /// Your public key, its fingerprint, and what this tenant has registered for you.
    Show {
        /// Print only the public line.
        #[arg(long)]
        public: bool,
    },
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
    /// Stop a plan: a queued one is cancelled, a running one's runner stops it (operators,
    /// approvers, admins; audited).
    Cancel {
        id: String,
        #[arg(long)]
        reason: String,
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

impl Cli {
    /// How to open the core for this invocation.
    pub fn open_options(&self) -> OpenOptions {
        OpenOptions {
            home: self.home.clone(),
            identity_dir: self.identity_dir.clone(),
            tenant: self.tenant.clone(),
            user: self.user.clone(),
            user_env: std::env::var("OPSDECK_USER").ok(),
            backend: self.backend.clone(),
            clock: None,
            via_mcp: false,
            mcp_token: None,
            endpoint_url: self.endpoint_url.clone(),
            aws_config: self.aws_config.clone(),
            read_only: self.read_only,
        }
    }
}
