//! Tests of `man`.
use super::markdown::*;
use super::roff::*;
use super::*;

#[test]
fn escapes_backslashes_hyphens_and_non_ascii() {
    assert_eq!(escape(r"a\b"), r"a\eb");
    assert_eq!(escape("--config"), r"\-\-config");
    assert_eq!(
        escape("unknown → up, 1–1000"),
        r"unknown \(-> up, 1\(en1000"
    );
    assert_eq!(escape("☃"), r"\[u2603]");
    assert_eq!(escape("ASCII only."), "ASCII only.");
}

#[test]
fn inline_markup() {
    assert_eq!(inline("`a-b`"), r"\fBa\-b\fR");
    assert_eq!(
        inline("**Flap dampening** keeps"),
        r"\fBFlap dampening\fR keeps"
    );
    assert_eq!(inline("held *suppressed*: x"), r"held \fIsuppressed\fR: x");
    assert_eq!(inline("see [FRR setup](#frr-setup)."), "see FRR setup.");
    assert_eq!(inline("``a ` b``"), r"\fBa ` b\fR");
    // Stray markers stay text.
    assert_eq!(inline("2 * 3 and `open"), "2 * 3 and `open");
    assert_eq!(inline(r"\*not\*"), "*not*");
    // Code is not markdown inside.
    assert_eq!(inline("`*.toml`"), r"\fB*.toml\fR");
}

#[test]
fn a_line_that_starts_with_a_dot_stays_text() {
    let page = markdown("the file\n.toml at the start of a line\n");
    assert!(page.contains("\n\\&.toml at the start"), "{page}");
    let page = markdown("```\n.hidden\n'quote\n```\n");
    assert_eq!(page, ".EX\n\\&.hidden\n\\&'quote\n.EE\n");
}

#[test]
fn table_rows_become_tagged_paragraphs() {
    let md = "\
| key | default | meaning |
| --- | --- | --- |
| `state_dir` | `\"/var/lib/x\"` | the daemon's own state |
| `listen_port` | `179` | |
| `a \\| b` | unset | either |
";
    assert_eq!(
        markdown(md),
        "\
.TP
\\fBstate_dir\\fR
\\fIdefault:\\fR \\fB\"/var/lib/x\"\\fR
.br
the daemon's own state
.TP
\\fBlisten_port\\fR
\\fIdefault:\\fR \\fB179\\fR
.TP
\\fBa | b\\fR
\\fIdefault:\\fR unset
.br
either
"
    );
}

#[test]
fn a_row_with_only_a_tag_keeps_a_body() {
    assert_eq!(
        markdown("| key | meaning |\n| --- | --- |\n| `x` | |\n"),
        ".TP\n\\fBx\\fR\n\\&\n"
    );
}

#[test]
fn headings_paragraphs_and_lists() {
    let md = "# Title\n\n## Exit status\n\n### `[daemon]`\n\nOne\nparagraph.\n\nTwo.\n\n- an item\n  that runs on\n- another\n";
    assert_eq!(
        markdown(md),
        "\
.SH \"EXIT STATUS\"
.SS \"[daemon]\"
One
paragraph.
.PP
Two.
.IP \\(bu 2
an item
that runs on
.IP \\(bu 2
another
"
    );
}

/// Every key of every table in docs/configuration.md is a tag in the (5) page: the page
/// cannot lose a key the docs have.
#[test]
fn the_toml_page_has_every_key_of_the_docs() {
    let page = page5("2026-01-01");
    let mut keys = 0;
    let mut in_table = 0;
    for line in CONFIGURATION_MD.lines() {
        if !line.starts_with('|') {
            in_table = 0;
            continue;
        }
        in_table += 1;
        if in_table <= 2 {
            continue; // header and --- line
        }
        let first = cells(line).into_iter().next().unwrap_or_default();
        let tag = format!(".TP\n{}\n", guard(&inline(&first)));
        assert!(page.contains(&tag), "the page lacks {first:?}");
        keys += 1;
    }
    // [daemon] alone has 10 keys; a broken parse would find none.
    assert!(
        keys > 100,
        "only {keys} keys found in docs/configuration.md"
    );
    for table in ["[daemon]", "[[service.check]]", "[bird]", "[[bgp.peer]]"] {
        assert!(page.contains(&format!(".SS \"{table}\"\n")), "{table}");
    }
}

#[test]
fn the_admin_page_has_every_command_and_option() {
    let page = page8("2026-01-01");
    assert!(page.starts_with(".TH ANYCAST\\-WARDEN 8 \"2026-01-01\" \"anycast\\-warden "));
    for section in [
        "SYNOPSIS",
        "OPTIONS",
        "COMMANDS",
        "\"SIGNALS\"",
        "\"FILES\"",
        "\"EXIT STATUS\"",
        "\"EXAMPLES\"",
    ] {
        assert!(page.contains(&format!("\n.SH {section}\n")), "{section}");
    }
    let cmd = Cli::command();
    for sub in cmd.get_subcommands() {
        assert!(
            page.contains(&format!(".SS {}\n", escape(sub.get_name()))),
            "{}",
            sub.get_name()
        );
        for arg in sub.get_arguments().filter(|a| !a.is_global_set()) {
            if let Some(long) = arg.get_long() {
                let flag = format!("\\fB\\-\\-{}\\fR", escape(long));
                assert!(page.contains(&flag), "{} {long}", sub.get_name());
            }
        }
    }
    assert!(page.contains("\\fBSIGHUP\\fR"));
    assert!(page.contains("/var/lib/anycast\\-warden/control.sock"));
}

#[test]
fn dates() {
    assert_eq!(iso_date(0), "1970-01-01");
    assert_eq!(iso_date(951_782_400), "2000-02-29");
    assert_eq!(iso_date(1_798_675_200), "2026-12-31");
}
