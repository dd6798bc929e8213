//! Personal Ed25519 keys: the private half stays in the person's own directory
//! (`<identity dir>/keys/<user>.key`, OpenSSH format, 0600, optionally passphrase-encrypted);
//! the public half is what an admin registers.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use ssh_key::private::{Ed25519Keypair, KeypairData};
use ssh_key::public::{Ed25519PublicKey, KeyData};
use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The environment variable a key's passphrase is read from (else it is asked on a terminal).
pub const PASSPHRASE_ENV: &str = "OPSDECK_KEY_PASSPHRASE";

/// A registered (public) key: an `ssh-ed25519` key, compared and shown without its comment.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKeyLine {
    verifying: VerifyingKey,
    key: PublicKey,
}

impl std::fmt::Debug for PublicKeyLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKeyLine({})", self.fingerprint())
    }
}

impl PublicKeyLine {
    /// Reads `ssh-ed25519 AAAA… [comment]`; any other algorithm is refused.
    pub fn parse(line: &str) -> Result<PublicKeyLine> {
        let line = line.trim();
        let key = PublicKey::from_openssh(line).map_err(|e| {
            Error::input(format!(
                "not an OpenSSH public key ({e}): give the line `opsdeck keys show` prints, `ssh-ed25519 AAAA…`"
            ))
        })?;
        let KeyData::Ed25519(pk) = key.key_data() else {
            return Err(Error::input(format!(
                "opsdeck keys are Ed25519, this one is {}: create one with `opsdeck keys new`",
                key.algorithm()
            )));
        };
        let verifying = VerifyingKey::try_from(pk)
            .map_err(|e| Error::input(format!("not a valid Ed25519 public key: {e}")))?;
        let mut key = key.clone();
        key.set_comment("");
        Ok(PublicKeyLine { verifying, key })
    }

    fn from_verifying(verifying: VerifyingKey) -> PublicKeyLine {
        let key = PublicKey::new(KeyData::Ed25519(Ed25519PublicKey::from(&verifying)), "");
        PublicKeyLine { verifying, key }
    }

    /// `ssh-ed25519 AAAA…`, no comment.
    pub fn openssh(&self) -> String {
        self.key
            .to_openssh()
            .unwrap_or_default()
            .trim_end()
            .to_string()
    }

    /// `SHA256:…` as OpenSSH prints it.
    pub fn fingerprint(&self) -> String {
        self.key.fingerprint(HashAlg::Sha256).to_string()
    }

    /// Whether `signature` (base64) is this key's signature over `bytes`.
    pub fn verify(&self, bytes: &[u8], signature: &str) -> std::result::Result<(), String> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(signature.trim())
            .map_err(|_| "the signature is not base64".to_string())?;
        let sig = ed25519_dalek::Signature::from_slice(&raw)
            .map_err(|_| "the signature is not an Ed25519 signature".to_string())?;
        self.verifying.verify(bytes, &sig).map_err(|_| {
            format!(
                "the signature does not verify under key {}",
                self.fingerprint()
            )
        })
    }
}

/// A person's private key, loaded for signing (or the agent that holds it); never stored,
/// logged or shown.
pub struct PersonalKey {
    user: String,
    holder: Holder,
    public: PublicKeyLine,
}

/// Where the private half is.
enum Holder {
    /// Read from the person's key file.
    File(SigningKey),
    /// In an SSH agent (or the hardware token behind it): only signatures leave it.
    Agent(super::agent::AgentKey),
}

impl std::fmt::Debug for PersonalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonalKey")
            .field("user", &self.user)
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl PersonalKey {
    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn public(&self) -> &PublicKeyLine {
        &self.public
    }

    /// The base64 Ed25519 signature over `bytes`.
    pub fn sign(&self, bytes: &[u8]) -> Result<String> {
        let raw = match &self.holder {
            Holder::File(signing) => signing.sign(bytes).to_bytes(),
            Holder::Agent(agent) => agent.sign(bytes)?,
        };
        Ok(base64::engine::general_purpose::STANDARD.encode(raw))
    }

    /// Where the private half is, in words (`keys show`).
    pub fn held_by(&self) -> &'static str {
        match self.holder {
            Holder::File(_) => "key file",
            Holder::Agent(_) => "ssh-agent",
        }
    }
}

