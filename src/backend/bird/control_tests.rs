//! Tests of `control`.
use super::*;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;

fn argv(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// A fake BIRD that sends `greeting`, reads one command and answers `answer`.
async fn fake_bird(greeting: &'static str, answer: &'static str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("bird.ctl");
    let listener = UnixListener::bind(&sock).unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (r, mut w) = stream.into_split();
        w.write_all(greeting.as_bytes()).await.unwrap();
        let mut line = String::new();
        BufReader::new(r).read_line(&mut line).await.unwrap();
        assert_eq!(line, "configure\n");
        w.write_all(answer.as_bytes()).await.unwrap();
        // Keep the connection open a moment, as BIRD does.
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    (dir, sock)
}

const T: Duration = Duration::from_secs(2);

#[tokio::test]
async fn accepted_configure_is_followed_by_one_nudge_per_feed_step() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("bird.ctl");
    let listener = UnixListener::bind(&sock).unwrap();
    let seen = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);
        w.write_all(b"0001 BIRD 2.0.12 ready.\n").await.unwrap();
        let mut commands = Vec::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).await.unwrap() == 0 {
                break;
            }
            let answer: &[u8] = match line.trim() {
                "configure" => b"0003 Reconfigured\n",
                "show route count" => b"1007-3 of 3 routes for 3 networks in table master4\n 1000 of 1000 routes for 1000 networks in table master6\n0014 Total: 1003 of 1003 routes for 1003 networks in 2 tables\n",
                _ => b"0013 Daemon is up and running\n",
            };
            commands.push(line.trim().to_string());
            w.write_all(answer).await.unwrap();
        }
        commands
    });
    assert_eq!(
        configure_socket(&sock, T, true).await.unwrap(),
        Accepted::Reconfigured
    );
    let commands = seen.await.unwrap();
    // 1,000 routes in the larger table: 1000 / 256 + 1 = 4 feed steps.
    assert_eq!(commands[..2], ["configure", "show route count"]);
    assert_eq!(commands[2..], ["show status"; 4]);
}

#[tokio::test]
async fn socket_success_codes() {
    for (answer, want) in [
        (
            "0002-Reading configuration from /etc/bird.conf\n0003 Reconfigured\n",
            Accepted::Reconfigured,
        ),
        ("0004 Reconfiguration in progress\n", Accepted::InProgress),
        (
            "+async\n0005 Reconfiguration already in progress, queueing new config\n",
            Accepted::Queued,
        ),
    ] {
        let (_d, sock) = fake_bird("0001 BIRD 2.0.12 ready.\n", answer).await;
        assert_eq!(configure_socket(&sock, T, false).await.unwrap(), want);
    }
}

#[tokio::test]
async fn socket_refusal_carries_birds_text() {
    let (_d, sock) = fake_bird(
        "0001 BIRD 2.0.12 ready.\n",
        "0002-Reading configuration from /etc/bird.conf\n8002 /etc/bird.conf:12:3 syntax error\n",
    )
    .await;
    let err = configure_socket(&sock, T, false).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "BIRD's control socket {}: BIRD rejected the configuration (8002): /etc/bird.conf:12:3 syntax error",
            sock.display()
        )
    );
}

#[tokio::test]
async fn socket_bad_greeting() {
    let (_d, sock) = fake_bird("hello\n", "").await;
    let err = configure_socket(&sock, T, false).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("not BIRD's reply format: \"hello\""),
        "{err}"
    );
}

#[tokio::test]
async fn socket_silent_peer_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("bird.ctl");
    let _listener = UnixListener::bind(&sock).unwrap();
    // Connect succeeds (backlog), but nothing is ever said.
    let start = std::time::Instant::now();
    let err = configure_socket(&sock, Duration::from_millis(200), false)
        .await
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(
        err.to_string()
            .ends_with("reading the greeting timed out after 200ms"),
        "{err}"
    );
}

