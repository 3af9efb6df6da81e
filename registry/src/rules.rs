//! The rules names, keys and aliases follow, each both as a check and as the ECMA-262 pattern
//! that the API's document states (the server holds requests to the document, so a pattern and
//! its check must accept exactly the same texts; `host`'s contract tests compare them).
//!
//! Letters beyond ASCII are the characters from U+00C0 on (with ª, µ and º), except surrogates
//! and the Unicode spaces, so that the only space a name or key can hold is the ASCII one.

use crate::RegistryError;

/// The longest key of a parameter, metric or tag.
pub const MAX_KEY: usize = 250;
/// The longest parameter or tag value, in characters.
pub const MAX_VALUE: usize = 8000;
/// The longest registered model name, in characters.
pub const MAX_MODEL_NAME: usize = 256;
/// The longest experiment name, in characters.
pub const MAX_EXPERIMENT_NAME: usize = 500;
/// The longest alias.
pub const MAX_ALIAS: usize = 255;

/// The characters beyond ASCII that count as letters, as a regular expression class body.
macro_rules! wide {
    () => {
        r"\u00AA\u00B5\u00BA\u00C0-\u167F\u1681-\u1FFF\u200B-\u2027\u202A-\u202E\u2030-\u205E\u2060-\u2FFF\u3001-\uD7FF\uE000-\uFFFF"
    };
}

/// A parameter, metric or tag key: 1 to 250 letters, digits, spaces and `_ - . / :`, with no
/// `.` or `..` between slashes (keys name files).
pub const KEY_PATTERN: &str = concat!(
    r"^(?!(?:.*/)?\.{1,2}(?:/.*)?$)[A-Za-z0-9 _./:",
    wide!(),
    r"-]{1,250}$"
);

/// A registered model name: 1 to 256 letters, digits, spaces and `_ - .`, not starting or
/// ending with a space (names appear in URLs, so no `/`).
pub const MODEL_NAME_PATTERN: &str =
    concat!(r"^(?! )(?!.* $)[A-Za-z0-9 _.", wide!(), r"-]{1,256}$");

/// An alias: ASCII letters, digits, `_` and `-`; not `latest`, a number or `v` and a number,
/// which would read as version references.
pub const ALIAS_PATTERN: &str =
    r"^(?![0-9]+$)(?![vV][0-9]+$)(?![lL][aA][tT][eE][sS][tT]$)[A-Za-z0-9_-]{1,255}$";

/// An experiment name: 1 to 500 characters, at least one of them neither a space nor a
/// control character.
pub const EXPERIMENT_NAME_PATTERN: &str = r"^(?=[\s\S]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200B\u2028\u2029\u202F\u205F\u3000\uFEFF])[\s\S]{1,500}$";

/// A deployment's name: 1 to 128 ASCII letters, digits, `_` and `-` (it appears in URLs and
/// NATS subjects).
pub const DEPLOYMENT_NAME_PATTERN: &str = "^[A-Za-z0-9_-]{1,128}$";

/// A blob's digest: `sha256:` and 64 lowercase hex digits.
pub const DIGEST_PATTERN: &str = "^sha256:[0-9a-f]{64}$";

/// A plugin version: semantic versioning 2.0 (numbers of at most 19 digits, so that they fit
/// 64 bits).
pub const SEMVER_PATTERN: &str = r"^(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\.(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$";

/// A package owner: a token name of 1 to 64 characters, not all of them spaces.
pub const OWNER_PATTERN: &str = r"^(?=[\s\S]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200B\u2028\u2029\u202F\u205F\u3000\uFEFF])[\s\S]{1,64}$";

/// A stage, in any case.
pub const STAGE_PATTERN: &str = "^([Nn][Oo][Nn][Ee]|[Ss][Tt][Aa][Gg][Ii][Nn][Gg]|[Pp][Rr][Oo][Dd][Uu][Cc][Tt][Ii][Oo][Nn]|[Aa][Rr][Cc][Hh][Ii][Vv][Ee][Dd])$";

