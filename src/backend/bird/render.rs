//! The include files' text, rendered from the askama templates in `templates/`. Pure.
//!
//! BIRD 2 reads one file that defines both sets; BIRD 1.6 runs `bird` and `bird6`, each
//! reading its own file with one set. BIRD 1.6 rejects `define X = [ ];`, so a BIRD 1.6
//! set always holds its dummy prefix; BIRD 2 accepts the empty set and holds a dummy
//! prefix only when one is configured. BIRD rejects a prefix with host bits set
//! (`203.0.113.53/24`), so such a prefix is refused here, before anything is written.

use std::collections::BTreeSet;
use std::path::PathBuf;

use askama::Template;
use ipnet::IpNet;

use crate::config::validate::{DEFAULT_DUMMY_PREFIX, DEFAULT_DUMMY_PREFIX6};
use crate::config::{BirdSettings, BirdVariant};

/// One `define NAME = [ ... ];`, ready for the templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixSet {
    /// The BIRD constant's name, e.g. `ANYCAST_PREFIXES`.
    pub name: String,
    /// Sorted, without duplicates, dummy prefix included.
    pub prefixes: Vec<String>,
    /// The dummy prefix, if the set holds one (named in a comment).
    pub dummy: Option<String>,
}

impl PrefixSet {
    /// The set `name` holding `prefixes` and `dummy`, sorted.
    pub fn new(
        name: &str,
        prefixes: impl IntoIterator<Item = IpNet>,
        dummy: Option<IpNet>,
    ) -> PrefixSet {
        let all: BTreeSet<IpNet> = prefixes.into_iter().chain(dummy).collect();
        PrefixSet {
            name: name.to_string(),
            prefixes: all.iter().map(IpNet::to_string).collect(),
            dummy: dummy.map(|d| d.to_string()),
        }
    }
}

#[derive(Template)]
#[template(path = "bird2.conf", escape = "none")]
struct Bird2File<'a> {
    v4: &'a PrefixSet,
    v6: &'a PrefixSet,
}

#[derive(Template)]
#[template(path = "bird1.conf", escape = "none")]
struct Bird1File<'a> {
    set: &'a PrefixSet,
    /// `bird` or `bird6`.
    daemon: &'a str,
    /// `IPv4` or `IPv6`.
    family: &'a str,
}

/// The BIRD 2 include file: both sets.
pub fn bird2(v4: &PrefixSet, v6: &PrefixSet) -> Result<String, askama::Error> {
    Bird2File { v4, v6 }.render().map(end_line)
}

/// askama drops a template's final newline; a text file should end with one.
fn end_line(mut text: String) -> String {
    text.push('\n');
    text
}

/// A BIRD 1.6 include file: the one set of `bird` (IPv4) or `bird6` (IPv6).
pub fn bird1(set: &PrefixSet, v6: bool) -> Result<String, askama::Error> {
    let (daemon, family) = if v6 {
        ("bird6", "IPv6")
    } else {
        ("bird", "IPv4")
    };
    Bird1File {
        set,
        daemon,
        family,
    }
    .render()
    .map(end_line)
}

/// Which BIRD daemon reads a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Daemon {
    /// BIRD 2's `bird`, or BIRD 1.6's IPv4 `bird`.
    Bird,
    /// BIRD 1.6's IPv6 `bird6`.
    Bird6,
}

/// One include file to write, and the daemon that must then reconfigure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    pub daemon: Daemon,
    pub path: PathBuf,
    pub text: String,
}

/// Why the desired set cannot be written as BIRD would accept it.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("prefix {prefix} has host bits set, which BIRD rejects; maybe you meant {network}")]
    HostBitsSet { prefix: IpNet, network: IpNet },
    #[error(
        "the {set} set would be empty, which BIRD 1.6 rejects; set {key} in [bird] (e.g. {key} = \"{example}\")"
    )]
    EmptyBird1Set {
        set: String,
        key: &'static str,
        example: &'static str,
    },
    #[error("variant = \"bird1\" needs include_file6 in [bird] (the file bird6 includes)")]
    NoIncludeFile6,
    #[error("cannot render the include file: {0}")]
    Template(#[from] askama::Error),
}

