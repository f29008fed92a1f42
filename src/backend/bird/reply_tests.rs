//! Tests of `reply`.
use super::*;

fn reply_of(text: &str) -> Reply {
    let mut b = ReplyBuilder::default();
    let mut out = None;
    for l in text.lines() {
        if let Some(r) = b.push(parse_line(l).unwrap()) {
            assert!(out.is_none(), "two replies in {text:?}");
            out = Some(r);
        }
    }
    out.expect("no final line")
}

#[test]
fn parses_every_line_form() {
    assert_eq!(
        parse_line("0001 BIRD 2.0.12 ready.").unwrap(),
        Line::Coded {
            code: 1,
            last: true,
            text: "BIRD 2.0.12 ready.".into()
        }
    );
    assert_eq!(
        parse_line("0002-Reading configuration from /etc/bird.conf\r").unwrap(),
        Line::Coded {
            code: 2,
            last: false,
            text: "Reading configuration from /etc/bird.conf".into()
        }
    );
    assert_eq!(
        parse_line(" more text").unwrap(),
        Line::Continuation("more text".into())
    );
    assert_eq!(
        parse_line("     verbose continuation").unwrap(),
        Line::Continuation("verbose continuation".into())
    );
    assert_eq!(
        parse_line("+async message").unwrap(),
        Line::Async("async message".into())
    );
    assert_eq!(
        parse_line("0000 ").unwrap(),
        Line::Coded {
            code: 0,
            last: true,
            text: String::new()
        }
    );
    assert_eq!(
        parse_line("0000").unwrap(),
        Line::Coded {
            code: 0,
            last: true,
            text: String::new()
        }
    );
    assert_eq!(
        parse_line("9001 syntax error, unexpected CF_SYM_UNDEFINED").unwrap(),
        Line::Coded {
            code: 9001,
            last: true,
            text: "syntax error, unexpected CF_SYM_UNDEFINED".into()
        }
    );
}

#[test]
fn rejects_what_is_not_a_protocol_line() {
    for bad in [
        "",
        "Reconfigured",
        "00a1 x",
        "0001x",
        "12 x",
        "0001:x",
        "BIRD 2.0.12 ready.",
    ] {
        assert_eq!(parse_line(bad), Err(BadLine(bad.into())), "{bad:?}");
    }
}

#[test]
fn builder_collects_continuations_and_skips_async() {
    let mut b = ReplyBuilder::default();
    assert_eq!(
        b.push(parse_line("0002-Reading configuration from x").unwrap()),
        None
    );
    assert_eq!(b.push(parse_line("+spontaneous").unwrap()), None);
    assert_eq!(b.push(parse_line(" continued").unwrap()), None);
    let r = b.push(parse_line("0003 Reconfigured").unwrap()).unwrap();
    assert_eq!(
        r.lines,
        vec![
            (2, "Reading configuration from x".into()),
            (2, "continued".into()),
            (3, "Reconfigured".into())
        ]
    );
    assert_eq!(r.code(), 3);
    // The builder starts afresh for the next reply.
    let r = b
        .push(parse_line("0001 BIRD 1.6.8 ready.").unwrap())
        .unwrap();
    assert_eq!(r.lines, vec![(1, "BIRD 1.6.8 ready.".into())]);
}

#[test]
fn success_codes_are_accepted() {
    let cases = [
        (
            "0002-Reading configuration from /etc/bird/bird.conf\n0003 Reconfigured",
            Accepted::Reconfigured,
        ),
        (
            "0002-Reading configuration from /etc/bird/bird.conf\n0004 Reconfiguration in progress",
            Accepted::InProgress,
        ),
        (
            "0002-Reading configuration from /etc/bird/bird.conf\n0005 Reconfiguration already in progress, queueing new config",
            Accepted::Queued,
        ),
    ];
    for (text, want) in cases {
        assert_eq!(judge_configure(&reply_of(text)), Ok(want), "{text}");
    }
}