/// Whether `c` counts as a letter of a name or key beyond ASCII (see the module's note).
fn wide_letter(c: char) -> bool {
    matches!(c, '\u{AA}' | '\u{B5}' | '\u{BA}')
        || (('\u{C0}'..='\u{FFFF}').contains(&c) && !c.is_whitespace())
}

fn count_within(text: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&text.chars().count())
}

/// Checks a parameter, metric or tag key (`what` names which, for the error).
pub fn check_key(what: &str, key: &str) -> Result<(), RegistryError> {
    let ok = count_within(key, 1, MAX_KEY)
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " _-./:".contains(c) || wide_letter(c))
        && !key.split('/').any(|s| s == ".." || s == ".");
    if ok {
        Ok(())
    } else {
        Err(RegistryError::Invalid(format!(
            "{what} key {:?}: 1 to {MAX_KEY} letters, digits, spaces and _ - . / :, without `.` or `..` between slashes",
            key.chars().take(80).collect::<String>()
        )))
    }
}

/// Checks a parameter or tag value.
pub fn check_value(what: &str, key: &str, value: &str) -> Result<(), RegistryError> {
    let n = value.chars().count();
    if n > MAX_VALUE {
        return Err(RegistryError::Invalid(format!(
            "{what} {key:?}: the value has {n} characters, more than {MAX_VALUE}"
        )));
    }
    Ok(())
}

/// Checks a registered model's name: it appears in URLs, so no `/`.
pub fn check_model_name(name: &str) -> Result<(), RegistryError> {
    let ok = count_within(name, 1, MAX_MODEL_NAME)
        && !name.starts_with(' ')
        && !name.ends_with(' ')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " _-.".contains(c) || wide_letter(c));
    if ok {
        Ok(())
    } else {
        Err(RegistryError::Invalid(format!(
            "model name {:?}: 1 to {MAX_MODEL_NAME} letters, digits, spaces and _ - . (no `/`, no space at either end)",
            name.chars().take(80).collect::<String>()
        )))
    }
}

/// Checks an alias: letters, digits, `_` and `-`; not `latest` and not `v` followed by digits,
/// which would read as version references.
pub fn check_alias(alias: &str) -> Result<(), RegistryError> {
    let version_like = alias
        .strip_prefix(['v', 'V'])
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    let ok = !alias.is_empty()
        && alias.len() <= MAX_ALIAS
        && alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !alias.bytes().all(|b| b.is_ascii_digit())
        && !version_like
        && !alias.eq_ignore_ascii_case("latest");
    if ok {
        Ok(())
    } else {
        Err(RegistryError::Invalid(format!(
            "alias {:?}: letters, digits, _ and -, not `latest`, a number or `v` and a number",
            alias.chars().take(80).collect::<String>()
        )))
    }
}

/// Whether `text` has a character that is neither a space (by any definition the patterns'
/// engines use) nor a control character.
pub fn visible(text: &str) -> bool {
    text.chars().any(|c| {
        !(c <= '\x20'
            || ('\x7F'..='\u{A0}').contains(&c)
            || c.is_whitespace()
            || c == '\u{200B}'
            || c == '\u{FEFF}')
    })
}

/// Checks a package owner's name (its surrounding spaces are dropped).
pub fn check_owner(owner: &str) -> Result<(), RegistryError> {
    if count_within(owner, 1, 64) && visible(owner) {
        Ok(())
    } else {
        Err(RegistryError::Invalid(
            "`owner` must be a token name of 1 to 64 characters".into(),
        ))
    }
}

/// Checks an experiment name (its surrounding spaces are dropped when it is stored).
pub fn check_experiment_name(name: &str) -> Result<(), RegistryError> {
    if count_within(name, 1, MAX_EXPERIMENT_NAME) && visible(name) {
        Ok(())
    } else {
        Err(RegistryError::Invalid(format!(
            "an experiment name must have 1 to {MAX_EXPERIMENT_NAME} characters, not all of them spaces"
        )))
    }
}
