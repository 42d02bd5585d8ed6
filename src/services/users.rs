//! The users who can approve on the consent page: `dev` and the configured ones. A
//! password given in clear in the configuration is replaced by its argon2 hash as soon as
//! the server starts (in the background, so start-up stays fast); only the hash is kept.

use crate::config::User;
use crate::secret::{Secret, hash_chosen_secret, verify_chosen_secret, with_argon2};
use std::sync::Mutex;

#[derive(Debug)]
pub struct Users {
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    /// The user without password fields; those live in `password`.
    user: User,
    password: Mutex<Password>,
}

#[derive(Debug, Clone)]
enum Password {
    None,
    Clear(Secret),
    Hashed(String),
}

impl Users {
    pub fn new(users: Vec<User>) -> Self {
        let entries = users
            .into_iter()
            .map(|mut user| {
                let password = match (user.password.take(), user.password_hash.take()) {
                    (_, Some(hash)) => Password::Hashed(hash),
                    (Some(clear), None) => Password::Clear(clear),
                    (None, None) => Password::None,
                };
                Entry {
                    user,
                    password: Mutex::new(password),
                }
            })
            .collect();
        Users { entries }
    }

    pub fn get(&self, subject: &str) -> Option<&User> {
        self.entry(subject).map(|e| &e.user)
    }

    pub fn all(&self) -> impl Iterator<Item = &User> {
        self.entries.iter().map(|e| &e.user)
    }

    pub fn needs_password(&self, subject: &str) -> bool {
        self.entry(subject)
            .is_some_and(|e| !matches!(*lock(&e.password), Password::None))
    }

    /// Whether `presented` is the user's password (true for users without one).
    pub async fn verify_password(&self, subject: &str, presented: &str) -> bool {
        let Some(entry) = self.entry(subject) else {
            return false;
        };
        let hash = match self.hash_of(entry).await {
            Some(Ok(hash)) => hash,
            Some(Err(())) => return false,
            None => return true,
        };
        let presented = presented.to_owned();
        with_argon2(move || verify_chosen_secret(&presented, &hash))
            .await
            .unwrap_or(false)
    }

    /// Replaces every password kept in clear by its hash.
    pub async fn hash_clear_passwords(&self) {
        for entry in &self.entries {
            let _ = self.hash_of(entry).await;
        }
    }

    /// The user's password hash, hashing a clear one first; `None` without a password.
    async fn hash_of(&self, entry: &Entry) -> Option<Result<String, ()>> {
        let current = lock(&entry.password).clone();
        match current {
            Password::None => None,
            Password::Hashed(hash) => Some(Ok(hash)),
            Password::Clear(clear) => {
                let hashed = with_argon2(move || hash_chosen_secret(clear.expose()))
                    .await
                    .and_then(Result::ok);
                let Some(hash) = hashed else {
                    tracing::error!(subject = %entry.user.subject, "hashing a password failed");
                    return Some(Err(()));
                };
                *lock(&entry.password) = Password::Hashed(hash.clone());
                Some(Ok(hash))
            }
        }
    }

    fn entry(&self, subject: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.user.subject == subject)
    }
}

fn lock(password: &Mutex<Password>) -> std::sync::MutexGuard<'_, Password> {
    password
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(subject: &str, password: Option<&str>) -> User {
        User {
            password: password.map(Secret::new),
            ..User::named(subject)
        }
    }

    #[tokio::test]
    async fn passwords_are_checked_and_kept_hashed() {
        let users = Users::new(vec![user("dev", None), user("alice", Some("wonderland"))]);
        assert!(!users.needs_password("dev"));
        assert!(users.needs_password("alice"));
        assert!(users.verify_password("dev", "").await);
        assert!(!users.verify_password("alice", "wrong").await);
        assert!(users.verify_password("alice", "wonderland").await);
        assert!(matches!(
            *lock(&users.entry("alice").unwrap().password),
            Password::Hashed(_)
        ));
        assert!(!users.verify_password("nobody", "x").await);
    }
}
