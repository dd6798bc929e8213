//! TOTP secrets on the shared backend are never stored readable: envelope encryption with a
//! KMS key per tenant. Sealing asks KMS for a data key (GenerateDataKey), encrypts the secret
//! with it locally (AES-256-GCM, bound to tenant and user) and stores the ciphertext, the
//! encrypted data key and the key id in the user's item; the record itself holds no secret.
//! The data key is decrypted (KMS Decrypt) only to check a code: in `update_user`, the
//! read-modify-write every TOTP check goes through.
//!
//! Items written before this hold the secret in `rec.totp_secret`: they are sealed on their
//! next write, `backend check` reports them and `backend init` seals them at once.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeyState};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use serde::{Deserialize, Serialize};

use super::fault::{Fault, classify};
use super::layout::Table;
use super::provision::{Finding, Status};
use super::remote::{Cond, Item, get_n, get_s, s};
use super::{AwsStore, from_item, to_json};
use crate::error::Result;
use crate::tenant::User;

/// The item attribute holding a [`Sealed`] secret (JSON).
const ATTR: &str = "totp_sealed";

/// A TOTP secret as the backend stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Sealed {
    /// The KMS key (ARN) that encrypted the data key.
    key_id: String,
    /// The data key, encrypted by KMS (base64).
    data_key: String,
    /// AES-256-GCM nonce (base64, 12 bytes).
    nonce: String,
    /// The secret, encrypted, with its tag (base64).
    ciphertext: String,
}

/// What the ciphertext is bound to: a sealed secret moved to another user or tenant does not
/// open.
fn aad(tenant: &str, user: &str) -> Vec<u8> {
    format!("opsdeck-totp-v1\n{tenant}\n{user}\n").into_bytes()
}

fn aead_key(bytes: &[u8]) -> std::result::Result<LessSafeKey, Fault> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| Fault::Fatal("KMS returned a data key that is not 256 bits".into()))
}

impl AwsStore {
    /// The alias of a tenant's TOTP key.
    pub fn totp_key_alias(&self, tenant: &str) -> String {
        format!("alias/{}-totp-{tenant}", self.layout.prefix)
    }

