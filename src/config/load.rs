//! Reading the main file and the conf.d directory from disk.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::error::{ConfigError, ConfigErrors, SourceText};
use super::model::Config;
use super::raw::{RawMainFile, RawServiceFile};
use super::validate::validate;

pub const DEFAULT_CONFIG_FILE: &str = "/etc/anycast-warden/config.toml";
pub const DEFAULT_CONFIG_DIR: &str = "/etc/anycast-warden/conf.d";

/// Where the configuration lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigPaths {
    pub file: PathBuf,
    pub dir: PathBuf,
    /// The directory was named by the user, so it must exist; the default one may not.
    pub dir_required: bool,
}

/// Where services registered at run time (`anycast-warden register`) are kept: one file
/// per service, in the same form as a conf.d file, read after the conf.d directory.
pub const REGISTERED_DIR: &str = "registered";

/// Reads, parses and validates everything; every problem found is returned together.
pub fn load(paths: &ConfigPaths) -> Result<Config, ConfigErrors> {
    load_with(paths, None)
}

/// Like [`load`], with `candidate` (a registered service's file, as path and text) in
/// place of the file at that path: how a registration is validated before it is written.
/// `None` as text leaves that file out (a deregistration).
pub fn load_with(
    paths: &ConfigPaths,
    candidate: Option<(&Path, Option<&str>)>,
) -> Result<Config, ConfigErrors> {
    let main_src = read(&paths.file).map_err(|e| ConfigErrors(vec![e]))?;
    let mut errors = Vec::new();
    let main: Option<RawMainFile> = parse(&main_src).map_err(|e| errors.push(e)).ok();
    let mut service_files = Vec::new();
    let mut sources: Vec<Result<SourceText, ConfigError>> = service_file_paths(paths, &mut errors)
        .iter()
        .map(|p| read(p))
        .collect();
    if let Some(main) = &main {
        let dir = registered_dir(main);
        let registered = ConfigPaths {
            file: paths.file.clone(),
            dir: dir.clone(),
            dir_required: false,
        };
        for path in service_file_paths(&registered, &mut errors) {
            if candidate.is_some_and(|(c, _)| c == path) {
                continue;
            }
            sources.push(read(&path));
        }
        if let Some((path, Some(text))) = candidate {
            sources.push(Ok(SourceText::new(path, text)));
        }
    }
    for source in sources {
        match source {
            Ok(src) => match parse::<RawServiceFile>(&src) {
                Ok(raw) => service_files.push((src, raw)),
                Err(e) => errors.push(conf_d_hint(e)),
            },
            Err(e) => errors.push(e),
        }
    }
    let Some(main) = main else {
        return Err(ConfigErrors(errors));
    };
    match validate(&main_src, main, service_files) {
        Ok(config) if errors.is_empty() => Ok(config),
        Ok(_) => Err(ConfigErrors(errors)),
        Err(ConfigErrors(more)) => {
            errors.extend(more);
            Err(ConfigErrors(errors))
        }
    }
}

/// Parses TOML text (not from disk), for tests and tools.
pub fn load_str(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
    let src = SourceText::new(path, text);
    let main = parse::<RawMainFile>(&src).map_err(|e| ConfigErrors(vec![e]))?;
    validate(&src, main, Vec::new())
}

/// `<state_dir>/registered`, from the main file as written.
fn registered_dir(main: &RawMainFile) -> PathBuf {
    let state_dir = main
        .daemon
        .as_ref()
        .and_then(|d| d.state_dir.as_ref())
        .map_or_else(
            || PathBuf::from(super::validate::DEFAULT_STATE_DIR),
            |s| PathBuf::from(s.get_ref()),
        );
    state_dir.join(REGISTERED_DIR)
}