#[tokio::test]
async fn socket_closed_mid_reply() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("bird.ctl");
    let listener = UnixListener::bind(&sock).unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(b"0001 BIRD 2.0.12 ready.\n0002-Reading")
            .await
            .unwrap();
    });
    // The greeting arrives; the connection then closes before the configure reply.
    let err = configure_socket(&sock, T, false).await.unwrap_err();
    assert!(
        matches!(
            err,
            ReconfigureError::Protocol { .. } | ReconfigureError::Io { .. }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn socket_missing() {
    let err = configure_socket(Path::new("/nonexistent/bird.ctl"), T, false)
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "cannot connect to BIRD's control socket /nonexistent/bird.ctl (is BIRD running?)"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn read_reply_limits() {
    let long = vec![b'x'; MAX_LINE as usize + 10];
    let mut r = BufReader::new(&long[..]);
    let got = read_reply(&mut r).await.unwrap().unwrap_err();
    assert!(got.contains("longer than"), "{got}");
    let many = "0002-x\n".repeat(MAX_REPLY_LINES + 1);
    let mut r = BufReader::new(many.as_bytes());
    let got = read_reply(&mut r).await.unwrap().unwrap_err();
    assert!(got.contains("lines"), "{got}");
    let mut r = BufReader::new(&b""[..]);
    let got = read_reply(&mut r).await.unwrap().unwrap_err();
    assert_eq!(got, "BIRD closed the connection without a reply");
}

#[tokio::test]
async fn command_success_and_refusal() {
    let ok = argv(&[
        "sh",
        "-c",
        "printf 'BIRD 1.6.8 ready.\\nReading configuration from b.conf\\nReconfigured\\n'",
    ]);
    assert_eq!(
        configure_command(&ok, T).await.unwrap(),
        Accepted::Reconfigured
    );
    // BIRD 1.6's birdc: error text, exit 0.
    let bad = argv(&[
        "sh",
        "-c",
        "printf 'BIRD 1.6.8 ready.\\nReading configuration from b.conf\\n/x.conf:1:29 syntax error\\n'",
    ]);
    let err = configure_command(&bad, T).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "`sh -c printf 'BIRD 1.6.8 ready.\\nReading configuration from b.conf\\n/x.conf:1:29 syntax error\\n'` failed (exit status: 0): /x.conf:1:29 syntax error"
    );
    let fail = argv(&[
        "sh",
        "-c",
        "echo 'Unable to connect to server control socket (/x.ctl): No such file or directory' >&2; exit 1",
    ]);
    let err = configure_command(&fail, T).await.unwrap_err();
    assert!(err.to_string().contains("exit status: 1"), "{err}");
    assert!(
        err.to_string()
            .contains("Unable to connect to server control socket (/x.ctl)"),
        "{err}"
    );
}

#[tokio::test]
async fn command_missing_or_empty() {
    let err = configure_command(&argv(&["/nonexistent/birdc", "configure"]), T)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot run `/nonexistent/birdc configure`"),
        "{err}"
    );
    assert!(matches!(
        configure_command(&[], T).await,
        Err(ReconfigureError::EmptyCommand)
    ));
}

#[tokio::test]
async fn command_timeout_kills_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    // A grandchild that keeps the pipes open would hang a naive reader.
    let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
    let start = std::time::Instant::now();
    let err = configure_command(&argv(&["sh", "-c", &script]), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(
        matches!(err, ReconfigureError::CommandTimeout { .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .ends_with("did not finish within 300ms; killed it"),
        "{err}"
    );
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The grandchild is gone (or a zombie about to be reaped by init).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z "),
        "grandchild still alive: {stat}"
    );
}

#[tokio::test]
async fn command_output_is_bounded() {
    let big = argv(&["sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' x; echo"]);
    // A megabyte of output neither blocks the child nor is kept whole; not birdc's
    // text, so the exit status (0) decides.
    assert_eq!(
        configure_command(&big, T).await.unwrap(),
        Accepted::Reconfigured
    );
}
