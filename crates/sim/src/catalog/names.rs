//! Naming rules, as Vers checks them: tags and repositories are 1–64 letters, digits, `-`, `_`
//! or `.` (repository tags up to 128); environment variables are shell identifiers.

use crate::error::RefError;

/// Longest legacy tag or repository name.
const MAX_NAME: usize = 64;
/// Longest repository tag name.
const MAX_REPO_TAG: usize = 128;
/// Longest environment variable name and value.
const MAX_ENV_NAME: usize = 256;
const MAX_ENV_VALUE: usize = 8192;

/// Checks a legacy tag name.
pub(crate) fn tag(name: &str) -> Result<(), RefError> {
    simple(
        "tag",
        name,
        MAX_NAME,
        "use 1-64 letters, digits, '-', '_' or '.'",
    )
}

/// Checks a repository tag name.
pub(crate) fn repo_tag(name: &str) -> Result<(), RefError> {
    simple(
        "tag",
        name,
        MAX_REPO_TAG,
        "use 1-128 letters, digits, '-', '_' or '.'",
    )
}

/// Checks a repository name.
pub(crate) fn repo(name: &str) -> Result<(), RefError> {
    simple(
        "repository",
        name,
        MAX_NAME,
        "use 1-64 letters, digits, '-', '_' or '.'",
    )
}

fn simple(what: &'static str, name: &str, max: usize, rule: &'static str) -> Result<(), RefError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if (1..=max).contains(&name.len()) && name.chars().all(allowed) && name != "." && name != ".." {
        return Ok(());
    }
    Err(RefError::BadName {
        what,
        name: name.to_owned(),
        rule,
    })
}

/// Checks an environment variable (Vers: `^[A-Za-z_][A-Za-z0-9_]*$`, ≤ 256; values ≤ 8192).
/// Values are written one per line to `/etc/environment`, so a newline or NUL is refused.
pub(crate) fn env_var(name: &str, value: &str) -> Result<(), RefError> {
    let bad = |reason: String| Err(RefError::BadEnvVar { reason });
    let mut chars = name.chars();
    let head = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !head || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return bad(format!(
            "key {name:?} is not a valid shell identifier (letters, digits and '_', not starting with a digit)"
        ));
    }
    if name.len() > MAX_ENV_NAME {
        return bad(format!("key {name:?} exceeds {MAX_ENV_NAME} characters"));
    }
    if value.chars().count() > MAX_ENV_VALUE {
        return bad(format!(
            "value for key {name:?} exceeds {MAX_ENV_VALUE} characters"
        ));
    }
    if value.contains(['\n', '\r', '\0']) {
        return bad(format!(
            "value for key {name:?} holds a line break or NUL; /etc/environment takes one line per variable"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rules() {
        assert!(tag("v1.0_rc-2").is_ok());
        for bad in ["", "a/b", "sp ace", "é", "..", &"x".repeat(65)] {
            assert!(tag(bad).is_err(), "{bad:?}");
        }
        assert!(repo_tag(&"x".repeat(128)).is_ok());
        assert!(repo("my-repo").is_ok());
        assert!(repo("a:b").is_err());
    }

    #[test]
    fn env_vars_are_shell_identifiers_with_one_line_values() {
        assert!(env_var("_A1", "x=y").is_ok());
        for name in ["1A", "A-B", "", "A.B", "café"] {
            assert!(env_var(name, "v").is_err(), "{name:?}");
        }
        assert!(env_var("A", "line\nbreak").is_err());
        assert!(env_var("A", &"v".repeat(8193)).is_err());
        assert!(env_var(&"A".repeat(257), "v").is_err());
    }
}
