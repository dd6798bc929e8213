//! File-system primitives for the local store: owner-only permissions, atomic replace, locks.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

/// Creates `dir` (and parents) readable by the owner only.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir)
        .map_err(|e| StoreError::io(format!("creating {}", dir.display()), e))?;
    restrict_dir(dir)
}

pub fn restrict_dir(dir: &Path) -> Result<()> {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| StoreError::io(format!("restricting {}", dir.display()), e))
}

/// Replaces `path` with `bytes` so that readers see the old or the new file, never a mix, and a
/// crash leaves one of the two.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = tmp_path(path);
    let res = (|| {
        create_synced(&tmp, bytes)?;
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.map_err(|e| StoreError::io(format!("writing {}", path.display()), e))
}

/// Writes a new file (failing if it exists, which is left alone) and syncs it; a file it
/// created is removed again when writing it fails.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let failed = |e| StoreError::io(format!("writing {}", path.display()), e);
    // A file that is there already is someone else's: refused, and left as it is.
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(failed)?;
    // Created here: a write that fails half-way leaves nothing behind.
    f.write_all(bytes)
        .and_then(|()| f.sync_data())
        .map_err(|e| {
            let _ = fs::remove_file(path);
            failed(e)
        })
}

fn create_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_data()
}

/// The temporary file an atomic write of `path` goes through: beside it, hidden, naming the
/// writing process so that [`sweep_stale_tmp`] can tell a live writer's file from a dead one's:
/// `.<name>.<pid>.<random>.tmp`.
pub fn tmp_path(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    dir.join(format!(
        ".{}.{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ))
}

/// A temporary file of an interrupted atomic write older than this is removed whoever wrote
/// it: a write takes milliseconds, and a pid may have been reused by another process since.
pub const TMP_ABANDONED_AFTER_SECS: u64 = 600;

/// Removes the temporary files interrupted atomic writes left under `root` (a crash or a kill
/// between creating one and renaming it into place), without touching a live writer's: a file
/// named by [`tmp_path`] goes when its pid is not a live process or when it is older than
/// [`TMP_ABANDONED_AFTER_SECS`]; one in the older `.<name>.<random>.tmp` form (no pid) only by
/// age. Only names of exactly these forms are touched; directories named in `skip` (Terraform's
/// working copies) are not entered. Returns what was removed.
pub fn sweep_stale_tmp(root: &Path, skip: &[&str]) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let name = entry.file_name().to_string_lossy().to_string();
            if kind.is_dir() {
                if !skip.contains(&name.as_str()) {
                    dirs.push(entry.path());
                }
                continue;
            }
            let Some(writer) = tmp_writer(&name) else {
                continue;
            };
            let age = entry
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .map_or(0, |d| d.as_secs());
            let writer_gone = writer.is_some_and(|pid| !process_alive(pid));
            if (writer_gone || age > TMP_ABANDONED_AFTER_SECS)
                && fs::remove_file(entry.path()).is_ok()
            {
                tracing::info!(path = %entry.path().display(), "removed the temporary file of an interrupted write");
                removed.push(entry.path());
            }
        }
    }
    removed
}

/// The file in a workspace naming the process that created it.
const WORKSPACE_OWNER: &str = ".owner";