/// Every include file for `desired` (plus the dummy prefixes), per the settings.
pub fn render_files(
    settings: &BirdSettings,
    desired: &BTreeSet<IpNet>,
) -> Result<Vec<RenderedFile>, RenderError> {
    for p in desired {
        let network = p.trunc();
        if network != *p {
            return Err(RenderError::HostBitsSet {
                prefix: *p,
                network,
            });
        }
    }
    let v4 = desired
        .iter()
        .copied()
        .filter(|p| matches!(p, IpNet::V4(_)));
    let v6 = desired
        .iter()
        .copied()
        .filter(|p| matches!(p, IpNet::V6(_)));
    let set4 = PrefixSet::new(&settings.set_name, v4, settings.dummy_prefix.map(IpNet::V4));
    let set6 = PrefixSet::new(
        &settings.set_name6,
        v6,
        settings.dummy_prefix6.map(IpNet::V6),
    );
    match settings.variant {
        BirdVariant::Bird2 => Ok(vec![RenderedFile {
            daemon: Daemon::Bird,
            path: settings.include_file.clone(),
            text: bird2(&set4, &set6)?,
        }]),
        BirdVariant::Bird1 => {
            let path6 = settings
                .include_file6
                .clone()
                .ok_or(RenderError::NoIncludeFile6)?;
            if set4.prefixes.is_empty() {
                return Err(RenderError::EmptyBird1Set {
                    set: set4.name,
                    key: "dummy_prefix",
                    example: DEFAULT_DUMMY_PREFIX,
                });
            }
            if set6.prefixes.is_empty() {
                return Err(RenderError::EmptyBird1Set {
                    set: set6.name,
                    key: "dummy_prefix6",
                    example: DEFAULT_DUMMY_PREFIX6,
                });
            }
            Ok(vec![
                RenderedFile {
                    daemon: Daemon::Bird,
                    path: settings.include_file.clone(),
                    text: bird1(&set4, false)?,
                },
                RenderedFile {
                    daemon: Daemon::Bird6,
                    path: path6,
                    text: bird1(&set6, true)?,
                },
            ])
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Duration;

    pub(crate) fn settings(variant: BirdVariant) -> BirdSettings {
        BirdSettings {
            variant,
            include_file: "/tmp/aw/anycast-prefixes.conf".into(),
            include_file6: (variant == BirdVariant::Bird1)
                .then(|| "/tmp/aw/anycast-prefixes6.conf".into()),
            set_name: "ANYCAST_PREFIXES".into(),
            set_name6: "ANYCAST6_PREFIXES".into(),
            control_socket: None,
            control_socket6: None,
            reconfigure: vec!["birdc".into(), "configure".into()],
            reconfigure6: None,
            reconfigure_timeout: Duration::from_secs(5),
            dummy_prefix: (variant == BirdVariant::Bird1)
                .then(|| "192.0.2.255/32".parse().unwrap()),
            dummy_prefix6: (variant == BirdVariant::Bird1)
                .then(|| DEFAULT_DUMMY_PREFIX6.parse().unwrap()),
            keep_changes: 0,
        }
    }

    pub(crate) fn set(prefixes: &[&str]) -> BTreeSet<IpNet> {
        prefixes.iter().map(|p| p.parse().unwrap()).collect()
    }

    /// Compares with `golden/NAME`; `UPDATE_GOLDEN=1 cargo test` rewrites the files.
    fn golden(name: &str, actual: &str) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/backend/bird/golden")
            .join(name);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, actual).unwrap();
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
        assert_eq!(actual, expected, "golden file {name} differs");
    }

    fn texts(settings: &BirdSettings, desired: &[&str]) -> Vec<String> {
        render_files(settings, &set(desired))
            .unwrap()
            .into_iter()
            .map(|f| f.text)
            .collect()
    }

    const MIXED: &[&str] = &[
        "203.0.113.53/32",
        "2001:db8::53/128",
        "198.51.100.0/24",
        "203.0.113.8/32",
        "2001:db8:1::/48",
    ];

    #[test]
    fn bird2_empty() {
        let t = texts(&settings(BirdVariant::Bird2), &[]);
        assert_eq!(t.len(), 1);
        golden("bird2-empty.conf", &t[0]);
    }

    #[test]
    fn bird2_v4_and_v6_sorted() {
        let t = texts(&settings(BirdVariant::Bird2), MIXED);
        golden("bird2-mixed.conf", &t[0]);
    }

    #[test]
    fn bird2_v4_only_leaves_v6_empty() {
        let t = texts(&settings(BirdVariant::Bird2), &["203.0.113.53/32"]);
        golden("bird2-v4-only.conf", &t[0]);
    }

    #[test]
    fn bird2_v6_only_leaves_v4_empty() {
        let t = texts(&settings(BirdVariant::Bird2), &["2001:db8::53/128"]);
        golden("bird2-v6-only.conf", &t[0]);
    }

    #[test]
    fn bird2_with_dummy_prefixes() {
        let mut s = settings(BirdVariant::Bird2);
        s.dummy_prefix = Some("192.0.2.255/32".parse().unwrap());
        s.dummy_prefix6 = Some(DEFAULT_DUMMY_PREFIX6.parse().unwrap());
        golden("bird2-dummy-empty.conf", &texts(&s, &[])[0]);
        golden("bird2-dummy-mixed.conf", &texts(&s, MIXED)[0]);
    }

    #[test]
    fn bird1_empty_holds_only_dummies() {
        let t = texts(&settings(BirdVariant::Bird1), &[]);
        assert_eq!(t.len(), 2);
        golden("bird1-empty-v4.conf", &t[0]);
        golden("bird1-empty-v6.conf", &t[1]);
    }

    #[test]
    fn bird1_mixed_splits_by_family() {
        let t = texts(&settings(BirdVariant::Bird1), MIXED);
        golden("bird1-mixed-v4.conf", &t[0]);
        golden("bird1-mixed-v6.conf", &t[1]);
    }

    #[test]
    fn bird1_files_go_to_their_paths_and_daemons() {
        let files = render_files(&settings(BirdVariant::Bird1), &set(MIXED)).unwrap();
        assert_eq!(files[0].daemon, Daemon::Bird);
        assert_eq!(files[0].path, Path::new("/tmp/aw/anycast-prefixes.conf"));
        assert_eq!(files[1].daemon, Daemon::Bird6);
        assert_eq!(files[1].path, Path::new("/tmp/aw/anycast-prefixes6.conf"));
    }

    #[test]
    fn bird1_without_dummy_refuses_an_empty_set() {
        let mut s = settings(BirdVariant::Bird1);
        s.dummy_prefix6 = None;
        // A non-empty v6 set is fine without its dummy...
        assert!(render_files(&s, &set(&["2001:db8::53/128"])).is_ok());
        // ...an empty one is not.
        let err = render_files(&s, &set(&["203.0.113.53/32"])).unwrap_err();
        assert!(
            matches!(
                err,
                RenderError::EmptyBird1Set {
                    key: "dummy_prefix6",
                    ..
                }
            ),
            "{err}"
        );
        s.include_file6 = None;
        assert!(matches!(
            render_files(&s, &set(MIXED)),
            Err(RenderError::NoIncludeFile6)
        ));
    }

    #[test]
    fn dummy_equal_to_a_service_prefix_appears_once() {
        let s = settings(BirdVariant::Bird1);
        let t = texts(&s, &["192.0.2.255/32"]);
        assert_eq!(t[0].matches("192.0.2.255/32,").count(), 0);
        assert_eq!(t[0].matches("    192.0.2.255/32").count(), 1);
    }

    #[test]
    fn host_bits_are_refused() {
        let err =
            render_files(&settings(BirdVariant::Bird2), &set(&["203.0.113.53/24"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "prefix 203.0.113.53/24 has host bits set, which BIRD rejects; maybe you meant 203.0.113.0/24"
        );
    }

    #[test]
    fn one_prefix_per_line() {
        let t = texts(&settings(BirdVariant::Bird2), MIXED);
        for p in MIXED {
            assert_eq!(
                t[0].lines().filter(|l| l.contains(p)).count(),
                1,
                "{p} in\n{}",
                t[0]
            );
        }
    }
}
