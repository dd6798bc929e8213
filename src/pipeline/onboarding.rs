//! First run and second factors without a phone. `opsdeck init` (and `:init` in the console)
//! makes the person setting a tenant up its first admin, never somebody else, who would lock
//! them out. `opsdeck totp` prints a current code for people without an authenticator app and
//! says what that costs. Both front ends render the [`Setup`] and [`CodeShown`] built here.

use std::path::PathBuf;

use serde::Serialize;

use super::{Deck, Enrolment, OpenOptions};
use crate::audit::{EventKind, Status};
use crate::demo::seed::REGION as DEMO_REGION;
use crate::demo::{APPROVER as DEMO_APPROVER, TENANT as DEMO_TENANT};
use crate::error::{Error, Result};
use crate::tenant::{Role, Tenant, UserSource, mfa};

/// Where a person stands in a tenant after `opsdeck init`, and what to do next.
#[derive(Debug, Serialize)]
pub struct Setup {
    pub tenant: String,
    pub user: String,
    /// Who you are proven to be, and how.
    pub identity: crate::view::IdentityView,
    /// Set when this run registered the user: the secret to enrol, shown once.
    #[serde(skip)]
    pub enrolment: Option<Enrolment>,
    pub registered_now: bool,
    pub roles: Vec<Role>,
    /// Everybody else registered in the tenant, with their roles.
    pub others: Vec<Member>,
    /// Where state, keys and logs live.
    pub data_dir: PathBuf,
    pub config_file: PathBuf,
    /// What to do next, in order, each with the command that does it.
    pub next_steps: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub name: String,
    pub roles: Vec<Role>,
}

/// A current TOTP code printed on this machine.
#[derive(Debug, Serialize)]
pub struct CodeShown {
    pub user: String,
    pub tenant: String,
    pub code: String,
    /// Seconds until the code's 30-second step ends (the step after is accepted too).
    pub valid_for_seconds: u64,
    /// What printing it costs, said every time.
    pub risk: String,
}

/// Why approvals need two people, in one sentence every front end shows.
pub const SEPARATION_OF_DUTIES: &str = "Nothing runs until someone other than its requester approves it with a current TOTP code: a tenant needs at least two registered people, one who asks and one with the approver or admin role who approves.";

