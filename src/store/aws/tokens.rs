//! MCP bearer tokens on the shared backend: `token#<id>` records in the tenants table, next to
//! the tenant's users and configurations. A token is only ever checked against the table itself:
//! while the backend is unreachable no token is honoured, as a cached copy could predate its
//! revocation.

use super::remote::Cond;
use super::{AwsStore, Fault, StoreError, Table, from_item, to_json};
use crate::error::{Error, Result};
use crate::tenant::ApiToken;
use crate::tenant::tokens::validate_id;

impl AwsStore {
    pub(super) fn tokens_of(&self, tenant: &str) -> Result<Vec<ApiToken>> {
        self.scope(tenant)?;
        let remote = self
            .query_records::<ApiToken>(Table::Tenants, tenant.to_string(), "token#", "token")
            .map(|mut v| {
                v.sort_by(|a, b| a.id.cmp(&b.id));
                v
            });
        self.read(&format!("the tokens of tenant {tenant}"), remote, || None)
    }

    pub(super) fn token(&self, tenant: &str, id: &str) -> Result<Option<ApiToken>> {
        self.scope(tenant)?;
        if validate_id(id).is_err() {
            return Ok(None);
        }
        let remote = self
            .get(Table::Tenants, tenant.to_string(), format!("token#{id}"))
            .and_then(|i| i.map(|i| from_item::<ApiToken>(&i, "token")).transpose());
        self.read(&format!("token {id}"), remote, || None)
    }

    pub(super) fn save_token(&self, token: &ApiToken, create: bool) -> Result<()> {
        self.scope(&token.tenant)?;
        token.validate()?;
        let json = to_json(token).map_err(Fault::into_error)?;
        let item = Self::record_item(&token.tenant, &format!("token#{}", token.id), json, 1);
        let cond = if create {
            Cond::absent()
        } else {
            Cond::present()
        };
        match self.put(Table::Tenants, item, cond) {
            Ok(()) => Ok(()),
            Err(Fault::Condition(_)) if create => {
                Err(Error::input(format!("token {} already exists", token.id)))
            }
            Err(Fault::Condition(_)) => Err(StoreError::not_found(
                "token",
                &token.id,
                format!("in tenant {}", token.tenant),
            )
            .into()),
            Err(f) => self.write(&format!("save token {}", token.id), Err(f)),
        }
    }
}