/// Creates a plan's workspace, recording the creating process (its pid) the first time.
pub fn ensure_owned_workspace(dir: &Path) -> Result<()> {
    let fresh = !dir.exists();
    ensure_private_dir(dir)?;
    if fresh {
        let owner = dir.join(WORKSPACE_OWNER);
        // Another process creating it at the same moment wrote its own: either will do.
        match write_new(&owner, std::process::id().to_string().as_bytes()) {
            Ok(()) => {}
            Err(_) if owner.exists() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Removes the workspaces under `dir` of plans that were never stored (`stored(id)` false):
/// left by a request killed during its dry runs. A workspace goes only when the process named
/// in its `.owner` is gone, or (no owner recorded) when it is older than
/// [`TMP_ABANDONED_AFTER_SECS`]. Only plan ids (`p-...`) are considered. Returns what went.
pub fn sweep_abandoned_workspaces(dir: &Path, stored: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.starts_with("p-") || !super::valid_id(&name) || stored(&name) {
            continue;
        }
        let path = entry.path();
        let abandoned = match fs::read_to_string(path.join(WORKSPACE_OWNER)) {
            Ok(pid) => pid.trim().parse::<u32>().is_ok_and(|p| !process_alive(p)),
            Err(_) => entry
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|d| d.as_secs() > TMP_ABANDONED_AFTER_SECS),
        };
        if abandoned && fs::remove_dir_all(&path).is_ok() {
            tracing::info!(path = %path.display(), "removed the workspace of a plan that was never stored");
            removed.push(path);
        }
    }
    removed
}

/// For a temporary file name of an atomic write: `Some(Some(pid))` (current form),
/// `Some(None)` (older form, no pid), `None` (not one of ours).
fn tmp_writer(name: &str) -> Option<Option<u32>> {
    let inner = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (rest, random) = inner.rsplit_once('.')?;
    if random.len() != 32 || !random.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match rest.rsplit_once('.') {
        Some((file, pid)) if !file.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) => {
            Some(pid.parse().ok())
        }
        _ if !rest.is_empty() => Some(None),
        _ => None,
    }
}

/// Whether a process with this pid exists on this host.
pub fn process_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Makes a rename or create durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// An exclusive advisory lock held until dropped. Works across processes on one host.
pub struct FileLock {
    file: File,
    path: PathBuf,
}

impl FileLock {
    pub fn exclusive(path: &Path) -> Result<FileLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| StoreError::io(format!("opening lock {}", path.display()), e))?;
        file.lock()
            .map_err(|e| StoreError::io(format!("locking {}", path.display()), e))?;
        Ok(FileLock {
            file,
            path: path.to_path_buf(),
        })
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        if let Err(e) = self.file.unlock() {
            tracing::warn!(path = %self.path.display(), error = %e, "unlock failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_that_exists_already_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".owner");
        write_new(&path, b"41").unwrap();
        assert!(write_new(&path, b"42").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"41");
        // Two creators of one workspace at once (a hybrid plan's dry runs): both succeed, one
        // owner is recorded.
        let ws = dir.path().join("p-race");
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| ensure_owned_workspace(&ws).unwrap());
            }
        });
        assert!(ws.join(WORKSPACE_OWNER).is_file());
    }

    #[test]
    fn only_a_dead_or_old_writers_temporary_files_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("tenants/t/plans");
        fs::create_dir_all(&sub).unwrap();
        let random = uuid::Uuid::new_v4().simple().to_string();
        // A pid no process has (above the kernel's pid_max).
        let dead = sub.join(format!(".p-1.json.4194305.{random}.tmp"));
        let live = sub.join(format!(".p-2.json.{}.{random}.tmp", std::process::id()));
        let legacy_fresh = sub.join(format!(".p-3.json.{random}.tmp"));
        let not_ours = sub.join(".notes.tmp");
        let skipped = dir.path().join("work/.terraform");
        fs::create_dir_all(&skipped).unwrap();
        let in_skipped = skipped.join(format!(".x.4194305.{random}.tmp"));
        for f in [&dead, &live, &legacy_fresh, &not_ours, &in_skipped] {
            fs::write(f, b"half").unwrap();
        }
        let removed = sweep_stale_tmp(dir.path(), &[".terraform"]);
        assert_eq!(removed, vec![dead.clone()]);
        assert!(live.exists() && legacy_fresh.exists() && not_ours.exists() && in_skipped.exists());
        // A real write goes through a name the sweep recognises as its own.
        let name = tmp_path(&sub.join("p-4.json"));
        let name = name.file_name().unwrap().to_str().unwrap();
        assert_eq!(tmp_writer(name), Some(Some(std::process::id())));
    }
}
