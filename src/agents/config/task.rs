//! What a request asks to configure ([`Task`]), read from its action, its packages and the
//! words it uses (user names, a domain, certificate paths), each checked before it can reach a
//! playbook.

use super::{Action, AgentRequest};
use crate::error::{Error, Result};
use crate::intent::Environment;

/// What a request asks to configure.
#[derive(Debug, Clone, PartialEq)]
pub enum Task {
    Packages {
        packages: Vec<String>,
        /// `present`, `latest` or `absent`.
        state: &'static str,
    },
    Service {
        name: String,
        enabled: bool,
        /// `started`, `stopped`, `restarted` or `reloaded`.
        state: &'static str,
    },
    NginxTls {
        server_name: String,
        tls: Tls,
    },
    Patch {
        reboot: bool,
    },
    Users {
        users: Vec<String>,
        present: bool,
        sudo: bool,
    },
    SshHardening {
        sshd_config: String,
    },
    CloudwatchAgent {
        log_group: String,
    },
}

/// Where NGINX's certificate comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Tls {
    /// Made on each host (development only).
    SelfSigned,
    /// Already on each host at these paths.
    Files { cert: String, key: String },
}

/// Words of the request and what the parser took them to mean.
struct Words<'a> {
    text: String,
    meanings: Vec<&'a str>,
}

impl<'a> Words<'a> {
    fn of(req: &'a AgentRequest<'_>) -> Words<'a> {
        Words {
            text: req.text.to_lowercase(),
            meanings: req
                .intent
                .evidence
                .iter()
                .flat_map(|e| e.meaning.split(", "))
                .collect(),
        }
    }

    fn noun(&self, n: &str) -> bool {
        self.meanings.iter().any(|m| *m == format!("noun:{n}"))
    }

    fn says(&self, w: &str) -> bool {
        self.text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .any(|t| t == w)
    }

    fn phrase(&self, p: &str) -> bool {
        self.text.contains(p)
    }
}

/// What the request asks to configure, from its action, packages and topics.
pub fn task_of(req: &AgentRequest<'_>, action: Action) -> Result<Task> {
    let i = req.intent;
    let w = Words::of(req);
    let packages: Vec<String> = i.params.packages.clone();
    for p in &packages {
        validate_package(p)?;
    }
    let tls = w.noun("tls");
    let users = w.noun("users") && packages.is_empty();
    let has = |p: &str| packages.iter().any(|x| x == p);
    let task = match action {
        Action::Harden => Task::SshHardening {
            sshd_config: "/etc/ssh/sshd_config".into(),
        },
        Action::Patch => Task::Patch {
            reboot: !(w.phrase("no reboot")
                || w.phrase("without reboot")
                || w.phrase("without a reboot")
                || w.phrase("don't reboot")
                || w.phrase("do not reboot")),
        },
        _ if users => Task::Users {
            users: user_names(&w.text)?,
            present: action != Action::Remove,
            sudo: w.says("sudo") || w.says("sudoers") || w.says("admin"),
        },
        Action::Install | Action::Configure | Action::Create if has("amazon-cloudwatch-agent") => {
            Task::CloudwatchAgent {
                log_group: format!(
                    "/opsdeck/{}/{}/system",
                    req.tenant.name,
                    i.params
                        .environment
                        .map(Environment::as_str)
                        .unwrap_or("hosts")
                ),
            }
        }
        Action::Install | Action::Configure | Action::Create
            if tls && (packages.is_empty() || has("nginx")) =>
        {
            Task::NginxTls {
                server_name: server_name(&w.text)?,
                tls: tls_source(&w, i.params.environment)?,
            }
        }
        Action::Install | Action::Create if !packages.is_empty() => Task::Packages {
            packages,
            state: "present",
        },
        Action::Upgrade if !packages.is_empty() => Task::Packages {
            packages,
            state: "latest",
        },
        Action::Remove if !packages.is_empty() => Task::Packages {
            packages,
            state: "absent",
        },
        Action::Configure if packages.len() == 1 => {
            let stop = w.says("stop") || w.says("disable");
            Task::Service {
                name: packages[0].clone(),
                enabled: !w.says("disable"),
                state: if w.says("restart") {
                    "restarted"
                } else if w.says("reload") {
                    "reloaded"
                } else if stop {
                    "stopped"
                } else {
                    "started"
                },
            }
        }
        _ => {
            return Err(Error::Unavailable(format!(
                "the config agent cannot {action} {}: it installs, upgrades and removes packages, enables services, sets up NGINX with TLS, patches the OS, manages users and sudo, hardens SSH and installs the CloudWatch agent",
                if packages.is_empty() {
                    "that".to_string()
                } else {
                    packages.join(", ")
                }
            )));
        }
    };
    Ok(task)
}

/// Package and service names as package managers accept them, and nothing else.
pub fn validate_package(p: &str) -> Result<()> {
    let ok = !p.is_empty()
        && p.len() <= 128
        && p.as_bytes()[0].is_ascii_alphanumeric()
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "'{p}' is not a package or service name: letters, digits and . _ + - @, starting with a letter or digit"
        )))
    }
}

/// Local user names: lower-case POSIX names that are not system accounts.
pub fn validate_user(u: &str) -> Result<()> {
    let ok = (1..=32).contains(&u.len())
        && (u.as_bytes()[0].is_ascii_lowercase() || u.as_bytes()[0] == b'_')
        && u.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !ok {
        return Err(Error::input(format!(
            "'{u}' is not a user name: 1-32 lower-case letters, digits, _ and -, starting with a letter"
        )));
    }
    if matches!(
        u,
        "root" | "daemon" | "bin" | "sys" | "sync" | "nobody" | "sshd" | "ec2-user" | "ubuntu"
    ) {
        return Err(Error::refused(format!(
            "user {u} is a system or image account; opsdeck does not manage it"
        )));
    }
    Ok(())
}

