//! Services registered at run time (`anycast-warden register`, gocast's use case): each
//! is written as a one-service file in `state_dir/registered/NAME.toml`, in exactly the
//! form of a conf.d file, so it is validated by the same code as the configuration, is
//! loaded again at every start and reload, and can be read (or removed) by hand.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::REGISTERED_DIR;

/// What `register` asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    pub name: String,
    pub prefixes: Vec<String>,
    /// `KIND:ARGS`: `tcp:127.0.0.1:53`, `exec:/usr/bin/dig +short @127.0.0.1 example.net`
    /// (split at spaces, no shell), `shell:LINE` (an exec check through /bin/sh -c),
    /// gocast's `port:tcp:PORT` (a TCP connection to 127.0.0.1:PORT), or for any other
    /// kind its keys as `KIND:key=value,key=value` (`http:url=http://127.0.0.1/health`).
    pub checks: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rise: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fall: Option<u32>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RegistrationError {
    #[error(
        "check \"{0}\" is not KIND:ARGS (tcp:HOST:PORT, exec:PROGRAM ARGS..., shell:LINE, port:tcp:PORT, KIND:key=value,...)"
    )]
    CheckForm(String),
    #[error("a service needs at least one --check")]
    NoCheck,
    #[error("\"{0}\" cannot be a file name; use letters, digits, '.', '_', '-'")]
    Name(String),
}

#[derive(Serialize)]
struct File {
    service: Vec<Service>,
}

#[derive(Serialize)]
struct Service {
    name: String,
    prefixes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rise: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fall: Option<u32>,
    check: Vec<toml::Table>,
}

/// The registered service's file.
pub fn path(state_dir: &Path, name: &str) -> Result<PathBuf, RegistrationError> {
    // The name becomes a file name: refuse what could leave the directory. Validation
    // proper (length, characters) happens with the rest of the service.
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        return Err(RegistrationError::Name(name.to_string()));
    }
    Ok(state_dir.join(REGISTERED_DIR).join(format!("{name}.toml")))
}

fn check_table(spec: &str) -> Result<toml::Table, RegistrationError> {
    let (kind, args) = spec
        .split_once(':')
        .filter(|(_, args)| !args.trim().is_empty())
        .ok_or_else(|| RegistrationError::CheckForm(spec.to_string()))?;
    let mut t = toml::Table::new();
    match kind {
        "tcp" => {
            t.insert("kind".into(), "tcp".into());
            t.insert("target".into(), args.trim().into());
        }
        "exec" => {
            let argv: Vec<toml::Value> = args.split_whitespace().map(Into::into).collect();
            t.insert("kind".into(), "exec".into());
            t.insert("command".into(), toml::Value::Array(argv));
        }
        "shell" => {
            t.insert("kind".into(), "exec".into());
            t.insert("shell".into(), true.into());
            t.insert("command".into(), args.into());
        }
        "port" => {
            // gocast's port monitor: a local TCP port that must accept connections.
            let port = args
                .strip_prefix("tcp:")
                .filter(|p| p.parse::<u16>().is_ok())
                .ok_or_else(|| RegistrationError::CheckForm(spec.to_string()))?;
            t.insert("kind".into(), "tcp".into());
            t.insert("target".into(), format!("127.0.0.1:{port}").into());
        }
        other => {
            // Any other kind: its keys, checked by the configuration's own validation.
            t.insert("kind".into(), other.into());
            for pair in args.split(',') {
                let (key, value) = pair
                    .split_once('=')
                    .filter(|(k, _)| !k.trim().is_empty())
                    .ok_or_else(|| RegistrationError::CheckForm(spec.to_string()))?;
                t.insert(key.trim().to_string(), typed(value.trim()));
            }
        }
    }
    Ok(t)
}

/// A number or a switch when it reads as one (`count=3`, `insecure=true`), else text.
fn typed(value: &str) -> toml::Value {
    if let Ok(n) = value.parse::<i64>() {
        n.into()
    } else if let Ok(b) = value.parse::<bool>() {
        b.into()
    } else {
        value.into()
    }
}