#[test]
fn configuration_error_carries_birds_text() {
    // Observed from BIRD 2.0.12 and 1.6.8 over the socket.
    let r = reply_of(
        "0002-Reading configuration from bird.conf\n8002 /tmp/bt/inc.conf:1:42 Invalid prefix length 33",
    );
    let err = judge_configure(&r).unwrap_err();
    assert_eq!(err.code, Some(8002));
    assert_eq!(err.text, "/tmp/bt/inc.conf:1:42 Invalid prefix length 33");
    assert_eq!(
        err.to_string(),
        "BIRD rejected the configuration (8002): /tmp/bt/inc.conf:1:42 Invalid prefix length 33"
    );
    let r = reply_of(
        "0002-Reading configuration from /nonexist\n8002 /nonexist: No such file or directory",
    );
    assert_eq!(
        judge_configure(&r).unwrap_err().text,
        "/nonexist: No such file or directory"
    );
}

#[test]
fn other_codes_are_refusals() {
    let cases = [
        (
            "0006 Reconfiguration ignored, shutting down",
            6,
            "BIRD is shutting down and ignored the reconfiguration (0006): Reconfiguration ignored, shutting down",
        ),
        (
            "9001 syntax error, unexpected CF_SYM_UNDEFINED",
            9001,
            "BIRD did not understand the command (9001): syntax error, unexpected CF_SYM_UNDEFINED",
        ),
        (
            "8007 Access denied",
            8007,
            "BIRD refused the command (restricted access) (8007): Access denied",
        ),
        (
            "0016 Access restricted",
            16,
            "BIRD refused the command (restricted access) (0016): Access restricted",
        ),
        (
            "8006 Reload failed",
            8006,
            "BIRD reported a runtime error (8006): Reload failed",
        ),
        (
            "0019 Nothing to do",
            19,
            "BIRD gave an unexpected reply (0019): Nothing to do",
        ),
        (
            "0001 BIRD 2.0.12 ready.",
            1,
            "BIRD gave an unexpected reply (0001): BIRD 2.0.12 ready.",
        ),
    ];
    for (text, code, msg) in cases {
        let err = judge_configure(&reply_of(text)).unwrap_err();
        assert_eq!(err.code, Some(code), "{text}");
        assert_eq!(err.to_string(), msg);
    }
}

#[test]
fn multi_line_error_keeps_every_line() {
    let r = reply_of("0002-Reading configuration from x\n8002-first\n second\n8002 third");
    assert_eq!(
        judge_configure(&r).unwrap_err().text,
        "first; second; third"
    );
}

#[test]
fn plain_birdc_success() {
    // BIRD 2.0.12 and 1.6.8, `birdc configure`, exit 0.
    for (out, want) in [
        (
            "BIRD 2.0.12 ready.\nReading configuration from bird.conf\nReconfigured\n",
            Accepted::Reconfigured,
        ),
        (
            "BIRD 1.6.8 ready.\nReading configuration from b4.conf\nReconfigured\n",
            Accepted::Reconfigured,
        ),
        (
            "BIRD 2.0.12 ready.\nReading configuration from x\nReconfiguration in progress\n",
            Accepted::InProgress,
        ),
        (
            "BIRD 2.0.12 ready.\nReading configuration from x\nReconfiguration already in progress, queueing new config\n",
            Accepted::Queued,
        ),
    ] {
        assert_eq!(judge_birdc_output(true, out, ""), Ok(want), "{out}");
    }
}

#[test]
fn plain_birdc_error_even_with_exit_zero() {
    // BIRD 1.6.8's birdc exits 0 here; BIRD 2.0.12's exits 1.
    let out = "BIRD 1.6.8 ready.\nReading configuration from b4.conf\n/tmp/bt/inc4.conf:1:29 syntax error\n";
    for success in [true, false] {
        let err = judge_birdc_output(success, out, "").unwrap_err();
        assert_eq!(err.text, "/tmp/bt/inc4.conf:1:29 syntax error");
        assert_eq!(err.code, None);
        assert_eq!(err.to_string(), "/tmp/bt/inc4.conf:1:29 syntax error");
    }
}

