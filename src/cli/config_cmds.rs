//! `print-config`, `check-config` and `hash-secret`.

use super::{ConfigArgs, Failure, fail};
use crate::config::check::{STOPPED, check_text};
use crate::secret::hash_chosen_secret;
use crate::secret::redacted_url;
use std::io::Read;
use std::path::PathBuf;

pub(super) fn print_config(args: &ConfigArgs) -> Result<(), Failure> {
    let mut config = args.load()?;
    // Secrets and the argon2 hashes of chosen ones serialise as "[redacted]" (see `Secret`
    // and `serialize_redacted`) and the database password is masked, so this is safe to
    // share.
    config.database_url = redacted_url(&config.database_url);
    let text = toml::to_string_pretty(&config).map_err(fail)?;
    print!("{text}");
    Ok(())
}

pub(super) fn check_config(file: Option<PathBuf>, args: &ConfigArgs) -> Result<(), Failure> {
    let Some(path) = file.or_else(|| args.config.clone()) else {
        return Err(fail("name the file to check: tollgate check-config FILE"));
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
    let report = check_text(&text);
    if report.problems.is_empty() {
        println!("{}: ok", path.display());
        return Ok(());
    }
    for problem in &report.problems {
        match problem.line {
            Some(line) => println!("{}:{line}: {}", path.display(), problem.message),
            None => println!("{}: {}", path.display(), problem.message),
        }
    }
    if report.stopped {
        println!("{}: {STOPPED}", path.display());
    }
    let more = if report.stopped { " (or more)" } else { "" };
    Err(Failure {
        code: 1,
        message: format!(
            "{} problem(s){more} in {}",
            report.problems.len(),
            path.display()
        ),
    })
}

pub(super) fn hash_secret() -> Result<(), Failure> {
    let mut secret = String::new();
    std::io::stdin().read_to_string(&mut secret).map_err(fail)?;
    let secret = secret.trim_end_matches(['\r', '\n']);
    if secret.is_empty() {
        return Err(fail(
            "give the secret on standard input, e.g. echo -n 's3cret' | tollgate hash-secret",
        ));
    }
    println!("{}", hash_chosen_secret(secret).map_err(fail)?);
    Ok(())
}