/// The text of the registered service's file.
pub fn file_text(r: &Registration) -> Result<String, RegistrationError> {
    if r.checks.is_empty() {
        return Err(RegistrationError::NoCheck);
    }
    let check = r
        .checks
        .iter()
        .map(|c| check_table(c))
        .collect::<Result<Vec<_>, _>>()?;
    let file = File {
        service: vec![Service {
            name: r.name.clone(),
            prefixes: r.prefixes.clone(),
            interval: r.interval.clone(),
            rise: r.rise,
            fall: r.fall,
            check,
        }],
    };
    let body = toml::to_string(&file).unwrap_or_default();
    Ok(format!(
        "# Registered with `anycast-warden register`; `anycast-warden deregister {}` removes it.\n{body}",
        r.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CheckSpec;

    fn registration(checks: &[&str]) -> Registration {
        Registration {
            name: "web".into(),
            prefixes: vec!["203.0.113.80/32".into()],
            checks: checks.iter().map(|c| c.to_string()).collect(),
            interval: Some("5s".into()),
            rise: None,
            fall: Some(3),
        }
    }

    #[test]
    fn the_file_is_a_valid_service_file() {
        let text = file_text(&registration(&[
            "tcp:127.0.0.1:80",
            "exec:/usr/bin/curl -fs http://127.0.0.1/health",
            "shell:test -e /run/web.ok && echo \"ok\"",
        ]))
        .unwrap();
        let main = "[daemon]\nstate_dir = \"/tmp/x\"\n";
        let config = crate::config::load_str(Path::new("main.toml"), &format!("{main}{text}"))
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        let s = &config.services[0];
        assert_eq!(s.name, "web");
        assert_eq!(s.fall, 3);
        assert_eq!(s.interval, std::time::Duration::from_secs(5));
        assert_eq!(s.checks.len(), 3);
        assert!(matches!(&s.checks[0].spec, CheckSpec::Tcp(t) if t.target == "127.0.0.1:80"));
        match &s.checks[2].spec {
            CheckSpec::Exec(e) => {
                assert!(e.shell);
                assert_eq!(
                    e.command.to_string(),
                    "sh -c 'test -e /run/web.ok && echo \"ok\"'"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_kinds_take_their_keys_and_gocast_ports_become_tcp() {
        let text = file_text(&registration(&[
            "http:url=http://127.0.0.1:8080/health,status=200",
            "port:tcp:5000",
        ]))
        .unwrap();
        assert!(text.contains("kind = \"http\""), "{text}");
        assert!(
            text.contains("url = \"http://127.0.0.1:8080/health\""),
            "{text}"
        );
        assert!(text.contains("status = 200"), "{text}");
        assert!(text.contains("target = \"127.0.0.1:5000\""), "{text}");
        let main = "[daemon]\nstate_dir = \"/tmp/x\"\n";
        let config = crate::config::load_str(Path::new("main.toml"), &format!("{main}{text}"))
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(config.services[0].checks.len(), 2);
        // Keys that do not belong to the kind are refused by the configuration's rules.
        let text = file_text(&registration(&["http:target=127.0.0.1:80"])).unwrap();
        let e = crate::config::load_str(Path::new("main.toml"), &format!("{main}{text}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("target"), "{e}");
    }

    #[test]
    fn bad_checks_and_names_are_refused() {
        assert_eq!(
            file_text(&registration(&["port:udp:5000"])),
            Err(RegistrationError::CheckForm("port:udp:5000".into()))
        );
        assert_eq!(
            file_text(&registration(&["http:url"])),
            Err(RegistrationError::CheckForm("http:url".into()))
        );
        assert_eq!(
            file_text(&registration(&["tcp"])),
            Err(RegistrationError::CheckForm("tcp".into()))
        );
        assert_eq!(
            file_text(&registration(&[])),
            Err(RegistrationError::NoCheck)
        );
        assert!(path(Path::new("/s"), "../etc/passwd").is_err());
        assert!(path(Path::new("/s"), ".hidden").is_err());
        assert_eq!(
            path(Path::new("/s"), "web-1").unwrap(),
            Path::new("/s/registered/web-1.toml")
        );
    }
}
