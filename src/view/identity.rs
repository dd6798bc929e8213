//! Who you are proven to be, and how: the console's status bar, `opsdeck init` and `--json`.

use serde::Serialize;

use crate::tenant::Identity;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdentityView {
    pub user: String,
    /// `aws`, `os`, `flag`, `env`, `mcp` or `mcp_token`, as the trail records it.
    pub source: String,
    /// How the user was established, in words ("aws principal ARN", "OS account",
    /// "--user (allowed by tenant)").
    pub proof: String,
    /// The IAM principal on the shared backend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    pub os_user: String,
}

impl IdentityView {
    pub fn of(identity: &Identity) -> IdentityView {
        IdentityView {
            user: identity.user.clone(),
            source: identity.source.as_str().to_string(),
            proof: identity.proof(),
            principal: identity.principal.clone(),
            os_user: identity.os_user.clone(),
        }
    }

    /// `bob · aws principal arn:aws:iam::123456789012:user/bob`, in full.
    pub fn line(&self) -> String {
        format!("{} · {}", self.user, self.proof)
    }

    /// The same for a status bar: an ARN shortened to `arn:…/` and its last part.
    pub fn short(&self) -> String {
        match &self.principal {
            Some(arn) => {
                let tail = arn.rsplit('/').next().unwrap_or(arn);
                self.line().replace(arn.as_str(), &format!("arn:…/{tail}"))
            }
            None => self.line(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::UserSource;

    fn identity(user: &str, source: UserSource, principal: Option<&str>) -> Identity {
        Identity {
            user: user.into(),
            source,
            os_user: "alice".into(),
            principal: principal.map(str::to_string),
            principal_cached: false,
            token: None,
        }
    }

    #[test]
    fn says_how_the_user_was_proven() {
        let arn = "arn:aws:iam::123456789012:user/bob";
        let v = IdentityView::of(&identity("bob", UserSource::Aws, Some(arn)));
        assert_eq!(v.line(), format!("bob · aws principal {arn}"));
        assert_eq!(v.short(), "bob · aws principal arn:…/bob");
        let v = IdentityView::of(&identity("alice", UserSource::Os, None));
        assert_eq!(v.short(), "alice · OS account");
        let v = IdentityView::of(&identity("carol", UserSource::Flag, None));
        assert_eq!(v.short(), "carol · --user (allowed by tenant)");
        let v = IdentityView::of(&identity("carol", UserSource::Env, None));
        assert_eq!(v.short(), "carol · OPSDECK_USER (allowed by tenant)");
        // --user naming the OS account itself is the OS account.
        let v = IdentityView::of(&identity("alice", UserSource::Flag, None));
        assert_eq!(v.short(), "alice · OS account");
    }
}
