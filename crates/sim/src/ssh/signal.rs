//! SSH signal names (RFC 4254 §6.10, without the `SIG` prefix) and Linux signal numbers.

use russh::Sig;

/// Linux signal numbers (x86, arm, riscv numbering) and their SSH names.
const SIGNALS: &[(i32, &str)] = &[
    (1, "HUP"),
    (2, "INT"),
    (3, "QUIT"),
    (4, "ILL"),
    (5, "TRAP"),
    (6, "ABRT"),
    (7, "BUS"),
    (8, "FPE"),
    (9, "KILL"),
    (10, "USR1"),
    (11, "SEGV"),
    (12, "USR2"),
    (13, "PIPE"),
    (14, "ALRM"),
    (15, "TERM"),
    (16, "STKFLT"),
    (17, "CHLD"),
    (18, "CONT"),
    (19, "STOP"),
    (20, "TSTP"),
    (21, "TTIN"),
    (22, "TTOU"),
    (23, "URG"),
    (24, "XCPU"),
    (25, "XFSZ"),
    (26, "VTALRM"),
    (27, "PROF"),
    (28, "WINCH"),
    (29, "IO"),
    (30, "PWR"),
    (31, "SYS"),
];

/// SIGHUP, sent to a terminal session's process group when its client goes away.
pub(super) const SIGHUP: i32 = 1;
/// SIGKILL, for a process that was started but could not be wired to its channel.
pub(super) const SIGKILL: i32 = 9;

/// The signal number an SSH `signal` request names, if it is a known signal.
pub(super) fn number(sig: &Sig) -> Option<i32> {
    let name = match sig {
        Sig::ABRT => "ABRT",
        Sig::ALRM => "ALRM",
        Sig::FPE => "FPE",
        Sig::HUP => "HUP",
        Sig::ILL => "ILL",
        Sig::INT => "INT",
        Sig::KILL => "KILL",
        Sig::PIPE => "PIPE",
        Sig::QUIT => "QUIT",
        Sig::SEGV => "SEGV",
        Sig::TERM => "TERM",
        Sig::USR1 => "USR1",
        Sig::Custom(name) => name.strip_prefix("SIG").unwrap_or(name),
    };
    SIGNALS
        .iter()
        .find(|(_, known)| *known == name)
        .map(|(n, _)| *n)
}

/// The SSH `exit-signal` name of a signal number (`"KILL"` for 9).
pub(super) fn sig(number: i32) -> Sig {
    match SIGNALS
        .iter()
        .find(|(n, _)| *n == number)
        .map(|(_, name)| *name)
    {
        Some("ABRT") => Sig::ABRT,
        Some("ALRM") => Sig::ALRM,
        Some("FPE") => Sig::FPE,
        Some("HUP") => Sig::HUP,
        Some("ILL") => Sig::ILL,
        Some("INT") => Sig::INT,
        Some("KILL") => Sig::KILL,
        Some("PIPE") => Sig::PIPE,
        Some("QUIT") => Sig::QUIT,
        Some("SEGV") => Sig::SEGV,
        Some("TERM") => Sig::TERM,
        Some("USR1") => Sig::USR1,
        Some(other) => Sig::Custom(other.to_owned()),
        None => Sig::Custom(format!("SIG{number}@tether")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_round_trip() {
        for (n, _) in SIGNALS {
            assert_eq!(number(&sig(*n)), Some(*n));
        }
    }

    #[test]
    fn well_known_signals_use_their_rfc_names() {
        assert!(matches!(sig(9), Sig::KILL));
        assert!(matches!(sig(15), Sig::TERM));
        assert!(matches!(sig(12), Sig::Custom(ref n) if n == "USR2"));
        assert_eq!(number(&Sig::INT), Some(2));
        assert_eq!(number(&Sig::Custom("SIGWINCH".into())), Some(28));
        assert_eq!(number(&Sig::Custom("NOPE".into())), None);
    }
}
