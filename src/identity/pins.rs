//! Pinned tenant roots (`<identity dir>/known_tenants`, like SSH's known_hosts): the first
//! root a person's client sees for a tenant is remembered, and a different one is refused.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub fn known_tenants_path(identity_dir: &Path) -> PathBuf {
    identity_dir.join("known_tenants")
}

/// What [`check_root`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Pin {
    /// Seen before, the same.
    Known,
    /// First seen now, and remembered.
    Pinned,
}

/// The pinned root fingerprint of `tenant` in `scope`, if any. Lines are
/// `<scope> <tenant> <fingerprint>`; the scope may hold spaces, so it is read from the right.
pub fn pinned_root(identity_dir: &Path, scope: &str, tenant: &str) -> Result<Option<String>> {
    let path = known_tenants_path(identity_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    Ok(text.lines().rev().find_map(|line| {
        let (rest, fp) = line.trim_end().rsplit_once(' ')?;
        let (s, t) = rest.rsplit_once(' ')?;
        (s == scope && t == tenant).then(|| fp.to_string())
    }))
}

/// Pins `fingerprint` as the root of `tenant` in `scope` on first use; refuses, loudly, a
/// root that differs from the pinned one.
pub fn check_root(
    identity_dir: &Path,
    scope: &str,
    tenant: &str,
    fingerprint: &str,
    root_user: &str,
) -> Result<Pin> {
    let path = known_tenants_path(identity_dir);
    match pinned_root(identity_dir, scope, tenant)? {
        Some(pinned) if pinned == fingerprint => Ok(Pin::Known),
        Some(pinned) => Err(Error::refused(format!(
            "THE ROOT OF TRUST OF TENANT {tenant} HAS CHANGED. Pinned: {pinned}; the store now says {fingerprint} (root record of {root_user}). \
             Either the tenant was set up again, or someone who can write the store replaced its membership records to approve as anyone; \
             nothing is approved or applied until this is settled. Check the fingerprint with an admin of the tenant over another channel; \
             if they confirm it, remove the line for tenant {tenant} from {} and run the command again to pin the new root",
            path.display()
        ))),
        None => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
            writeln!(f, "{scope} {tenant} {fingerprint}")
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
            Ok(Pin::Pinned)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_root_is_refused_and_names_both() {
        let dir = tempfile::tempdir().unwrap();
        let scope = "local:/some where";
        assert_eq!(
            check_root(dir.path(), scope, "acme", "SHA256:a", "alice").unwrap(),
            Pin::Pinned
        );
        assert_eq!(
            check_root(dir.path(), scope, "acme", "SHA256:a", "alice").unwrap(),
            Pin::Known
        );
        assert_eq!(
            check_root(dir.path(), scope, "beta", "SHA256:b", "erin").unwrap(),
            Pin::Pinned
        );
        let err = check_root(dir.path(), scope, "acme", "SHA256:x", "erin")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("SHA256:a") && err.contains("SHA256:x"),
            "{err}"
        );
        assert!(err.contains("known_tenants"), "{err}");
    }
}
