//! Mapping AWS principals to users (admins): who a caller proven by STS acts as.

use crate::audit::{EventKind, Status};
use crate::error::{Error, Result};
use crate::tenant::User;
use crate::tenant::principal::validate_arn;

use super::Admin;

impl Admin<'_> {
    /// Adds and removes principal ARNs on a user's record (admins, with TOTP), audited.
    pub fn map_aws_principals(
        &self,
        name: &str,
        add: &[String],
        remove: &[String],
        totp: Option<&str>,
    ) -> Result<User> {
        if add.is_empty() && remove.is_empty() {
            return Err(Error::input(
                "give --aws-principal ARN to map, or --remove ARN to unmap",
            ));
        }
        for arn in add {
            validate_arn(arn).map_err(Error::Input)?;
        }
        if self.store.get_user(&self.tenant.name, name)?.is_none() {
            return Err(Error::not_found(
                "user",
                name,
                format!("in tenant {}; `opsdeck users list`", self.tenant.name),
            ));
        }
        self.authenticate_admin(&format!("map AWS principals to {name}"), totp)?;
        let user = self.store.update_user(&self.tenant.name, name, &mut |u| {
            u.aws_principals.retain(|p| !remove.contains(p));
            for arn in add {
                if !u.aws_principals.contains(arn) {
                    u.aws_principals.push(arn.clone());
                }
            }
            Ok(())
        })?;
        let mut ev = self.event(
            &uuid::Uuid::new_v4().to_string(),
            EventKind::SettingsChanged,
            Status::Completed,
        );
        ev.approval_metadata = Some(user.public());
        ev.message = Some(format!(
            "AWS principals of {name} set to [{}] by {}",
            user.aws_principals.join(", "),
            self.identity.user
        ));
        self.append(&[ev])?;
        Ok(user)
    }
}
