//! Random credentials and how they are kept: every code, refresh token and generated client
//! secret is 256 random bits shown once and stored only as its SHA-256 digest. A fast hash is
//! enough for values with that much entropy (argon2 is for secrets a person chose), and it
//! keeps client authentication off the slow path (DESIGN.md, performance budget).

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::{aead, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;
use subtle::ConstantTimeEq;

/// A credential in clear text. `Debug` never prints it, so it cannot reach a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// 32 random bytes, base64url: 43 characters, 256 bits of entropy.
    pub fn generate() -> Self {
        Secret(base64url(&random_bytes::<32>()))
    }

    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The stored form: base64url(SHA-256(value)). Lookups go by this digest.
    pub fn digest(&self) -> String {
        token_digest(&self.0)
    }
}

/// Secrets never leave in clear through serialisation (`tollgate print-config`).
impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[redacted]")
    }
}

/// For `serialize_with` on the argon2 hashes of chosen secrets (`password_hash`,
/// `secret_hash`): a hash lets whoever reads it test guesses offline, so it is redacted like
/// the secret itself.
pub fn serialize_redacted<S: serde::Serializer>(
    _: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str("[redacted]")
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// base64url(SHA-256(token)), the stored form of every high-entropy credential.
pub fn token_digest(token: &str) -> String {
    base64url(&sha256(token.as_bytes()))
}

/// Compares a presented credential with a stored digest in constant time.
pub fn digest_matches(presented: &str, stored_digest: &str) -> bool {
    token_digest(presented)
        .as_bytes()
        .ct_eq(stored_digest.as_bytes())
        .into()
}

/// Hashes a secret a person chose (a password, a client secret from a configuration file)
/// with argon2id and its recommended parameters; returns the PHC string. Slow on purpose
/// (milliseconds): call it off the async workers.
pub fn hash_chosen_secret(secret: &str) -> Result<String, String> {
    use argon2::password_hash::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(secret.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| e.to_string())
}

/// Verifies a chosen secret against its argon2 PHC string. Slow on purpose, like hashing.
pub fn verify_chosen_secret(secret: &str, phc: &str) -> bool {
    use argon2::password_hash::PasswordVerifier;
    argon2::Argon2::default()
        .verify_password(secret.as_bytes(), phc)
        .is_ok()
}

/// Whether a stored secret is an argon2 PHC string (a chosen secret) rather than the
/// SHA-256 digest of a generated one.
pub fn is_argon2_hash(stored: &str) -> bool {
    stored.starts_with("$argon2")
}

/// Checks a presented secret against its stored form: generated secrets by SHA-256 in
/// constant time (fast, DESIGN.md), chosen ones by argon2 (see [`with_argon2`]).
pub async fn verify_stored_secret(presented: &str, stored: &str) -> bool {
    if !is_argon2_hash(stored) {
        return digest_matches(presented, stored);
    }
    let (presented, stored) = (presented.to_owned(), stored.to_owned());
    with_argon2(move || verify_chosen_secret(&presented, &stored))
        .await
        .unwrap_or(false)
}

/// How many argon2 computations run at once, at most.
pub const ARGON2_CONCURRENCY: usize = 2;

/// Each argon2 computation holds a 19 MiB memory block (m = 19456 KiB) for milliseconds;
/// without a bound, a burst of password checks holds that much per request (12 concurrent
/// consent POSTs took the process from 13.5 to 209 MB, issue 20). The bound is the
/// process's, like its memory, so it is the one process-wide value here: every server in
/// the process (the test fixture runs several) shares it.
static ARGON2_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(ARGON2_CONCURRENCY);

/// Runs `work` (an argon2 hash or verification) on the blocking pool once one of the
/// [`ARGON2_CONCURRENCY`] slots is free; callers wait their turn without holding a worker.
/// `None` if the work panicked.
pub async fn with_argon2<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    // The semaphore is never closed, so acquiring cannot fail.
    let _slot = ARGON2_SLOTS.acquire().await.ok()?;
    tokio::task::spawn_blocking(work).await.ok()
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

pub fn base64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The system RNG only fails if the OS cannot provide randomness at all, in which case
    // no credential may be issued and stopping is the only safe behaviour.
    #[allow(clippy::expect_used)]
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random number generator failed");
    bytes
}

/// Encrypts `plaintext` (AES-256-GCM) under a key derived from `token`, a high-entropy
/// credential the database keeps only the digest of: whoever reads the database cannot
/// read what is sealed, only whoever presents the token again. `purpose` separates the
/// keys of different uses of one token. Returns base64url(nonce || ciphertext || tag).
pub fn seal_for(token: &str, purpose: &str, plaintext: &[u8]) -> Option<String> {
    let key = sealing_key(token, purpose)?;
    let nonce = random_bytes::<{ aead::NONCE_LEN }>();
    let mut sealed = plaintext.to_vec();
    key.seal_in_place_append_tag(
        aead::Nonce::assume_unique_for_key(nonce),
        aead::Aad::from(purpose.as_bytes()),
        &mut sealed,
    )
    .ok()?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Some(base64url(&out))
}