#[test]
fn plain_birdc_shutting_down() {
    let out = "BIRD 2.0.12 ready.\nReading configuration from x\nReconfiguration ignored, shutting down\n";
    let err = judge_birdc_output(true, out, "").unwrap_err();
    assert_eq!(err.code, Some(6));
}

#[test]
fn birdc_cannot_connect() {
    let err = judge_birdc_output(
        false,
        "",
        "Unable to connect to server control socket (/run/bird/bird.ctl): No such file or directory\n",
    )
    .unwrap_err();
    assert_eq!(
        err.text,
        "Unable to connect to server control socket (/run/bird/bird.ctl): No such file or directory"
    );
    let err = judge_birdc_output(false, "", "").unwrap_err();
    assert_eq!(err.text, "no output");
}

#[test]
fn birdc_no_such_command() {
    let err = judge_birdc_output(
        false,
        "BIRD 2.0.12 ready.\nNo such command. Press `?' for help.\n",
        "",
    )
    .unwrap_err();
    assert_eq!(err.text, "No such command. Press `?' for help.");
}

#[test]
fn verbose_birdc_output() {
    let ok =
        "0001 BIRD 2.0.12 ready.\n0002-Reading configuration from bird.conf\n0003 Reconfigured\n";
    assert_eq!(judge_birdc_output(true, ok, ""), Ok(Accepted::Reconfigured));
    // A success text with a failing exit status is still a failure.
    assert!(judge_birdc_output(false, ok, "").is_err());
    let bad = "0001 BIRD 2.0.12 ready.\n0002-Reading configuration from bird.conf\n8002 /tmp/bt/inc.conf:1:42 Invalid prefix length 33\n";
    let err = judge_birdc_output(false, bad, "").unwrap_err();
    assert_eq!(err.code, Some(8002));
    assert_eq!(err.text, "/tmp/bt/inc.conf:1:42 Invalid prefix length 33");
    // BIRD 1.6.8's birdc -v exits 0 after 8002.
    let err = judge_birdc_output(true, bad, "").unwrap_err();
    assert_eq!(err.code, Some(8002));
    // Only the greeting: the command never got its reply.
    let err = judge_birdc_output(true, "0001 BIRD 2.0.12 ready.\n", "").unwrap_err();
    assert_eq!(err.code, Some(1));
    // Cut off mid-reply.
    let err = judge_birdc_output(false, "0002-Reading configuration from x\n", "").unwrap_err();
    assert_eq!(err.code, None);
}

#[test]
fn other_commands_are_judged_by_exit_status() {
    assert_eq!(judge_birdc_output(true, "", ""), Ok(Accepted::Reconfigured));
    assert_eq!(
        judge_birdc_output(true, "reloading bird\n", ""),
        Ok(Accepted::Reconfigured)
    );
    let err = judge_birdc_output(false, "", "Failed to reload bird.service\n").unwrap_err();
    assert_eq!(err.text, "Failed to reload bird.service");
    let err = judge_birdc_output(false, "oops\n", "").unwrap_err();
    assert_eq!(err.text, "oops");
}

#[test]
fn largest_table_of_a_route_count() {
    let bird2 = Reply {
        lines: vec![
            (1007, "1 of 1 routes for 1 networks in table master4".into()),
            (
                1007,
                "1006 of 1006 routes for 1006 networks in table master6".into(),
            ),
            (
                14,
                "Total: 1007 of 1007 routes for 1007 networks in 2 tables".into(),
            ),
        ],
    };
    assert_eq!(largest_table(&bird2), Some(1006));
    let bird1 = Reply {
        lines: vec![(14, "Total: 12 of 13 routes for 12 networks".into())],
    };
    assert_eq!(largest_table(&bird1), Some(13));
    let other = Reply {
        lines: vec![(13, "Daemon is up and running".into())],
    };
    assert_eq!(largest_table(&other), None);
}