/// The names after "user"/"users"/"account(s)": "add users alice, bob and carol".
fn user_names(text: &str) -> Result<Vec<String>> {
    const STOP: &[&str] = &[
        "with",
        "on",
        "to",
        "from",
        "in",
        "at",
        "for",
        "as",
        "who",
        "that",
        "having",
        "having",
        "sudo",
        "access",
        "rights",
        "privileges",
        "and",
        "the",
        "a",
        "an",
        "named",
        "called",
    ];
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    let mut names = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if !matches!(*w, "user" | "users" | "account" | "accounts") {
            continue;
        }
        for next in &words[i + 1..] {
            let n = next.trim_matches(|c: char| c == '"' || c == '\'' || c == '.');
            if matches!(n, "named" | "called" | "and") {
                continue;
            }
            if STOP.contains(&n) || n.contains('=') {
                break;
            }
            validate_user(n)?;
            if !names.iter().any(|x| x == n) {
                names.push(n.to_string());
            }
        }
        if !names.is_empty() {
            break;
        }
    }
    if names.is_empty() {
        return Err(Error::input(
            "say which user, e.g. \"add user deploy with sudo on env=dev\" or \"remove user olduser from the staging servers\"",
        ));
    }
    Ok(names)
}

/// A domain named in the request ("for app.example.com"), or `_` (any name).
fn server_name(text: &str) -> Result<String> {
    for w in text.split_whitespace() {
        let w = w.trim_matches(|c: char| matches!(c, ',' | '"' | '\'' | '(' | ')'));
        let w = w.trim_end_matches('.');
        let looks_like_domain = w.contains('.')
            && !w.starts_with('/')
            && !w.contains('=')
            && w.parse::<std::net::IpAddr>().is_err()
            && w.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
            && w.rsplit('.')
                .next()
                .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()))
            && !is_instance_type(w);
        if looks_like_domain {
            return Ok(w.to_string());
        }
    }
    Ok("_".into())
}

fn is_instance_type(w: &str) -> bool {
    w.split_once('.').is_some_and(|(family, size)| {
        family.len() <= 5
            && (size.ends_with("large")
                || matches!(size, "nano" | "micro" | "small" | "medium" | "metal"))
    })
}

/// Certificate paths on the hosts, or a self-signed certificate where that is acceptable.
fn tls_source(w: &Words<'_>, env: Option<Environment>) -> Result<Tls> {
    let mut cert = None;
    let mut key = None;
    for word in w.text.split_whitespace() {
        let p = word.trim_matches(|c: char| matches!(c, ',' | '"' | '\'' | '(' | ')'));
        if !p.starts_with('/') {
            continue;
        }
        if !p
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-'))
            || p.contains("/../")
        {
            return Err(Error::input(format!(
                "'{p}' is not a plain absolute path (letters, digits, / . _ -)"
            )));
        }
        if p.ends_with(".key") {
            key = Some(p.to_string());
        } else if [".crt", ".pem", ".cer", ".cert"]
            .iter()
            .any(|e| p.ends_with(e))
        {
            cert = Some(p.to_string());
        }
    }
    let self_signed = w.phrase("self-signed") || w.phrase("self signed") || w.phrase("selfsigned");
    match (cert, key) {
        (Some(cert), Some(key)) if !self_signed => Ok(Tls::Files { cert, key }),
        (Some(_), None) | (None, Some(_)) if !self_signed => Err(Error::input(
            "give both the certificate and the key path on the hosts, e.g. \"using certificate /etc/pki/tls/certs/web.crt and key /etc/pki/tls/private/web.key\"",
        )),
        _ => {
            let dev = matches!(
                env,
                Some(Environment::Dev | Environment::Test | Environment::Sandbox | Environment::Qa)
            );
            if dev || (self_signed && env != Some(Environment::Prod)) {
                Ok(Tls::SelfSigned)
            } else {
                Err(Error::input(format!(
                    "NGINX with TLS needs a certificate: give its paths on the hosts (\"using certificate /etc/pki/tls/certs/web.crt and key /etc/pki/tls/private/web.key\"); a self-signed certificate is made only for dev, test, qa or sandbox hosts{}",
                    match env {
                        Some(e) => format!(" (these are {e})"),
                        None => String::new(),
                    }
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_follow_the_word_user() {
        assert_eq!(
            user_names("add user deploy with sudo on env=dev").unwrap(),
            vec!["deploy"]
        );
        assert_eq!(
            user_names("add users alice, bob and carol to the staging servers").unwrap(),
            vec!["alice", "bob", "carol"]
        );
        assert!(user_names("add user root on env=dev").is_err());
        assert!(user_names("add a user on env=dev").is_err());
        assert!(user_names("add user Bob$ on env=dev").is_err());
    }

    #[test]
    fn server_names_are_domains_not_paths_or_types() {
        assert_eq!(
            server_name("install nginx with tls for app.example.com on env=dev").unwrap(),
            "app.example.com"
        );
        assert_eq!(
            server_name("install nginx with tls using /etc/pki/a.crt on t3.large").unwrap(),
            "_"
        );
    }

    #[test]
    fn packages_are_names_not_options() {
        assert!(validate_package("nginx").is_ok());
        assert!(validate_package("python3.11").is_ok());
        assert!(validate_package("-oDpkg::Pre-Invoke=x").is_err());
        assert!(validate_package("a b").is_err());
    }
}