/// Opens what [`seal_for`] sealed, given the same token and purpose; `None` for any other
/// token, or if the sealed text was changed.
pub fn open_with(token: &str, purpose: &str, sealed: &str) -> Option<Vec<u8>> {
    let key = sealing_key(token, purpose)?;
    let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    if bytes.len() < aead::NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(aead::NONCE_LEN);
    let nonce = aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut in_out = ciphertext.to_vec();
    let plaintext = key
        .open_in_place(nonce, aead::Aad::from(purpose.as_bytes()), &mut in_out)
        .ok()?;
    Some(plaintext.to_vec())
}

/// SHA-256 over the purpose, a zero byte and the token: not the stored digest
/// (SHA-256 of the token alone), so the database holds nothing that opens the seal.
fn sealing_key(token: &str, purpose: &str) -> Option<aead::LessSafeKey> {
    let mut input = Vec::with_capacity(purpose.len() + 1 + token.len());
    input.extend_from_slice(purpose.as_bytes());
    input.push(0);
    input.extend_from_slice(token.as_bytes());
    let key = aead::UnboundKey::new(&aead::AES_256_GCM, &sha256(&input)).ok()?;
    Some(aead::LessSafeKey::new(key))
}

/// A database URL that is safe to print: a password, in the user part or in a `password`
/// query parameter (which sqlx reads too), becomes `***`. A URL without one is returned as
/// given.
pub fn redacted_url(url: &str) -> String {
    const MASK: &str = "***";
    let Ok(mut parsed) = url::Url::parse(url) else {
        // Not a URL the server could use either; still never print what may be a password.
        let start = url.find("://").map_or(0, |i| i + 3);
        return match url.rfind('@') {
            Some(end) if end >= start => format!("{}{MASK}{}", &url[..start], &url[end..]),
            _ => url.to_owned(),
        };
    };
    let is_password = |key: &str| key.eq_ignore_ascii_case("password");
    let in_query = parsed.query_pairs().any(|(key, _)| is_password(&key));
    if parsed.password().is_none() && !in_query {
        return url.to_owned();
    }
    if parsed.password().is_some() && parsed.set_password(Some(MASK)).is_err() {
        return format!("{}://{MASK}", parsed.scheme());
    }
    if in_query {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(key, value)| {
                let value = if is_password(&key) {
                    MASK.to_owned()
                } else {
                    value.into_owned()
                };
                (key.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_unique_and_256_bits() {
        let a = Secret::generate();
        let b = Secret::generate();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 43);
    }

    #[test]
    fn debug_output_is_redacted() {
        let secret = Secret::new("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_two_argon2_computations_run_at_once() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (running, most) = (running.clone(), most.clone());
                tokio::spawn(with_argon2(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    // Real argon2 work, so that the computations would overlap unbounded.
                    let _ = hash_chosen_secret("overlap");
                    running.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let most = most.load(Ordering::SeqCst);
        assert!((1..=ARGON2_CONCURRENCY).contains(&most), "{most} at once");
    }

    #[test]
    fn chosen_secrets_use_argon2() {
        let hash = hash_chosen_secret("correct horse").unwrap();
        assert!(is_argon2_hash(&hash) && hash.starts_with("$argon2id$"));
        assert!(verify_chosen_secret("correct horse", &hash));
        assert!(!verify_chosen_secret("wrong horse", &hash));
    }

    #[test]
    fn digest_matches_only_the_same_value() {
        let secret = Secret::generate();
        let stored = secret.digest();
        assert!(digest_matches(secret.expose(), &stored));
        assert!(!digest_matches("something else", &stored));
    }

    #[test]
    fn only_the_token_opens_what_was_sealed_for_it() {
        let token = Secret::generate();
        let sealed = seal_for(token.expose(), "p", b"the successor").unwrap();
        assert_eq!(
            open_with(token.expose(), "p", &sealed).as_deref(),
            Some(&b"the successor"[..])
        );
        assert_eq!(open_with(Secret::generate().expose(), "p", &sealed), None);
        assert_eq!(open_with(token.expose(), "other purpose", &sealed), None);
        assert_eq!(open_with(&token.digest(), "p", &sealed), None);
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(open_with(token.expose(), "p", &tampered), None);
        assert_eq!(open_with(token.expose(), "p", "!!"), None);
        assert_ne!(
            seal_for(token.expose(), "p", b"x"),
            seal_for(token.expose(), "p", b"x")
        );
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redacted_url("postgres://tollgate:s3cretpw@db:5432/tollgate"),
            "postgres://tollgate:***@db:5432/tollgate"
        );
        assert_eq!(
            redacted_url("postgres://db/tollgate?user=t&password=s3cretpw&sslmode=disable"),
            "postgres://db/tollgate?user=t&password=***&sslmode=disable"
        );
        assert_eq!(
            redacted_url("postgres://t:s3cret@@db/x%zz"),
            "postgres://t:***@db/x%zz"
        );
        assert_eq!(redacted_url("not a url:s3cret@host"), "***@host");
        assert_eq!(redacted_url("not a url"), "not a url");
        for plain in [
            "sqlite://tollgate.db",
            "sqlite::memory:",
            "postgres://postgres@127.0.0.1:5432/test",
        ] {
            assert_eq!(redacted_url(plain), plain);
        }
    }
}
