//! The bytes of a check's request, rendered once when the check is built: every round
//! writes the same buffer.

use url::{Position, Url};

/// Sent unless the check's headers name their own.
pub const USER_AGENT: &str = concat!("anycast-warden/", env!("CARGO_PKG_VERSION"));

/// A rendered request and what reading its response needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    /// HEAD: the response has no body, whatever its headers say.
    pub head_request: bool,
    /// The check's own headers ask for `Connection: close`.
    pub close: bool,
}

/// Renders `method url` with `headers` (which replace the defaults of the same name) and
/// `body`. The Host header is the URL's host, and its port unless it is 80: with `host`
/// set, the caller has already put that name in the URL.
pub fn render(
    method: &str,
    url: &Url,
    headers: &[(String, String)],
    body: Option<&str>,
) -> Result<Rendered, String> {
    if method.is_empty() || !method.bytes().all(is_token) {
        return Err(format!("\"{method}\" is not an HTTP method"));
    }
    for (name, value) in headers {
        if name.is_empty() || !name.bytes().all(is_token) {
            return Err(format!("\"{name}\" is not an HTTP header name"));
        }
        if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(format!("the value of header {name} is not valid in HTTP"));
        }
    }
    let given = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    let host = url.host_str().ok_or_else(|| format!("{url} has no host"))?;
    // Path and query; never the fragment, which is the client's.
    let target = &url[Position::BeforePath..Position::AfterQuery];
    let target = if target.is_empty() { "/" } else { target };

    let mut out = Vec::with_capacity(128);
    let mut line = |name: &str, value: &str| {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    };
    if !given("host") {
        match url.port() {
            Some(port) => line("Host", &format!("{host}:{port}")),
            None => line("Host", host),
        }
    }
    for (name, value) in headers {
        line(name, value);
    }
    if !given("user-agent") {
        line("User-Agent", USER_AGENT);
    }
    if !given("accept") {
        line("Accept", "*/*");
    }
    match body {
        Some(b) => line("Content-Length", &b.len().to_string()),
        // Methods that carry content say it is empty (RFC 9110 section 8.6).
        None if matches!(method, "POST" | "PUT" | "PATCH") => line("Content-Length", "0"),
        None => {}
    }
    if !given("connection") {
        line("Connection", "keep-alive");
    }
    let close = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("connection")
            && v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close"))
    });
    let mut bytes = Vec::with_capacity(out.len() + 64 + body.map_or(0, str::len));
    bytes.extend_from_slice(method.as_bytes());
    bytes.push(b' ');
    bytes.extend_from_slice(target.as_bytes());
    bytes.extend_from_slice(b" HTTP/1.1\r\n");
    bytes.extend_from_slice(&out);
    bytes.extend_from_slice(b"\r\n");
    if let Some(b) = body {
        bytes.extend_from_slice(b.as_bytes());
    }
    Ok(Rendered {
        bytes,
        head_request: method == "HEAD",
        close,
    })
}

/// A byte of an HTTP token (RFC 9110 section 5.6.2).
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> String {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let r = render(method, &Url::parse(url).unwrap(), &headers, body).unwrap();
        String::from_utf8(r.bytes).unwrap()
    }

    #[test]
    fn a_plain_get() {
        assert_eq!(
            text("GET", "http://127.0.0.1:8080/health?full=1#frag", &[], None),
            format!(
                "GET /health?full=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n"
            )
        );
    }

    #[test]
    fn host_header_forms() {
        // The default port is left out, as every client does.
        assert!(text("GET", "http://127.0.0.1/", &[], None).contains("\r\nHost: 127.0.0.1\r\n"));
        assert!(text("GET", "http://[::1]:81/", &[], None).contains("\r\nHost: [::1]:81\r\n"));
        assert!(
            text("GET", "http://www.example.com:81", &[], None)
                .starts_with("GET / HTTP/1.1\r\nHost: www.example.com:81\r\n")
        );
        // A Host header of the check's own replaces it.
        let t = text(
            "GET",
            "http://127.0.0.1:81/",
            &[("host", "svc.example.com")],
            None,
        );
        assert!(t.contains("\r\nhost: svc.example.com\r\n"), "{t}");
        assert!(!t.contains("Host: 127"), "{t}");
    }

    #[test]
    fn headers_replace_defaults() {
        let t = text(
            "GET",
            "http://127.0.0.1/",
            &[
                ("user-agent", "probe"),
                ("Accept", "text/plain"),
                ("X-Check", "1"),
            ],
            None,
        );
        assert!(t.contains("\r\nuser-agent: probe\r\n"), "{t}");
        assert!(t.contains("\r\nAccept: text/plain\r\n"), "{t}");
        assert!(t.contains("\r\nX-Check: 1\r\n"), "{t}");
        assert!(!t.contains("anycast-warden/"), "{t}");
        assert!(!t.contains("*/*"), "{t}");
    }

    #[test]
    fn bodies_have_a_length() {
        let t = text("POST", "http://127.0.0.1/echo", &[], Some("hello"));
        assert!(
            t.ends_with("\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello"),
            "{t}"
        );
        let t = text("POST", "http://127.0.0.1/echo", &[], None);
        assert!(t.contains("\r\nContent-Length: 0\r\n"), "{t}");
        let t = text("GET", "http://127.0.0.1/", &[], Some(""));
        assert!(t.contains("\r\nContent-Length: 0\r\n"), "{t}");
        let t = text("DELETE", "http://127.0.0.1/", &[], None);
        assert!(!t.contains("Content-Length"), "{t}");
    }

    #[test]
    fn connection_close_and_head() {
        let headers = vec![("Connection".to_string(), "Close".to_string())];
        let url = Url::parse("http://127.0.0.1/").unwrap();
        let r = render("HEAD", &url, &headers, None).unwrap();
        assert!(r.close && r.head_request);
        let t = String::from_utf8(r.bytes).unwrap();
        assert!(t.starts_with("HEAD / HTTP/1.1\r\n"), "{t}");
        assert!(
            t.contains("\r\nConnection: Close\r\n") && !t.contains("keep-alive"),
            "{t}"
        );
        let r = render("GET", &url, &[], None).unwrap();
        assert!(!r.close && !r.head_request);
    }

    #[test]
    fn nothing_can_break_the_request_apart() {
        let url = Url::parse("http://127.0.0.1/").unwrap();
        let bad =
            |k: &str, v: &str| render("GET", &url, &[(k.into(), v.into())], None).unwrap_err();
        assert_eq!(
            bad("X", "a\r\nEvil: 1"),
            "the value of header X is not valid in HTTP"
        );
        assert_eq!(
            bad("X", "a\nb"),
            "the value of header X is not valid in HTTP"
        );
        assert_eq!(bad("X: y", "a"), "\"X: y\" is not an HTTP header name");
        assert_eq!(bad("", "a"), "\"\" is not an HTTP header name");
        assert!(render("GET /x", &url, &[], None).is_err());
        assert!(render("", &url, &[], None).is_err());
        // Tabs are allowed in values, as in HTTP.
        assert!(render("GET", &url, &[("X".into(), "a\tb".into())], None).is_ok());
        // The URL's own bytes are already percent-encoded by the url crate.
        let t = text("GET", "http://127.0.0.1/a b\r\nc", &[], None);
        assert!(t.starts_with("GET /a%20bc HTTP/1.1\r\n"), "{t}");
    }
}