fn read(path: &Path) -> Result<SourceText, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(SourceText::new(path, text)),
        Err(e) => Err(
            ConfigError::whole_file(path, format!("cannot read: {e}")).with_hint(match e.kind() {
                std::io::ErrorKind::NotFound => {
                    "create it, or name another file with --config FILE or ANYCAST_WARDEN_CONFIG"
                }
                std::io::ErrorKind::PermissionDenied => {
                    "make it readable by the user the daemon runs as"
                }
                _ => "check that it is a readable UTF-8 text file",
            }),
        ),
    }
}

fn parse<T: DeserializeOwned>(src: &SourceText) -> Result<T, ConfigError> {
    toml::from_str::<T>(&src.text).map_err(|e| {
        let mut message = e.message().trim().replace('\n', " ");
        let unknown = unknown_field(&message);
        if let Some(u) = &unknown
            && u.in_check
        {
            // A check table accepts every kind's keys; listing all of them does not help.
            message = format!("unknown field `{}` in a check", u.key);
        }
        let mut err = match e.span() {
            Some(span) => src.error(span, message.clone()),
            None => ConfigError::whole_file(&src.path, message.clone()),
        };
        if let Some(u) = unknown {
            let hint = match (&u.closest, u.in_check) {
                (Some(near), _) => format!("did you mean `{near}`?"),
                (None, true) => "see the keys of each check kind in docs/configuration.md".to_string(),
                (None, false) => "check the spelling; the keys allowed here are listed above".to_string(),
            };
            err = err.with_hint(hint);
        } else if message.contains("invalid type") {
            err = err.with_hint(
                "durations and names are quoted strings (\"10s\"), counts are numbers (rise = 2), switches are true/false",
            );
        }
        err
    })
}

fn conf_d_hint(e: ConfigError) -> ConfigError {
    let section = ["daemon", "defaults", "bird"]
        .iter()
        .any(|key| e.message.starts_with(&format!("unknown field `{key}`")));
    if section {
        e.with_hint("files in the service directory hold only [[service]] tables; [daemon], [defaults] and [bird] go in the main file")
    } else {
        e
    }
}

/// The `*.toml` files of the service directory, in name order.
fn service_file_paths(paths: &ConfigPaths, errors: &mut Vec<ConfigError>) -> Vec<PathBuf> {
    let entries = match std::fs::read_dir(&paths.dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !paths.dir_required => {
            return Vec::new();
        }
        Err(e) => {
            errors.push(
                ConfigError::whole_file(&paths.dir, format!("cannot read service directory: {e}"))
                    .with_hint("create it, or name another one with --config-dir DIR"),
            );
            return Vec::new();
        }
    };
    // The main file may live in the same directory; it is not a service file.
    let main = std::fs::canonicalize(&paths.file).ok();
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "toml") && p.is_file())
        .filter(|p| main.is_none() || std::fs::canonicalize(p).ok() != main)
        .collect();
    files.sort();
    files
}

/// What serde's "unknown field `x`, expected one of `a`, `b`" says.
#[derive(Debug, PartialEq, Eq)]
struct UnknownField {
    key: String,
    /// An allowed key one or two edits away, if there is one.
    closest: Option<String>,
    /// The table is a `[[service.check]]` (its keys include `retry_interval`).
    in_check: bool,
}

fn unknown_field(message: &str) -> Option<UnknownField> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, rest) = rest.split_once('`')?;
    let allowed: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    let closest = allowed
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k.to_string());
    Some(UnknownField {
        key: key.to_string(),
        closest,
        in_check: allowed.contains(&"retry_interval"),
    })
}

/// Levenshtein distance, for "did you mean" hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_get_the_closest_key() {
        let u = unknown_field(
            "unknown field `statuss`, expected one of `kind`, `retry_interval`, `status`",
        )
        .unwrap();
        assert_eq!(u.key, "statuss");
        assert_eq!(u.closest.as_deref(), Some("status"));
        assert!(u.in_check);
        let u = unknown_field("unknown field `zzz`, expected `rise` or `fall`").unwrap();
        assert_eq!(u.closest, None);
        assert!(!u.in_check);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert!(unknown_field("invalid type").is_none());
    }
}