    fn seal(&self, tenant: &str, user: &str, secret: &str) -> std::result::Result<Sealed, Fault> {
        let alias = self.totp_key_alias(tenant);
        let generate = |alias: String| {
            self.call(move |c| async move {
                c.kms
                    .generate_data_key()
                    .key_id(alias)
                    .key_spec(DataKeySpec::Aes256)
                    .send()
                    .await
                    .map_err(|e| {
                        // The alias not there yet: a tenant made before its key.
                        if e.as_service_error()
                            .is_some_and(|se| se.is_not_found_exception())
                        {
                            Fault::Missing(e.to_string())
                        } else {
                            classify("KMS", "GenerateDataKey", &e)
                        }
                    })
            })
        };
        let out = match generate(alias.clone()) {
            // A tenant made before its key: the key is made now.
            Err(Fault::Missing(_)) => {
                self.totp_key(tenant, true)?;
                generate(alias)?
            }
            other => other?,
        };
        let (Some(plain), Some(wrapped), Some(key_id)) =
            (out.plaintext, out.ciphertext_blob, out.key_id)
        else {
            return Err(Fault::Fatal(
                "KMS GenerateDataKey answered no data key".into(),
            ));
        };
        let mut plain = plain.into_inner();
        let key = aead_key(&plain);
        plain.fill(0);
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| Fault::Fatal(format!("no randomness: {e}")))?;
        let mut buf = secret.as_bytes().to_vec();
        key?.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(tenant, user)),
            &mut buf,
        )
        .map_err(|_| Fault::Fatal("encrypting a TOTP secret failed".into()))?;
        Ok(Sealed {
            key_id,
            data_key: B64.encode(wrapped.into_inner()),
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(buf),
        })
    }

    fn unseal(
        &self,
        tenant: &str,
        user: &str,
        sealed: &Sealed,
    ) -> std::result::Result<String, Fault> {
        let broken = |what: &str| {
            Fault::Fatal(format!(
                "the sealed TOTP secret of user {user} in tenant {tenant} is {what}: an admin re-enrols the user"
            ))
        };
        let wrapped = B64
            .decode(&sealed.data_key)
            .map_err(|_| broken("damaged"))?;
        let nonce: [u8; 12] = B64
            .decode(&sealed.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| broken("damaged"))?;
        let mut buf = B64
            .decode(&sealed.ciphertext)
            .map_err(|_| broken("damaged"))?;
        let key_id = sealed.key_id.clone();
        let out = self.call(move |c| async move {
            c.kms
                .decrypt()
                .ciphertext_blob(Blob::new(wrapped))
                .key_id(key_id)
                .send()
                .await
                .map_err(|e| classify("KMS", "Decrypt", &e))
        })?;
        let mut plain = out
            .plaintext
            .ok_or_else(|| broken("unreadable"))?
            .into_inner();
        let key = aead_key(&plain);
        plain.fill(0);
        let secret = key?
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(tenant, user)),
                &mut buf,
            )
            .map_err(|_| broken("not this user's (or was altered)"))?;
        String::from_utf8(secret.to_vec()).map_err(|_| broken("damaged"))
    }

    /// The user's item: the record without its secret, and the secret sealed.
    fn user_item(
        &self,
        tenant: &str,
        user: &User,
        sealed: Option<&Sealed>,
        version: u64,
    ) -> std::result::Result<Item, Fault> {
        let mut public = user.clone();
        public.totp_secret = String::new();
        let mut item = Self::record_item(
            tenant,
            &format!("user#{}", user.name),
            to_json(&public)?,
            version,
        );
        if let Some(sealed) = sealed {
            item.insert(ATTR.into(), s(to_json(sealed)?));
        }
        Ok(item)
    }

    fn sealed_of(item: &Item) -> std::result::Result<Option<Sealed>, Fault> {
        get_s(item, ATTR)
            .map(|j| {
                serde_json::from_str(j)
                    .map_err(|e| Fault::Fatal(format!("a sealed TOTP secret cannot be read: {e}")))
            })
            .transpose()
    }

    /// A new user's item, its secret sealed.
    pub(super) fn user_item_sealed(
        &self,
        tenant: &str,
        user: &User,
    ) -> std::result::Result<Item, Fault> {
        let sealed = if user.totp_secret.is_empty() {
            None
        } else {
            Some(self.seal(tenant, &user.name, &user.totp_secret)?)
        };
        self.user_item(tenant, user, sealed.as_ref(), 1)
    }

    /// Versioned read-modify-write of a user, with the secret opened for `f` (the TOTP check)
    /// and sealed again if it changed; a plaintext item is sealed on this write. The user
    /// returned holds no secret.
    pub(super) fn update_user_sealed(
        &self,
        tenant: &str,
        name: &str,
        f: &mut dyn FnMut(&mut User) -> Result<()>,
    ) -> Result<Option<User>> {
        let what = format!("user {name}");
        let mut attempt = 0;
        loop {
            let Some(item) = self.write(
                &format!("change {what}"),
                self.get(Table::Tenants, tenant.to_string(), format!("user#{name}")),
            )?
            else {
                return Ok(None);
            };
            let version = get_n(&item, "version").unwrap_or(0);
            let stored: User = from_item(&item, &what).map_err(Fault::into_error)?;
            let sealed = Self::sealed_of(&item).map_err(Fault::into_error)?;
            let plaintext_item = sealed.is_none() && !stored.totp_secret.is_empty();
            let mut original = stored.clone();
            if let Some(sealed) = &sealed {
                original.totp_secret = match self.unseal(tenant, name, sealed) {
                    Ok(secret) => secret,
                    Err(f) => return self.write("open a sealed TOTP secret", Err(f)),
                };
            }
            let mut rec = original.clone();
            f(&mut rec)?;
            if rec == original && !plaintext_item {
                rec.totp_secret = String::new();
                return Ok(Some(rec));
            }
            let resealed = match &sealed {
                Some(s) if rec.totp_secret == original.totp_secret => Some(s.clone()),
                _ if rec.totp_secret.is_empty() => None,
                _ => match self.seal(tenant, name, &rec.totp_secret) {
                    Ok(sealed) => Some(sealed),
                    Err(f) => return self.write("seal a TOTP secret", Err(f)),
                },
            };
            let item = self
                .user_item(tenant, &rec, resealed.as_ref(), version + 1)
                .map_err(Fault::into_error)?;
            match self.put(Table::Tenants, item, Cond::version(version)) {
                Ok(()) => {
                    rec.totp_secret = String::new();
                    return Ok(Some(rec));
                }
                Err(Fault::Condition(_)) => {
                    attempt += 1;
                    super::backoff(attempt);
                }
                Err(other) => return self.write(&format!("change {what}"), Err(other)),
            }
        }
    }

    /// A tenant's TOTP key as KMS describes it (None: not there), created first when
    /// `create` and missing; the flag says it was created now.
    pub(super) fn totp_key(
        &self,
        tenant: &str,
        create: bool,
    ) -> std::result::Result<(Option<aws_sdk_kms::types::KeyMetadata>, bool), Fault> {
        let alias = self.totp_key_alias(tenant);
        let a = alias.clone();
        let described = self.call_now(move |c| async move {
            match c.kms.describe_key().key_id(a).send().await {
                Ok(o) => Ok(o.key_metadata),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_not_found_exception()) =>
                {
                    Ok(None)
                }
                Err(e) => Err(classify("KMS", "DescribeKey", &e)),
            }
        })?;
        if described.is_some() || !create {
            return Ok((described, false));
        }
        let (a, description, prefix, t) = (
            alias.clone(),
            format!(
                "opsdeck: TOTP secrets of tenant {tenant} ({})",
                self.layout.prefix
            ),
            self.layout.prefix.clone(),
            tenant.to_string(),
        );
        self.call_now(move |c| async move {
            let key = c
                .kms
                .create_key()
                .description(description)
                .tags(
                    aws_sdk_kms::types::Tag::builder()
                        .tag_key("opsdeck:prefix")
                        .tag_value(prefix)
                        .build()
                        .map_err(|e| Fault::Fatal(e.to_string()))?,
                )
                .tags(
                    aws_sdk_kms::types::Tag::builder()
                        .tag_key("opsdeck:tenant")
                        .tag_value(t)
                        .build()
                        .map_err(|e| Fault::Fatal(e.to_string()))?,
                )
                .send()
                .await
                .map_err(|e| classify("KMS", "CreateKey", &e))?;
            let id = key
                .key_metadata
                .map(|m| m.key_id)
                .ok_or_else(|| Fault::Fatal("KMS CreateKey answered no key".into()))?;
            c.kms
                .enable_key_rotation()
                .key_id(&id)
                .send()
                .await
                .map_err(|e| classify("KMS", "EnableKeyRotation", &e))?;
            match c
                .kms
                .create_alias()
                .alias_name(a)
                .target_key_id(&id)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                // Another process made the tenant's key first: theirs is used, ours goes.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_already_exists_exception()) =>
                {
                    c.kms
                        .schedule_key_deletion()
                        .key_id(id)
                        .pending_window_in_days(7)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| classify("KMS", "ScheduleKeyDeletion", &e))
                }
                Err(e) => Err(classify("KMS", "CreateAlias", &e)),
            }
        })?;
        Ok((None, true))
    }

    /// Creates (fix) or checks a tenant's TOTP key: there, enabled, rotating yearly.
    pub fn ensure_totp_key(
        &self,
        tenant: &str,
        fix: bool,
    ) -> std::result::Result<Vec<Finding>, Fault> {
        let resource = format!("kms {}", self.totp_key_alias(tenant));
        let finding = |aspect: &'static str, status: Status, detail: String| Finding {
            resource: resource.clone(),
            aspect,
            status,
            detail,
        };
        let meta = match self.totp_key(tenant, fix)? {
            (Some(meta), _) => meta,
            (None, true) => return Ok(vec![finding("totp key", Status::Created, String::new())]),
            (None, false) => {
                return Ok(vec![finding(
                    "totp key",
                    Status::Missing,
                    format!(
                        "no KMS key for the TOTP secrets of tenant {tenant}; `opsdeck backend init` creates it"
                    ),
                )]);
            }
        };
        let usable = meta.enabled && meta.key_state == Some(KeyState::Enabled);
        let mut out = vec![if usable {
            finding("totp key", Status::Ok, String::new())
        } else {
            finding(
                "totp key",
                Status::Wrong,
                format!(
                    "key {} is {}: TOTP codes of tenant {tenant} cannot be checked; enable it in KMS",
                    meta.key_id,
                    meta.key_state
                        .as_ref()
                        .map(|s| s.as_str())
                        .unwrap_or("not enabled")
                ),
            )
        }];
        let id = meta.key_id.clone();
        let rotating = self.call_now(move |c| async move {
            c.kms
                .get_key_rotation_status()
                .key_id(id)
                .send()
                .await
                .map(|o| o.key_rotation_enabled)
                .map_err(|e| classify("KMS", "GetKeyRotationStatus", &e))
        })?;
        if rotating {
            out.push(finding("rotation", Status::Ok, String::new()));
        } else if fix && usable {
            let id = meta.key_id.clone();
            self.call_now(move |c| async move {
                c.kms
                    .enable_key_rotation()
                    .key_id(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| classify("KMS", "EnableKeyRotation", &e))
            })?;
            out.push(finding(
                "rotation",
                Status::Fixed,
                "key rotation was off".into(),
            ));
        } else {
            out.push(finding(
                "rotation",
                Status::Wrong,
                "key rotation is off".into(),
            ));
        }
        Ok(out)
    }

    /// Users of a tenant whose item still holds a readable TOTP secret: reported (check) or
    /// sealed now (init).
    pub fn plaintext_totp(&self, tenant: &str, fix: bool) -> std::result::Result<Finding, Fault> {
        let items = self.query(Table::Tenants, tenant.to_string(), Some("user#"))?;
        let mut plain = Vec::new();
        for item in &items {
            let u: User = from_item(item, "user")?;
            if Self::sealed_of(item)?.is_none() && !u.totp_secret.is_empty() {
                plain.push(u.name);
            }
        }
        let resource = format!("table {}", self.table(Table::Tenants));
        let status = if plain.is_empty() {
            Status::Ok
        } else if fix {
            for name in &plain {
                self.update_user_sealed(tenant, name, &mut |_| Ok(()))
                    .map_err(|e| Fault::Fatal(e.to_string()))?;
            }
            Status::Fixed
        } else {
            Status::Wrong
        };
        let detail = if plain.is_empty() {
            String::new()
        } else {
            format!(
                "tenant {tenant}: the TOTP secret of {} is stored readable (sealed on the next write; `opsdeck backend init` seals it now)",
                plain.join(", ")
            )
        };
        Ok(Finding {
            resource,
            aspect: "totp secrets sealed",
            status,
            detail,
        })
    }
}