/// `<identity dir>/keys/<user>.key`.
pub fn key_path(identity_dir: &Path, user: &str) -> PathBuf {
    identity_dir.join("keys").join(format!("{user}.key"))
}

/// `<identity dir>/keys/<user>.pub`.
pub fn public_path(identity_dir: &Path, user: &str) -> PathBuf {
    identity_dir.join("keys").join(format!("{user}.pub"))
}

/// Creates `user`'s key pair in `identity_dir`, encrypted when a passphrase is given; refuses
/// to overwrite an existing key.
pub fn create_key(
    identity_dir: &Path,
    user: &str,
    passphrase: Option<&str>,
) -> Result<PersonalKey> {
    crate::tenant::validate_user(user)?;
    let path = key_path(identity_dir, user);
    if path.exists() {
        return Err(Error::input(format!(
            "{} already exists: opsdeck never overwrites a personal key (`opsdeck keys show` prints its public line; to replace it, move it away first and have an admin register the new one with `opsdeck users key {user} --key …`)",
            path.display()
        )));
    }
    let dir = path.parent().unwrap_or(identity_dir);
    create_private_dir(dir)?;
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut())
        .map_err(|e| Error::input(format!("no randomness for a new key: {e}")))?;
    let pair = Ed25519Keypair::from_seed(&seed);
    let mut private = PrivateKey::new(KeypairData::Ed25519(pair), format!("opsdeck:{user}"))
        .map_err(|e| Error::input(format!("cannot make the key: {e}")))?;
    if let Some(p) = passphrase.filter(|p| !p.is_empty()) {
        private = private
            .encrypt(&mut ssh_key::rand_core::OsRng, p)
            .map_err(|e| Error::input(format!("cannot encrypt the key: {e}")))?;
    }
    let text = private
        .to_openssh(LineEnding::LF)
        .map_err(|e| Error::input(format!("cannot encode the key: {e}")))?;
    write_new(&path, text.as_bytes(), 0o600)?;
    let signing = SigningKey::from_bytes(&seed);
    let public = PublicKeyLine::from_verifying(signing.verifying_key());
    let line = format!("{} opsdeck:{user}\n", public.openssh());
    let pub_path = public_path(identity_dir, user);
    let _ = std::fs::remove_file(&pub_path);
    write_new(&pub_path, line.as_bytes(), 0o644)?;
    Ok(PersonalKey {
        user: user.to_string(),
        holder: Holder::File(signing),
        public,
    })
}

/// Loads `user`'s private key; asks for its passphrase (see [`passphrase`]) when it is encrypted.
pub fn load_key(identity_dir: &Path, user: &str) -> Result<PersonalKey> {
    load_key_with(identity_dir, user, &passphrase)
}

/// [`load_key`] with the passphrase from `ask` (given the prompt).
pub fn load_key_with(
    identity_dir: &Path,
    user: &str,
    ask: &dyn Fn(&str) -> Result<Option<Zeroizing<String>>>,
) -> Result<PersonalKey> {
    crate::tenant::validate_user(user)?;
    let path = key_path(identity_dir, user);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => Zeroizing::new(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(key) = agent_key(identity_dir, user)? {
                return Ok(key);
            }
            return Err(Error::refused(format!(
                "no private key for {user} at {}: signing needs {user}'s own key. If you are {user}, use the machine and identity directory (--identity-dir) that hold it, or the SSH agent that holds it (`opsdeck --user {user} keys agent`, with SSH_AUTH_SOCK set), or create one with `opsdeck --user {user} keys new` and have an admin register it (`opsdeck users key {user} --key \"ssh-ed25519 …\"`)",
                path.display()
            )));
        }
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let mut private = PrivateKey::from_openssh(text.as_bytes()).map_err(|e| {
        Error::input(format!(
            "{} is not an OpenSSH private key ({e})",
            path.display()
        ))
    })?;
    if private.is_encrypted() {
        let Some(pass) = ask(&format!("passphrase for {}: ", path.display()))? else {
            return Err(Error::refused(format!(
                "{} is passphrase-protected: set {PASSPHRASE_ENV} or run on a terminal to be asked",
                path.display()
            )));
        };
        private = private
            .decrypt(pass.as_bytes())
            .map_err(|_| Error::refused(format!("wrong passphrase for {}", path.display())))?;
    }
    let KeypairData::Ed25519(pair) = private.key_data() else {
        return Err(Error::input(format!(
            "{} is a {} key; opsdeck keys are Ed25519 (`opsdeck keys new`)",
            path.display(),
            private.algorithm()
        )));
    };
    let signing = SigningKey::try_from(pair)
        .map_err(|e| Error::input(format!("{} is not a valid key: {e}", path.display())))?;
    let public = PublicKeyLine::from_verifying(signing.verifying_key());
    Ok(PersonalKey {
        user: user.to_string(),
        holder: Holder::File(signing),
        public,
    })
}

