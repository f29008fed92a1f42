//! The TSIG secret file: a single base64 line (as `tsig-keygen`/`keymgr` print the secret),
//! or a BIND key statement, `key "name" { algorithm hmac-sha256; secret "..."; };`, as
//! `tsig-keygen` writes it (Knot reads the same secrets). Pure.

use base64::Engine;

use super::tsig::Algorithm;

/// What a key file says.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyFile {
    /// The key's name, when the file is a BIND key statement.
    pub name: Option<String>,
    pub algorithm: Option<Algorithm>,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFile")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

fn decode(secret: &str) -> Result<Vec<u8>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(secret.trim())
        .map_err(|e| format!("the secret is not base64 ({e})"))?;
    if bytes.is_empty() {
        return Err("the secret is empty".into());
    }
    Ok(bytes)
}

/// Parses a key file's text.
pub fn parse(text: &str) -> Result<KeyFile, String> {
    // Comments as BIND writes them.
    let cleaned: String = text
        .lines()
        .map(|l| {
            let l = l.split("//").next().unwrap_or("");
            l.split('#').next().unwrap_or("")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        return Err("the file is empty".into());
    }
    if !trimmed.starts_with("key") {
        if trimmed.lines().count() != 1 {
            return Err("expected one line holding the base64 secret, or a BIND key statement `key \"name\" { algorithm hmac-sha256; secret \"...\"; };`".into());
        }
        return Ok(KeyFile {
            name: None,
            algorithm: None,
            secret: decode(trimmed)?,
        });
    }
    let rest = trimmed["key".len()..].trim_start();
    let (name, body) = match rest.strip_prefix('"') {
        Some(r) => {
            let end = r.find('"').ok_or("the key name's quote is not closed")?;
            (r[..end].to_string(), r[end + 1..].trim_start())
        }
        None => {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '{')
                .unwrap_or(rest.len());
            (rest[..end].to_string(), rest[end..].trim_start())
        }
    };
    let body = body
        .strip_prefix('{')
        .ok_or("expected `{` after the key name")?;
    let close = body
        .rfind('}')
        .ok_or("the key statement's `{` is not closed")?;
    let mut algorithm = None;
    let mut secret = None;
    for statement in body[..close].split(';') {
        let statement = statement.trim();
        if statement.is_empty() {
            continue;
        }
        let (word, value) = statement
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("`{statement}` has no value"))?;
        let value = value.trim().trim_matches('"');
        match word {
            "algorithm" => {
                algorithm = Some(Algorithm::parse(value).ok_or_else(|| {
                    format!("unsupported algorithm \"{value}\" (use hmac-sha256, hmac-sha384, hmac-sha512 or hmac-sha1)")
                })?);
            }
            "secret" => secret = Some(decode(value)?),
            other => return Err(format!("unknown statement `{other}` in the key")),
        }
    }
    Ok(KeyFile {
        name: Some(name),
        algorithm,
        secret: secret.ok_or("the key statement has no `secret`")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_base64_line() {
        let k = parse("c2VjcmV0\n").unwrap();
        assert_eq!(k.secret, b"secret");
        assert_eq!((k.name, k.algorithm), (None, None));
    }

    #[test]
    fn bind_key_statement_as_tsig_keygen_writes_it() {
        let text = "key \"warden\" {\n\talgorithm hmac-sha512;\n\tsecret \"c2VjcmV0\";\n};\n";
        let k = parse(text).unwrap();
        assert_eq!(k.name.as_deref(), Some("warden"));
        assert_eq!(k.algorithm, Some(Algorithm::HmacSha512));
        assert_eq!(k.secret, b"secret");
        let k = parse("# made by hand\nkey warden. { secret \"c2VjcmV0\"; };").unwrap();
        assert_eq!(k.name.as_deref(), Some("warden."));
        assert_eq!(k.algorithm, None);
    }

    #[test]
    fn bad_files_say_why() {
        assert!(parse("not base64 !").unwrap_err().contains("base64"));
        assert!(parse("").unwrap_err().contains("empty"));
        assert!(parse("a\nb\n").unwrap_err().contains("one line"));
        assert!(
            parse("key \"k\" { algorithm hmac-md5; secret \"c2VjcmV0\"; };")
                .unwrap_err()
                .contains("hmac-md5")
        );
        assert!(
            parse("key \"k\" { algorithm hmac-sha256; };")
                .unwrap_err()
                .contains("no `secret`")
        );
        assert!(parse("key \"k\" algorithm").unwrap_err().contains('{'));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let k = parse("c2VjcmV0").unwrap();
        assert!(!format!("{k:?}").contains("secret\""));
        assert!(!format!("{k:?}").contains("115"));
    }
}
