//! Administration: `tenants`, `users` and `policy` (the tenant's people, settings and Rego).

use serde_json::json;

use super::args::{PolicyCommand, TenantsCommand, UsersCommand};
use super::print::{print_block, print_json};
use crate::error::{Error, Result};
use crate::pipeline::Deck;

pub fn tenants(deck: &Deck, cmd: TenantsCommand, json_out: bool) -> Result<u8> {
    match cmd {
        TenantsCommand::List => {
            let tenants = deck.admin().tenants()?;
            if json_out {
                print_json(&tenants)?;
            } else {
                for t in tenants {
                    outln!("{}", t.name);
                }
            }
        }
        TenantsCommand::Add { name } => {
            let t = deck.admin().add_tenant(&name)?;
            if json_out {
                print_json(&t)?;
            } else {
                outln!("created tenant {}", t.name);
            }
        }
        TenantsCommand::Show => {
            let settings = deck.admin().settings()?;
            if json_out {
                print_json(&settings)?;
            } else {
                let text = toml::to_string(&settings)
                    .map_err(|e| Error::input(format!("cannot encode settings: {e}")))?;
                print_block(&text);
            }
        }
        TenantsCommand::Set { file, totp } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Error::io(format!("reading {}", file.display()), e))?;
            let settings: crate::tenant::Tenant =
                toml::from_str(&text).map_err(|e| Error::Config {
                    path: file.clone(),
                    detail: e.to_string().replace('\n', " "),
                })?;
            let t = deck
                .admin()
                .set_tenant_settings(settings, totp.as_deref())?;
            if json_out {
                print_json(&t)?;
            } else {
                outln!("settings of tenant {} replaced", t.name);
            }
        }
    }
    Ok(0)
}

pub fn users(deck: &Deck, cmd: UsersCommand, json_out: bool) -> Result<u8> {
    match cmd {
        UsersCommand::Add {
            name,
            roles,
            groups,
            key,
            totp,
        } => {
            let e = deck.admin().add_member(
                &name,
                parse_roles(&roles)?,
                groups,
                key.as_deref(),
                totp.as_deref(),
            )?;
            if json_out {
                let mut v = e.user.public();
                v["totp_secret"] = json!(e.secret);
                v["otpauth_uri"] = json!(e.otpauth_uri);
                print_json(&v)?;
                return Ok(0);
            }
            outln!(
                "registered {} in tenant {} as {}",
                e.user.name,
                deck.tenant().name,
                roles_of(&e.user.roles, ", ")
            );
            outln!();
            outln!(
                "Scan this with an authenticator app (shown once; it is the user's second factor):"
            );
            outln!();
            print_block(&format!("{}\n", crate::tenant::mfa::qr(&e.otpauth_uri)));
            outln!("secret: {}", e.secret);
            outln!("uri:    {}", e.otpauth_uri);
            super::keys::print_membership(&e.user);
        }
        UsersCommand::Key { name, key, totp } => {
            let u = deck.admin().set_user_key(&name, &key, totp.as_deref())?;
            member_changed(&u, json_out, "key registered")?;
        }
        UsersCommand::Roles { name, roles, totp } => {
            let u = deck
                .admin()
                .set_user_roles(&name, parse_roles(&roles)?, totp.as_deref())?;
            member_changed(&u, json_out, "roles changed")?;
        }
        UsersCommand::Groups { name, groups, totp } => {
            let u = deck
                .admin()
                .set_user_groups(&name, groups, totp.as_deref())?;
            member_changed(&u, json_out, "groups changed")?;
        }
        UsersCommand::Remove { name, totp } => {
            let u = deck.admin().remove_user(&name, totp.as_deref())?;
            member_changed(&u, json_out, "membership revoked")?;
        }
        UsersCommand::Principal {
            name,
            add,
            remove,
            totp,
        } => {
            let u = deck
                .admin()
                .map_aws_principals(&name, &add, &remove, totp.as_deref())?;
            if json_out {
                print_json(&u.public())?;
            } else if u.aws_principals.is_empty() {
                outln!(
                    "{} has no AWS principal mapped (their IAM user name or role session name still maps)",
                    u.name
                );
            } else {
                outln!("{} is now: {}", u.name, u.aws_principals.join(", "));
            }
        }
        UsersCommand::ReadOnly { name, state, totp } => {
            let u = deck
                .admin()
                .set_user_read_only(&name, state == "on", totp.as_deref())?;
            if json_out {
                print_json(&u.public())?;
            } else if u.read_only {
                outln!("{} is read-only: questions only, in every session", u.name);
            } else {
                outln!("{} is no longer read-only", u.name);
            }
        }
        UsersCommand::List => {
            let users = deck.admin().users()?;
            if json_out {
                let v: Vec<_> = users.iter().map(|u| u.public()).collect();
                print_json(&v)?;
            } else if users.is_empty() {
                outln!(
                    "tenant {} has no registered users: anyone may ask, nobody can approve yet (`opsdeck users add NAME --role admin`)",
                    deck.tenant().name
                );
            } else {
                for u in users {
                    outln!(
                        "{:<20} {:<28} {}",
                        u.name,
                        roles_of(&u.roles, ","),
                        u.groups.join(",")
                    );
                }
            }
        }
    }
    Ok(0)
}

fn parse_roles(roles: &[String]) -> Result<Vec<crate::tenant::Role>> {
    roles
        .iter()
        .map(|r| r.parse::<crate::tenant::Role>().map_err(Error::Input))
        .collect()
}

fn member_changed(u: &crate::tenant::User, json_out: bool, what: &str) -> Result<()> {
    if json_out {
        return print_json(&u.public());
    }
    outln!("{}: {what}", u.name);
    super::keys::print_membership(u);
    Ok(())
}

fn roles_of(roles: &[crate::tenant::Role], sep: &str) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(sep)
}

/// `policy`; `policy test` exits 1 when a Rego test fails.
pub fn policy(deck: &Deck, cmd: PolicyCommand, json_out: bool) -> Result<u8> {
    match cmd {
        PolicyCommand::List => {
            let files = deck.admin().policy_files()?;
            if json_out {
                print_json(&files)?;
            } else {
                for f in files {
                    outln!("{f}");
                }
            }
        }
        PolicyCommand::Test => {
            let results = deck.admin().test_policies()?;
            let failed = results.iter().filter(|r| !r.passed).count();
            if json_out {
                print_json(&results)?;
            } else {
                for r in results.iter().filter(|r| !r.passed) {
                    outln!("FAIL {} {}: {}", r.file, r.test, r.detail);
                }
                outln!("{} passed, {} failed", results.len() - failed, failed);
            }
            return Ok(if failed == 0 { 0 } else { 1 });
        }
        PolicyCommand::Add { file, totp } => {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Error::io(format!("reading {}", file.display()), e))?;
            deck.admin().put_policy(&name, &text, totp.as_deref())?;
            if !json_out {
                outln!(
                    "policy {name} is in force for tenant {}",
                    deck.tenant().name
                );
            }
        }
        PolicyCommand::Remove { name, totp } => {
            let removed = deck.admin().remove_policy(&name, totp.as_deref())?;
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
        }
    }
    Ok(0)
}