/// `user`'s key in the SSH agent: the one whose public half is `<user>.pub` (written by
/// `keys agent`), when there is no key file. An agent that is set but unreachable, or that no
/// longer holds the key, is an error that says so.
fn agent_key(identity_dir: &Path, user: &str) -> Result<Option<PersonalKey>> {
    let (Some(socket), Some(public)) = (super::agent::socket(), read_public(identity_dir, user)?)
    else {
        return Ok(None);
    };
    match super::agent::find(&socket, &public)? {
        Some(agent) => Ok(Some(PersonalKey {
            user: user.to_string(),
            holder: Holder::Agent(agent),
            public,
        })),
        None => Err(Error::refused(format!(
            "the SSH agent at {} does not hold {user}'s key {} (from {}): add it with `ssh-add`, or use the identity directory that holds the key file",
            socket.display(),
            public.fingerprint(),
            public_path(identity_dir, user).display()
        ))),
    }
}

/// Records that `user`'s key is the agent's key with fingerprint `fingerprint` (or its only
/// Ed25519 key): writes `<user>.pub`, which an admin registers; signing then goes through the
/// agent. Refused when `user` has a key file here already.
pub fn adopt_agent_key(
    identity_dir: &Path,
    user: &str,
    fingerprint: Option<&str>,
) -> Result<PublicKeyLine> {
    crate::tenant::validate_user(user)?;
    if key_path(identity_dir, user).exists() {
        return Err(Error::input(format!(
            "{} exists: {user} signs with that key file (move it away first to sign through the agent instead)",
            key_path(identity_dir, user).display()
        )));
    }
    let Some(socket) = super::agent::socket() else {
        return Err(Error::input(
            "SSH_AUTH_SOCK is not set: start your ssh-agent (or gpg-agent with SSH support) and add your Ed25519 key first",
        ));
    };
    let keys = super::agent::list(&socket)?;
    let names = || {
        keys.iter()
            .map(|k| format!("{} {}", k.public.fingerprint(), k.comment))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let chosen = match fingerprint {
        Some(fp) => keys
            .iter()
            .find(|k| k.public.fingerprint() == fp)
            .ok_or_else(|| {
                Error::input(format!(
                    "the agent holds no Ed25519 key {fp} (it holds: {})",
                    if keys.is_empty() {
                        "none".into()
                    } else {
                        names()
                    }
                ))
            })?,
        None => match keys.as_slice() {
            [one] => one,
            [] => {
                return Err(Error::input(
                    "the agent holds no Ed25519 key: add one with `ssh-add` (opsdeck keys are Ed25519)",
                ));
            }
            _ => {
                return Err(Error::input(format!(
                    "the agent holds several Ed25519 keys; name one with --fingerprint ({})",
                    names()
                )));
            }
        },
    };
    let dir = identity_dir.join("keys");
    create_private_dir(&dir)?;
    let path = public_path(identity_dir, user);
    let _ = std::fs::remove_file(&path);
    let line = format!("{} opsdeck:{user} (ssh-agent)\n", chosen.public.openssh());
    write_new(&path, line.as_bytes(), 0o644)?;
    Ok(chosen.public.clone())
}

/// `user`'s public key as kept next to the private one, if there is one.
pub fn read_public(identity_dir: &Path, user: &str) -> Result<Option<PublicKeyLine>> {
    let path = public_path(identity_dir, user);
    match std::fs::read_to_string(&path) {
        Ok(t) => PublicKeyLine::parse(&t).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

/// `user`'s public key, creating an unencrypted pair when there is none: for a stand-in
/// person this machine plays (the demo's approver), never for a real person's key.
pub fn ensure_key(identity_dir: &Path, user: &str) -> Result<PublicKeyLine> {
    match read_public(identity_dir, user)? {
        Some(k) if key_path(identity_dir, user).exists() => Ok(k),
        _ => create_key(identity_dir, user, None).map(|k| k.public().clone()),
    }
}

/// The passphrase: `OPSDECK_KEY_PASSPHRASE`, else asked on the terminal without echo; None
/// when neither is there.
pub fn passphrase(prompt: &str) -> Result<Option<Zeroizing<String>>> {
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        return Ok(Some(Zeroizing::new(p)));
    }
    tty_passphrase(prompt)
}

/// Asks on `/dev/tty` with echo off; None when there is no terminal.
fn tty_passphrase(prompt: &str) -> Result<Option<Zeroizing<String>>> {
    use std::io::BufRead;
    use std::os::fd::AsRawFd;
    let Ok(tty) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
    else {
        return Ok(None);
    };
    let fd = tty.as_raw_fd();
    // SAFETY: termios is plain data, read and restored on the descriptor we hold.
    let mut term: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(fd, &mut term) } != 0 {
        return Ok(None);
    }
    let saved = term;
    term.c_lflag &= !libc::ECHO;
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &term) };
    let mut out = &tty;
    let _ = out.write_all(prompt.as_bytes());
    let mut line = Zeroizing::new(String::new());
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    let _ = out.write_all(b"\n");
    read.map_err(|e| Error::io("reading the passphrase", e))?;
    Ok(Some(Zeroizing::new(
        line.trim_end_matches(['\n', '\r']).to_string(),
    )))
}

fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))
}

/// Writes a file that must not exist yet, with `mode` from the start.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_signs_and_only_its_public_half_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let k = create_key(dir.path(), "bob", None).unwrap();
        let sig = k.sign(b"statement").unwrap();
        assert!(k.public().verify(b"statement", &sig).is_ok());
        assert!(k.public().verify(b"statement!", &sig).is_err());
        let other = create_key(dir.path(), "erin", None).unwrap();
        assert!(other.public().verify(b"statement", &sig).is_err());
        let loaded = load_key(dir.path(), "bob").unwrap();
        assert_eq!(loaded.public(), k.public());
        assert!(k.public().fingerprint().starts_with("SHA256:"));
        let line = std::fs::read_to_string(public_path(dir.path(), "bob")).unwrap();
        assert_eq!(PublicKeyLine::parse(&line).unwrap(), *k.public());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(key_path(dir.path(), "bob"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(
            create_key(dir.path(), "bob", None).is_err(),
            "never overwrites"
        );
    }

    #[test]
    fn an_encrypted_key_needs_its_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let k = create_key(dir.path(), "bob", Some("correct horse")).unwrap();
        let text = std::fs::read_to_string(key_path(dir.path(), "bob")).unwrap();
        assert!(PrivateKey::from_openssh(&text).unwrap().is_encrypted());
        let given = |p: &'static str| move |_: &str| Ok(Some(Zeroizing::new(p.to_string())));
        let loaded = load_key_with(dir.path(), "bob", &given("correct horse")).unwrap();
        assert_eq!(loaded.public(), k.public());
        let wrong = load_key_with(dir.path(), "bob", &given("wrong")).unwrap_err();
        assert!(wrong.to_string().contains("wrong passphrase"), "{wrong}");
        let none = load_key_with(dir.path(), "bob", &|_: &str| Ok(None)).unwrap_err();
        assert!(none.to_string().contains(PASSPHRASE_ENV), "{none}");
    }

    #[test]
    fn other_algorithms_and_garbage_are_refused() {
        assert!(PublicKeyLine::parse("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC").is_err());
        assert!(PublicKeyLine::parse("hello").is_err());
    }
}