impl Setup {
    /// The set-up as lines of text, the same in the CLI and the console: who you are here, the
    /// secret to enrol (once), where the data lives, why approvals need two people, what next.
    pub fn lines(&self) -> Vec<String> {
        let roles = |r: &[Role]| r.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
        let mut out = Vec::new();
        if let Some(e) = &self.enrolment {
            out.push(format!(
                "Tenant {} is set up: {} is its first admin ({}).",
                self.tenant,
                self.user,
                roles(&self.roles)
            ));
            out.push(String::new());
            out.push(
                "Scan this with an authenticator app (shown once; it is your second factor):"
                    .into(),
            );
            out.extend(mfa::qr(&e.otpauth_uri).lines().map(str::to_string));
            out.push(format!("secret: {}", e.secret));
            out.push(format!("uri:    {}", e.otpauth_uri));
        } else {
            out.push(format!(
                "Tenant {} is already set up; you are {} ({}).",
                self.tenant,
                self.user,
                roles(&self.roles)
            ));
        }
        out.push(format!("You are {}.", self.identity.line()));
        if self.others.is_empty() {
            out.push("Nobody else is registered yet.".into());
        } else {
            out.push(format!(
                "Also registered: {}.",
                self.others
                    .iter()
                    .map(|m| format!("{} ({})", m.name, roles(&m.roles)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out.push(format!(
            "Data (store, signing keys, logs): {}; settings: {}.",
            self.data_dir.display(),
            self.config_file.display()
        ));
        out.push(String::new());
        out.push(SEPARATION_OF_DUTIES.into());
        out.push(String::new());
        out.push("Next:".into());
        out.extend(
            self.next_steps
                .iter()
                .enumerate()
                .map(|(i, s)| format!("{}. {s}", i + 1)),
        );
        out
    }
}

impl Deck {
    /// What the console says first: the demo's welcome in a demo tenant, how to set up a
    /// tenant nobody is registered in yet, nothing otherwise.
    pub fn console_intro(&self) -> Result<Vec<String>> {
        if self.tenant.demo {
            return Ok(crate::demo::intro_lines(self));
        }
        if self.store.list_users(&self.tenant.name)?.is_empty() {
            return Ok(vec![
                format!(
                    "Tenant {} has no registered users yet: anyone may ask, nobody can approve.",
                    self.tenant.name
                ),
                format!(
                    "Type :init to make yourself ({}) its first admin and enrol your TOTP, or run `opsdeck demo` to try everything on a local AWS stand-in.",
                    self.identity.user
                ),
            ]);
        }
        Ok(Vec::new())
    }

    /// Registers the acting person as the tenant's first admin when it has no users, with a
    /// fresh TOTP secret; otherwise reports where they stand. A person not registered in a
    /// tenant that has users is refused with whom to ask and what they can run meanwhile.
    pub fn init(&self) -> Result<Setup> {
        if self.identity.source.is_mcp() {
            return Err(Error::refused(
                "an MCP client cannot set up a tenant; a person runs `opsdeck init`",
            ));
        }
        let me = self.identity.user.clone();
        let users = self.store.list_users(&self.tenant.name)?;
        let (enrolment, roles) = if users.is_empty() {
            let e = self
                .admin()
                .add_user(&me, vec![Role::Admin], Vec::new(), None)?;
            let roles = e.user.roles.clone();
            (Some(e), roles)
        } else if let Some(u) = users.iter().find(|u| u.name == me) {
            (None, u.roles.clone())
        } else {
            let admins: Vec<&str> = users
                .iter()
                .filter(|u| u.roles.contains(&Role::Admin))
                .map(|u| u.name.as_str())
                .collect();
            return Err(Error::refused(format!(
                "tenant {t} is already set up and {me} is not registered in it: ask an admin ({admins}) to add you (they run `opsdeck users add {me} --role operator --totp CODE`). Meanwhile `opsdeck demo` lets you try everything on a local AWS stand-in",
                t = self.tenant.name,
                admins = admins.join(", "),
            )));
        };
        let others: Vec<Member> = self
            .store
            .list_users(&self.tenant.name)?
            .into_iter()
            .filter(|u| u.name != me)
            .map(|u| Member {
                name: u.name,
                roles: u.roles,
            })
            .collect();
        let next_steps = self.next_steps(&me, &roles, &others, enrolment.is_some());
        Ok(Setup {
            tenant: self.tenant.name.clone(),
            identity: crate::view::IdentityView::of(&self.identity),
            user: me,
            registered_now: enrolment.is_some(),
            enrolment,
            roles,
            others,
            data_dir: self.paths.data.clone(),
            config_file: self.paths.config_file.clone(),
            next_steps,
        })
    }

    fn next_steps(&self, me: &str, roles: &[Role], others: &[Member], new: bool) -> Vec<String> {
        let tenant_flag = tenant_flag(self);
        let mut steps = Vec::new();
        if new {
            steps.push(format!(
                "Scan the QR code into an authenticator app (or type the secret). No phone? `opsdeck{tenant_flag} totp` prints your current code on this machine (read the risk it states)."
            ));
            steps.push(format!(
                "Your signing key is {} (you are the tenant's root of trust: every membership record chains to it). Keep it; `opsdeck{tenant_flag} keys show` prints its fingerprint for the people you add to check.",
                crate::identity::keys::key_path(&self.paths.identity, me).display()
            ));
        }
        let approvers = others
            .iter()
            .filter(|m| {
                m.roles
                    .iter()
                    .any(|r| matches!(r, Role::Approver | Role::Admin))
            })
            .count();
        if approvers == 0 && roles.contains(&Role::Admin) {
            steps.push(format!(
                "Add the person who will approve your plans: they run `opsdeck keys new` on their machine and send you the public line it prints; you run `opsdeck{tenant_flag} users add NAME --role approver --key \"ssh-ed25519 …\" --totp CODE` (CODE: your current code). They scan the QR code it prints."
            ));
        } else if approvers == 0 {
            steps.push(
                "Nobody else here can approve yet: ask an admin to register an approver.".into(),
            );
        }
        if roles
            .iter()
            .any(|r| matches!(r, Role::Operator | Role::Admin))
        {
            steps.push(format!(
                "Ask for something: `opsdeck{tenant_flag} ask \"create 2 t3.micro instances\"` queues a plan; `opsdeck{tenant_flag} plans list` shows it."
            ));
        }
        steps.push(format!(
            "The approver runs `opsdeck{tenant_flag} --user NAME approve PLAN --totp CODE`; then `opsdeck{tenant_flag} apply PLAN` runs it and `opsdeck{tenant_flag} audit list` shows the trail."
        ));
        steps.push(format!(
            "Trying this alone? `opsdeck demo` opens a demo tenant on a local AWS stand-in, with a second approver ({me} asks, {} approves).",
            crate::demo::APPROVER
        ));
        steps
    }

    /// The acting user's current TOTP code, for people without an authenticator app. Outside
    /// the demo tenant only the OS account itself may print its own code (so `--user` cannot
    /// produce somebody else's), and each printing is recorded in the audit trail.
    pub fn totp_code(&self) -> Result<CodeShown> {
        let me = &self.identity.user;
        let t = &self.tenant.name;
        if self.identity.source.is_mcp() {
            return Err(Error::refused(
                "an MCP client never receives TOTP codes: approvals stay with a person",
            ));
        }
        if !self.tenant.demo && self.store.backend() == "aws" {
            return Err(Error::refused(format!(
                "on the shared backend {me}'s TOTP secret is sealed with the tenant's KMS key and opened only to check a code, never to print one: read the code from the authenticator app enrolled with the QR code `users add` printed (an admin re-enrols a lost one with `opsdeck users remove` and `users add`)"
            )));
        }
        if !self.tenant.demo && self.identity.source != UserSource::Os {
            return Err(Error::refused(format!(
                "codes are printed only for the account you are logged in as ({os}); {me} reads theirs from their authenticator app. Run `opsdeck totp` without --user or OPSDECK_USER to print {os}'s code",
                os = self.identity.os_user,
            )));
        }
        let Some(user) = self.store.get_user(t, me)? else {
            let hint = if self.store.list_users(t)?.is_empty() {
                format!(
                    "set the tenant up first with `opsdeck{} init`",
                    tenant_flag(self)
                )
            } else {
                format!(
                    "ask an admin ({}) to run `opsdeck users add {me} --role operator --totp CODE`; meanwhile `opsdeck demo` lets you try everything",
                    self.admin_names().join(", ")
                )
            };
            return Err(Error::refused(format!(
                "{me} is not a registered user of tenant {t}: {hint}"
            )));
        };
        let now = self.clock.unix().max(0) as u64;
        let code = mfa::code_at(&user.totp_secret, now)?;
        let risk = if self.tenant.demo {
            "demo tenant: its codes are printed freely; it reaches only the local AWS stand-in"
                .to_string()
        } else {
            format!(
                "this machine now stands in for {me}'s authenticator: anyone who can run opsdeck as {os} or read {data} can approve as {me}. For approvals that matter, enrol an authenticator app (the QR code `opsdeck init` or `users add` printed).",
                os = self.identity.os_user,
                data = self.paths.data.display(),
            )
        };
        let mut ev = self.event(
            &uuid::Uuid::new_v4().to_string(),
            EventKind::CodeShown,
            Status::Completed,
        );
        ev.message = Some(format!(
            "a TOTP code for {me} was printed on this machine (OS account {})",
            self.identity.os_user
        ));
        self.append(&[ev])?;
        Ok(CodeShown {
            user: me.clone(),
            tenant: t.clone(),
            code,
            valid_for_seconds: 30 - now % 30,
            risk,
        })
    }
}

impl Deck {
    /// A demo tenant's requests and applies need its stand-in: without it they would only meet
    /// a closed port, so they are refused up front with the command that starts it.
    pub(super) fn demo_standin_running(&self) -> Result<()> {
        if self.tenant.demo && self.aws.endpoint_url() == Some(crate::demo::NOWHERE) {
            return Err(Error::Unavailable(
                "the demo's AWS stand-in is not running: start it with `opsdeck demo` (the console) or `opsdeck demo --serve` (for commands from other terminals)".into(),
            ));
        }
        Ok(())
    }

    /// Who can approve a pending plan and the commands that move it on, for the requester: the
    /// approvers run the first as themselves; the requester can run the others.
    pub fn approval_hint(&self, rec: &crate::approval::PlanRecord) -> String {
        let t = tenant_flag(self);
        let id = &rec.plan.plan_id;
        let approvers: Vec<String> = self
            .store
            .list_users(&self.tenant.name)
            .unwrap_or_default()
            .into_iter()
            .filter(|u| u.name != rec.plan.requester)
            .filter(|u| {
                u.roles
                    .iter()
                    .any(|r| matches!(r, Role::Approver | Role::Admin))
            })
            .map(|u| u.name)
            .collect();
        if approvers.is_empty() {
            return format!(
                "nobody but {} is registered to approve in tenant {}: an admin adds an approver with `opsdeck{t} users add NAME --role approver --totp CODE`; `opsdeck demo` shows the whole flow with a demo approver",
                rec.plan.requester, self.tenant.name
            );
        }
        format!(
            "it waits for someone other than {} ({}): they run `opsdeck{t} approve {id} --totp CODE` as themselves; `opsdeck{t} plans show {id}` follows it",
            rec.plan.requester,
            approvers.join(", ")
        )
    }
}

fn tenant_flag(deck: &Deck) -> String {
    if deck.tenant.name == deck.config.default_tenant {
        String::new()
    } else {
        format!(" --tenant {}", deck.tenant.name)
    }
}

impl Deck {
    /// The demo tenant, created on first use, with you as admin and operator and [`crate::demo::APPROVER`].
    pub(crate) fn open_demo(open: &OpenOptions) -> Result<Deck> {
        let open_on = |tenant: Option<&str>| {
            Deck::open(OpenOptions {
                home: open.home.clone(),
                identity_dir: open.identity_dir.clone(),
                tenant: tenant.map(str::to_string),
                user: open.user.clone(),
                user_env: open.user_env.clone(),
                backend: open.backend.clone(),
                clock: open.clock.clone(),
                aws_config: Some("none".into()),
                read_only: open.read_only,
                ..OpenOptions::default()
            })
        };
        let base = open_on(None)?;
        match base.store.get_tenant(DEMO_TENANT)? {
            Some(t) if !t.demo => {
                return Err(Error::refused(format!(
                    "a tenant named {DEMO_TENANT} already exists and is not a demo tenant; opsdeck demo never touches it. Use another home for the demo: `OPSDECK_HOME=DIR opsdeck demo`"
                )));
            }
            Some(_) => {}
            None => base.store.put_tenant(&Tenant {
                name: DEMO_TENANT.into(),
                created_at: Some(base.clock().stamp()),
                default_region: DEMO_REGION.into(),
                demo: true,
                ..Tenant::default()
            })?,
        }
        drop(base);
        let deck = open_on(Some(DEMO_TENANT))?;
        let me = deck.identity().user.clone();
        if me == DEMO_APPROVER {
            return Err(Error::input(format!(
                "{DEMO_APPROVER} is the demo's approver; run `opsdeck demo` as yourself"
            )));
        }
        // Read directly: whether a non-member owns it is exactly what this decides.
        let users = deck.store.list_users(&deck.tenant.name)?;
        if users.is_empty() {
            deck.admin()
                .add_user(&me, vec![Role::Admin, Role::Operator], Vec::new(), None)?;
        } else if !users.iter().any(|u| u.name == me) {
            return Err(Error::refused(format!(
                "the demo tenant of this home belongs to {}; use your own home for a demo: `OPSDECK_HOME=DIR opsdeck demo`",
                users
                    .iter()
                    .filter(|u| u.roles.contains(&Role::Admin))
                    .map(|u| u.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if deck.store.get_user(DEMO_TENANT, DEMO_APPROVER)?.is_none() {
            // Adding a user needs the acting admin's code; in the demo tenant this machine holds it.
            let mine = deck
                .store
                .get_user(DEMO_TENANT, &me)?
                .ok_or_else(|| Error::not_found("user", &me, "in the demo tenant"))?;
            let now = deck.clock().unix().max(0) as u64;
            let code = mfa::code_at(&mine.totp_secret, now)?;
            // The demo's approver signs with a key this machine holds for them, as it holds
            // their TOTP secret: a stand-in person, never a real one.
            let key =
                crate::identity::keys::ensure_key(&deck.paths.identity, DEMO_APPROVER)?.openssh();
            match deck.admin().add_member(
                DEMO_APPROVER,
                vec![Role::Approver],
                Vec::new(),
                Some(&key),
                Some(&code),
            ) {
                Ok(_) => {}
                // This step's code was used already (a second demo within 30 s): the next step's.
                Err(Error::Refused(why)) if why.contains("already used") => {
                    let next = mfa::code_at(&mine.totp_secret, now + 30)?;
                    deck.admin().add_member(
                        DEMO_APPROVER,
                        vec![Role::Approver],
                        Vec::new(),
                        Some(&key),
                        Some(&next),
                    )?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(deck)
    }
}
