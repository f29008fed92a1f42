//! The framing of FRR's vty socket protocol (what vtysh speaks to each daemon): a command
//! goes out as its text and one NUL byte; its reply comes back as the command's output,
//! three NUL bytes and one byte holding the return code (`CMD_SUCCESS` = 0, ...). Pure.
//!
//! Commands are pipelined: a daemon reads them in order and answers each in turn, so a
//! whole batch is written at once and the replies are matched to the commands by order.

/// One command's reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VtyReply {
    pub output: String,
    pub code: u8,
}

impl VtyReply {
    /// `CMD_SUCCESS` (0) or `CMD_SUCCESS_DAEMON` (10), which vtysh also counts as success.
    pub fn succeeded(&self) -> bool {
        matches!(self.code, 0 | 10)
    }

    /// FRR's name for the return code, for error messages.
    pub fn code_name(&self) -> &'static str {
        match self.code {
            0 => "CMD_SUCCESS",
            1 => "CMD_WARNING",
            2 => "CMD_ERR_NO_MATCH",
            3 => "CMD_ERR_AMBIGUOUS",
            4 => "CMD_ERR_INCOMPLETE",
            5 => "CMD_ERR_EXEED_ARGC_MAX",
            6 => "CMD_ERR_NOTHING_TODO",
            10 => "CMD_SUCCESS_DAEMON",
            11 => "CMD_ERR_NO_FILE",
            13 => "CMD_WARNING_CONFIG_FAILED",
            14 => "CMD_NOT_MY_INSTANCE",
            16 => "CMD_ERR_NO_DAEMON",
            _ => "an unknown return code",
        }
    }
}

/// A command that cannot be sent: the protocol ends a command at NUL, and the daemon would
/// read a newline as the end of the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the command {0:?} holds a NUL or newline; it cannot go over a vty socket")]
pub struct UnsendableCommand(pub String);

/// The bytes that send `commands`, in order.
pub fn encode(commands: &[String]) -> Result<Vec<u8>, UnsendableCommand> {
    let mut out = Vec::with_capacity(commands.iter().map(|c| c.len() + 1).sum());
    for command in commands {
        if command.contains(['\0', '\n', '\r']) {
            return Err(UnsendableCommand(command.clone()));
        }
        out.extend_from_slice(command.as_bytes());
        out.push(0);
    }
    Ok(out)
}

/// Splits the byte stream from a daemon into replies, however the reads cut it.
#[derive(Debug, Default)]
pub struct ReplyDecoder {
    pending: Vec<u8>,
    /// How far `pending` has been searched for the terminator, so a long output arriving
    /// in many reads is scanned once.
    scanned: usize,
}

const TERMINATOR: [u8; 3] = [0, 0, 0];

impl ReplyDecoder {
    /// Takes the next bytes; returns the replies they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<VtyReply> {
        self.pending.extend_from_slice(bytes);
        let mut replies = Vec::new();
        loop {
            // The terminator and its code byte: 4 bytes after the output.
            let from = self.scanned.saturating_sub(TERMINATOR.len() - 1);
            let Some(at) = self.pending[from..]
                .windows(TERMINATOR.len())
                .position(|w| w == TERMINATOR)
                .map(|i| from + i)
            else {
                self.scanned = self.pending.len();
                break;
            };
            let Some(&code) = self.pending.get(at + TERMINATOR.len()) else {
                // The code byte has not arrived yet; search from the terminator again.
                self.scanned = at;
                break;
            };
            let output = String::from_utf8_lossy(&self.pending[..at]).into_owned();
            self.pending.drain(..at + TERMINATOR.len() + 1);
            self.scanned = 0;
            replies.push(VtyReply { output, code });
        }
        replies
    }

    /// Bytes received that do not (yet) make a whole reply.
    #[cfg(test)]
    fn has_partial(&self) -> bool {
        !self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(output: &str, code: u8) -> VtyReply {
        VtyReply {
            output: output.into(),
            code,
        }
    }

    #[test]
    fn encode_ends_each_command_with_nul_and_refuses_line_breaks() {
        let commands = vec!["enable".to_string(), "show running-config".to_string()];
        assert_eq!(encode(&commands).unwrap(), b"enable\0show running-config\0");
        assert_eq!(encode(&[]).unwrap(), b"");
        for bad in ["a\nb", "a\0b", "a\rb"] {
            assert_eq!(
                encode(&[bad.to_string()]),
                Err(UnsendableCommand(bad.to_string()))
            );
        }
    }

    #[test]
    fn replies_split_at_the_terminator_with_their_codes() {
        let stream = b"\0\0\0\0% [BGP] Unknown command: x\n\0\0\0\x02BGP is already running; AS is 65001\n\0\0\0\x0d";
        let mut d = ReplyDecoder::default();
        assert_eq!(
            d.push(stream),
            vec![
                reply("", 0),
                reply("% [BGP] Unknown command: x\n", 2),
                reply("BGP is already running; AS is 65001\n", 13),
            ]
        );
        assert!(!d.has_partial());
    }

    #[test]
    fn every_cut_of_the_stream_gives_the_same_replies() {
        let stream: &[u8] = b"out one\n\0\0\0\0\0\0\0\x01line\nline2\n\0\0\0\x0a";
        let want = vec![
            reply("out one\n", 0),
            reply("", 1),
            reply("line\nline2\n", 10),
        ];
        for cut in 0..=stream.len() {
            for second in cut..=stream.len() {
                let mut d = ReplyDecoder::default();
                let mut got = d.push(&stream[..cut]);
                got.extend(d.push(&stream[cut..second]));
                got.extend(d.push(&stream[second..]));
                assert_eq!(got, want, "cut at {cut} and {second}");
                assert!(!d.has_partial());
            }
        }
        // One byte at a time.
        let mut d = ReplyDecoder::default();
        let got: Vec<VtyReply> = stream.iter().flat_map(|b| d.push(&[*b])).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn an_unfinished_reply_is_kept_back() {
        let mut d = ReplyDecoder::default();
        assert!(d.push(b"partial output\0\0").is_empty());
        assert!(d.has_partial());
        assert!(d.push(b"\0").is_empty());
        assert_eq!(d.push(b"\x00rest"), vec![reply("partial output", 0)]);
        assert!(d.has_partial());
    }

    #[test]
    fn codes_have_names_and_success_is_0_or_10() {
        assert!(reply("", 0).succeeded() && reply("", 10).succeeded());
        for code in [1, 2, 3, 4, 13, 16, 200] {
            assert!(!reply("", code).succeeded(), "{code}");
        }
        assert_eq!(reply("", 13).code_name(), "CMD_WARNING_CONFIG_FAILED");
        assert_eq!(reply("", 2).code_name(), "CMD_ERR_NO_MATCH");
        assert_eq!(reply("", 99).code_name(), "an unknown return code");
    }
}
