//! TOTP (RFC 6238) second factor for approving, rejecting, breaking glass and administration.

use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use super::{TenantError, User};
use crate::error::{Error, Result};

const STEP: u64 = 30;
const DIGITS: usize = 6;

/// A fresh 160-bit secret, base32-encoded.
pub fn new_secret() -> Result<String> {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::io(
            "reading randomness for a TOTP secret",
            std::io::Error::other(e.to_string()),
        )
    })?;
    Ok(Secret::from(bytes.to_vec()).to_base32())
}

fn totp(secret_b32: &str) -> std::result::Result<Totp, TenantError> {
    let secret = Secret::try_from_base32(secret_b32).map_err(|e| TenantError::TotpSecret {
        detail: format!("{e:?}"),
    })?;
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS as u8)
        .with_secret(secret)
        .build()
        .map_err(|e| TenantError::TotpRejected {
            detail: e.to_string(),
        })
}

/// The code for a given Unix time (what an authenticator app shows then).
pub fn code_at(secret_b32: &str, unix: u64) -> Result<String> {
    Ok(totp(secret_b32)?.generate(unix).to_string())
}

/// The `otpauth://` URI an authenticator app scans.
pub fn otpauth_uri(tenant: &str, user: &str, secret_b32: &str) -> String {
    let label = format!("opsdeck:{user}@{tenant}");
    format!(
        "otpauth://totp/{}?secret={secret_b32}&issuer=opsdeck&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        label.replace(' ', "%20")
    )
}

/// The URI as a QR code drawn with Unicode half blocks, for scanning off a terminal.
pub fn qr(uri: &str) -> String {
    QrCode::new(uri.as_bytes())
        .map(|q| q.render::<Dense1x2>().quiet_zone(true).build())
        .unwrap_or_else(|_| "(QR code unavailable; enter the secret by hand)".into())
}

/// Accepts a current code once: updates `user.last_totp_step` so the same code (or an older
/// one) is refused afterwards.
pub fn verify(user: &mut User, code: Option<&str>, now_unix: u64) -> Result<()> {
    let Some(code) = code.map(str::trim) else {
        return Err(TenantError::TotpRequired {
            user: user.name.clone(),
        }
        .into());
    };
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TenantError::TotpShape.into());
    }
    // Codes one step either side of now are accepted (the builder's default skew), for drift
    // between phone and host; `check` returns the step that matched.
    match totp(&user.totp_secret)?.check(code, now_unix) {
        None => Err(TenantError::TotpWrong {
            user: user.name.clone(),
        }
        .into()),
        Some(step) if step <= user.last_totp_step => Err(TenantError::TotpReused {
            user: user.name.clone(),
        }
        .into()),
        Some(step) => {
            user.last_totp_step = step;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::Role;

    fn user(secret: &str) -> User {
        User {
            name: "bob".into(),
            roles: vec![Role::Approver],
            groups: vec![],
            totp_secret: secret.into(),
            last_totp_step: 0,
            created_at: "2026-11-24T10:00:00.000Z".parse().unwrap(),
            created_by: String::new(),
            aws_principals: vec![],
            key: None,
            membership: Vec::new(),
            read_only: false,
        }
    }

    #[test]
    fn rfc6238_vector() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", T = 59 → 94287082 (8 digits);
        // the 6-digit code is its last six digits.
        let secret = Secret::from(b"12345678901234567890".to_vec()).to_base32();
        assert_eq!(code_at(&secret, 59).unwrap(), "287082");
        assert_eq!(code_at(&secret, 1_111_111_109).unwrap(), "081804");
    }

    #[test]
    fn accepts_once_and_refuses_wrong_and_replayed() {
        let secret = new_secret().unwrap();
        let mut u = user(&secret);
        let now = 1_800_000_000;
        let code = code_at(&secret, now).unwrap();
        assert!(verify(&mut u, Some("000000"), now).is_err() || code == "000000");
        verify(&mut u, Some(&code), now).unwrap();
        let again = verify(&mut u, Some(&code), now).unwrap_err().to_string();
        assert!(again.contains("already used"), "{again}");
        // A code from the previous step is older than the one used: refused too.
        let old = code_at(&secret, now - 30).unwrap();
        assert!(verify(&mut u, Some(&old), now).is_err());
        // Drift of one step forward is accepted.
        let next = code_at(&secret, now + 30).unwrap();
        verify(&mut u, Some(&next), now).unwrap();
        assert!(
            verify(&mut u, None, now)
                .unwrap_err()
                .to_string()
                .contains("--totp")
        );
        assert!(verify(&mut u, Some("12ab56"), now).is_err());
    }

    #[test]
    fn qr_and_uri() {
        let uri = otpauth_uri("default", "bob", "JBSWY3DPEHPK3PXP");
        assert!(uri.starts_with("otpauth://totp/opsdeck:bob@default?secret=JBSWY3DPEHPK3PXP"));
        assert!(qr(&uri).lines().count() > 10);
    }
}
